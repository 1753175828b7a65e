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


def rust_seed(env, seed):
    """The seed for the Rust side of a reset: ``seed`` itself (wrapped to 64 bits), or for an env
    never seeded a draw from ``env.np_random`` (Gymnasium's convention: unseeded envs are random),
    or ``None`` to continue the Rust generator. Call after ``super().reset(seed=seed)``."""
    if seed is None and not env._seeded:
        seed = int(env.np_random.integers(0, 2**63 - 1))
    if seed is None:
        return None
    env._seeded = True
    return int(seed) % 2**64
