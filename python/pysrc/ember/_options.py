"""Turning Gymnasium kwargs into Ember's ``key=value`` options."""

from __future__ import annotations

from typing import Any

from . import _ember


def to_pairs(env_id: str, options: dict[str, Any]) -> list[tuple[str, str]]:
    """Formats kwargs as Ember option strings and validates them; raises ``ValueError`` naming the
    bad option and the accepted values."""
    pairs = []
    for key, value in options.items():
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, (int, float, str)):
            text = str(value)
        else:
            raise ValueError(
                f"option `{key}` of {env_id} must be a bool, number or string, not {type(value).__name__}"
            )
        pairs.append((key, text))
    _ember.check_options(env_id, pairs)
    return pairs
