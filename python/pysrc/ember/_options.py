"""Turning Gymnasium kwargs into Ember's ``key=value`` options."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _ember


def to_pairs(env_id: str, options: dict[str, Any]) -> list[tuple[str, str]]:
    """Formats kwargs as Ember option strings and validates them; raises ``ValueError`` naming the
    bad option and the accepted values."""
    pairs = []
    for key, value in options.items():
        # numpy scalars (np.int64, np.bool_, np.float32) are what array code hands over.
        if isinstance(value, np.generic) and value.shape == ():
            value = value.item()
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


def check_seed(seed):
    """``seed`` as a Python int in ``0..2**64`` (a numpy integer is accepted), or ``None``; raises
    ``TypeError`` for a non-integer and ``ValueError`` outside that range, as Gymnasium refuses
    seeds rather than wrapping them."""
    if seed is None:
        return None
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"a seed must be an integer, not {type(seed).__name__}")
    seed = int(seed)
    if not 0 <= seed < 2**64:
        raise ValueError(f"seed {seed} is out of range: seeds are integers in [0, 2**64)")
    return seed


def to_action(action, n: int) -> int:
    """One discrete action as a Python int: a Python int, a numpy integer scalar or a 0-d integer
    array (what ``Discrete(n).contains`` accepts). Anything else (a float, a string, a bool, an
    array with elements) raises ``TypeError``; an integer outside ``0..n`` raises ``ValueError``."""
    if isinstance(action, np.ndarray) and action.shape == () and np.issubdtype(action.dtype, np.integer):
        action = action.item()
    elif isinstance(action, np.integer):
        action = int(action)
    if isinstance(action, bool) or not isinstance(action, int):
        what = f"an array of shape {action.shape}" if isinstance(action, np.ndarray) else type(action).__name__
        raise TypeError(f"an action must be an integer in [0, {n}), not {what}")
    if not 0 <= action < n:
        raise ValueError(f"invalid action {action}: the action space is Discrete({n})")
    return action


def rust_seed(env, seed):
    """The seed for the Rust side of a reset: ``seed`` itself (checked by ``check_seed``), or for an
    env never seeded a draw from ``env.np_random`` (Gymnasium's convention: unseeded envs are
    random), or ``None`` to continue the Rust generator. Call after ``super().reset(seed=seed)``."""
    if seed is None and not env._seeded:
        seed = int(env.np_random.integers(0, 2**63 - 1))
    if seed is None:
        return None
    env._seeded = True
    return check_seed(seed)
