"""``EmberEnv``: one Ember environment as a ``gymnasium.Env``."""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

from . import _ember
from ._options import check_seed, rust_seed, to_action, to_pairs


class EmberEnv(gymnasium.Env):
    """A Rust environment from Ember's registry behind Gymnasium's API.

    Observations are ``float32`` boxes (0/1 planes for the grid games). ``reset(seed=s)`` seeds the
    Rust environment, so the same seed and actions give the same episode; an env never seeded draws
    its first seed from ``self.np_random`` (Gymnasium's convention for unseeded envs). Environments
    with legal-action masks (Go) report ``info["action_mask"]``.
    """

    metadata = {"render_modes": ["rgb_array", "ansi"], "render_fps": 15}

    def __init__(self, env_id: str, render_mode: str | None = None, **options: Any):
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode {render_mode!r} is not supported; use one of {self.metadata['render_modes']}"
            )
        self.env_id = env_id
        self.render_mode = render_mode
        self._raw = _ember.RawEnv(env_id, to_pairs(env_id, options))
        shape, low, high = self._raw.observation_space
        self.observation_space = spaces.Box(low=low, high=high, shape=tuple(shape), dtype=np.float32)
        self.action_space = spaces.Discrete(self._raw.n_actions)
        self._seeded = False

    def _info(self) -> dict:
        mask = self._raw.action_mask()
        return {} if mask is None else {"action_mask": mask}

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        check_seed(seed)
        super().reset(seed=seed)
        seed = rust_seed(self, seed)
        obs = self._raw.reset(seed)
        return obs, self._info()

    def step(self, action):
        action = to_action(action, self.action_space.n)
        obs, reward, terminated, truncated = self._raw.step(action)
        return obs, float(reward), bool(terminated), bool(truncated), self._info()

    def render(self):
        if self.render_mode == "rgb_array":
            return self._raw.render_rgb()
        if self.render_mode == "ansi":
            return self._raw.render_text()
        return None

    def close(self):
        pass
