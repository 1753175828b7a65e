"""``EmberVectorEnv``: N Ember environments stepped by Rust threads, as a Gymnasium ``VectorEnv``."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from . import _ember
from ._options import check_seed, rust_seed, to_pairs


class EmberVectorEnv(VectorEnv):
    """``num_envs`` copies of one Ember environment, stepped in lockstep on Rust threads (the GIL is
    released while they step), returning one numpy batch per call. ``threads`` sets the number of
    Rust threads (default: one below 32 envs, else up to one per core). Autoreset is Gymnasium's default
    next-step mode: the step after an episode ends returns the reset observation, reward 0 and both
    flags false, and ignores that env's action."""

    metadata = {"render_modes": [], "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(self, env_id: str, num_envs: int = 1, threads: int | None = None,
                 render_mode: str | None = None, **options: Any):
        if render_mode is not None:
            raise ValueError("EmberVectorEnv does not render; render a single EmberEnv instead")
        if num_envs < 1:
            raise ValueError(f"num_envs must be at least 1, got {num_envs}")
        if threads is None:
            # Waking worker threads costs microseconds, more than stepping a few dozen grid games:
            # threads pay off only for large batches (or expensive envs: pass `threads=` yourself).
            threads = 1 if num_envs < 32 else min(num_envs // 16, os.cpu_count() or 1)
        self.env_id = env_id
        self.num_envs = num_envs
        self.render_mode = None
        self._raw = _ember.RawVecEnv(env_id, to_pairs(env_id, options), num_envs, threads)
        probe = _ember.RawEnv(env_id, to_pairs(env_id, options))
        shape, low, high = probe.observation_space
        self.single_observation_space = spaces.Box(low=low, high=high, shape=tuple(shape), dtype=np.float32)
        self.single_action_space = spaces.Discrete(probe.n_actions)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self._seeded = False

    def reset(self, *, seed: int | list[int | None] | None = None, options: dict | None = None):
        if isinstance(seed, (list, tuple)):
            if len(seed) != self.num_envs:
                raise ValueError(f"expected {self.num_envs} seeds, got {len(seed)}")
            super().reset(seed=None)
            obs = self._raw.reset(None, [check_seed(s) for s in seed])
            self._seeded = True
            return obs, {}
        check_seed(seed)
        super().reset(seed=seed)
        seed = rust_seed(self, seed)
        return self._raw.reset(seed), {}

    def step(self, actions):
        actions = np.asarray(actions)
        if actions.shape != (self.num_envs,):
            raise ValueError(f"expected {self.num_envs} actions, got shape {actions.shape}")
        if not np.issubdtype(actions.dtype, np.integer) or actions.dtype == np.bool_:
            raise TypeError(f"actions must be integers, not {actions.dtype}")
        obs, rewards, terminated, truncated = self._raw.step(actions.astype(np.int64, copy=False))
        # float64 rewards, as Gymnasium's own vector envs return them.
        return obs, rewards.astype(np.float64), terminated, truncated, {}

    def close_extras(self, **kwargs):
        pass
