"""Ember's Rust environments as Gymnasium environments.

``import ember`` registers every id of Ember's registry under the ``ember/`` namespace::

    import gymnasium as gym
    import ember

    env = gym.make("ember/Breakout-v0", sticky_action_prob=0.0)      # options become kwargs
    obs, info = env.reset(seed=0)
    envs = gym.make_vec("ember/Breakout-v0", num_envs=16,
                        vectorization_mode="vector_entry_point")     # Rust threads, one numpy batch
"""

from __future__ import annotations

import gymnasium

from . import _ember
from .env import EmberEnv
from .vector import EmberVectorEnv

__all__ = ["EmberEnv", "EmberVectorEnv", "ids", "specs", "register_all"]


def ids() -> list[str]:
    """Every id of Ember's registry (without the ``ember/`` namespace)."""
    return list(_ember.ids())


def specs() -> list[dict]:
    """The registry: id, description and options (name, kind, default, accepted values, help)."""
    return list(_ember.specs())


def register_all() -> None:
    """Registers every Ember id with Gymnasium as ``ember/<id>`` (idempotent)."""
    for env_id in ids():
        full = f"ember/{env_id}"
        if full in gymnasium.registry:
            continue
        gymnasium.register(
            id=full,
            entry_point="ember.env:EmberEnv",
            vector_entry_point="ember.vector:EmberVectorEnv",
            kwargs={"env_id": env_id},
            # Time limits are Ember's own `max_steps` option, applied in Rust, so that single and
            # vector envs truncate alike; Gymnasium adds no TimeLimit of its own.
            max_episode_steps=None,
            disable_env_checker=False,
        )


register_all()
