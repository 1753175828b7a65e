"""Ember's environments through Gymnasium: the checker, seeding, vector envs, wrappers, errors."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from gymnasium.vector import AutoresetMode

import ember

GAMES = ["Breakout-v0", "SpaceInvaders-v0", "Freeway-v0", "Asterix-v0", "Seaquest-v0"]
ALL_IDS = ember.ids()


def test_every_id_is_registered_under_the_namespace():
    for env_id in ALL_IDS:
        assert f"ember/{env_id}" in gym.registry
    for env_id in GAMES + ["CartPole-v1"]:
        assert env_id in ALL_IDS


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_check_env(env_id):
    env = gym.make(f"ember/{env_id}")
    check_env(env.unwrapped, skip_render_check=False)
    env.close()
    env.close()  # closing twice is harmless


@pytest.mark.parametrize("mode", ["rgb_array", "ansi"])
def test_render_modes(mode):
    env = gym.make("ember/Breakout-v0", render_mode=mode)
    env.reset(seed=0)
    frame = env.render()
    if mode == "rgb_array":
        assert frame.dtype == np.uint8 and frame.shape == (10, 10, 3)
    else:
        assert isinstance(frame, str) and len(frame.splitlines()) == 10


def test_spaces_match_minatar_layout():
    env = gym.make("ember/Seaquest-v0")
    assert env.observation_space.shape == (10, 10, 10)
    assert env.observation_space.dtype == np.float32
    assert env.action_space.n == 6
    assert gym.make("ember/Asterix-v0", minimal_actions=True).action_space.n == 5


def run(env, seed, steps=200):
    obs, _ = env.reset(seed=seed)
    out = [obs.copy()]
    rng = np.random.default_rng(0)
    for _ in range(steps):
        obs, r, term, trunc, _ = env.step(int(rng.integers(env.action_space.n)))
        out.append((obs.copy(), r, term, trunc))
        if term or trunc:
            obs, _ = env.reset()
            out.append(obs.copy())
    return out


def same(a, b):
    for x, y in zip(a, b):
        if isinstance(x, tuple):
            assert np.array_equal(x[0], y[0]) and x[1:] == y[1:]
        else:
            assert np.array_equal(x, y)


def test_seeded_determinism():
    a = run(gym.make("ember/SpaceInvaders-v0"), 7)
    b = run(gym.make("ember/SpaceInvaders-v0"), 7)
    same(a, b)
    c = run(gym.make("ember/SpaceInvaders-v0"), 8)
    assert any(not np.array_equal(x[0] if isinstance(x, tuple) else x, y[0] if isinstance(y, tuple) else y)
               for x, y in zip(a, c))


def test_observations_are_fresh_arrays():
    env = gym.make("ember/Breakout-v0")
    o1, _ = env.reset(seed=0)
    o2, *_ = env.step(0)
    assert o1 is not o2 and not np.shares_memory(o1, o2)


def test_kwargs_errors_name_the_option():
    with pytest.raises(ValueError, match="sticky_action_prob"):
        gym.make("ember/Breakout-v0", sticky_action_prob=3)
    with pytest.raises(ValueError, match="unknown option `speed`"):
        gym.make("ember/Breakout-v0", speed=2)
    with pytest.raises(ValueError, match="render_mode"):
        ember.EmberEnv("Breakout-v0", render_mode="bogus")
    with pytest.raises(ValueError, match="must be a bool, number or string"):
        gym.make("ember/Breakout-v0", sticky_action_prob=[0.1])


def test_numpy_scalars_are_accepted_as_options():
    # What array code hands over: np.int64, np.float64, np.bool_ (and np.str_) kwargs.
    a = gym.make("ember/CartPole-v1", max_steps=np.int64(3)).unwrapped
    a.reset(seed=3)
    ends = [a.step(0)[3] for _ in range(3)]
    assert ends == [False, False, True]
    b = gym.make(
        "ember/Breakout-v0",
        sticky_action_prob=np.float64(0.0),
        minimal_actions=np.bool_(True),
        difficulty_ramping=np.bool_(False),
    ).unwrapped
    c = gym.make("ember/Breakout-v0", sticky_action_prob=0.0, minimal_actions=True, difficulty_ramping=False).unwrapped
    assert b.action_space.n == c.action_space.n < 6
    gym.make("ember/Go5x5-v0", color=np.str_("white"))


def test_seeds_outside_64_bits_are_refused():
    env = gym.make("ember/Breakout-v0").unwrapped
    with pytest.raises(ValueError, match="out of range"):
        env.reset(seed=2**64 + 5)
    with pytest.raises(TypeError, match="a seed must be an integer"):
        env.reset(seed=1.5)
    a, _ = env.reset(seed=2**64 - 1)
    b, _ = env.reset(seed=2**64 - 1)
    assert np.array_equal(a, b)
    venv = ember.EmberVectorEnv("Breakout-v0", num_envs=2)
    with pytest.raises(ValueError, match="out of range"):
        venv.reset(seed=[0, 2**64])
    with pytest.raises(ValueError, match="out of range"):
        venv.reset(seed=2**64 + 5)


def test_bad_actions_and_misuse_raise():
    env = gym.make("ember/Breakout-v0").unwrapped
    with pytest.raises(RuntimeError, match="reset"):
        env.step(0)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="invalid action 6"):
        env.step(6)
    with pytest.raises(ValueError, match="invalid action -1"):
        env.step(-1)
    # Only integers are actions (what action_space.contains accepts), never truncated floats.
    for bad in [1.7, -0.5, "1", True, np.array([1]), np.array(1.0), np.float64(1.0), None]:
        assert not env.action_space.contains(bad) or isinstance(bad, bool)
        with pytest.raises(TypeError, match="an action must be an integer"):
            env.step(bad)
    for good in [1, np.int64(1), np.int8(1), np.uint32(1), np.array(1)]:
        assert env.action_space.contains(good)
        env.step(good)
    with pytest.raises(ValueError, match="invalid action 6"):
        env.step(np.int64(6))
    venv = ember.EmberVectorEnv("Breakout-v0", num_envs=2)
    venv.reset(seed=0)
    with pytest.raises(TypeError, match="actions must be integers"):
        venv.step(np.array([0.5, 1.2]))
    venv.step(np.array([0, 1], dtype=np.int32))
    env2 = gym.make("ember/CartPole-v1", max_steps=1).unwrapped
    env2.reset(seed=0)
    assert env2.step(0)[3] is True
    with pytest.raises(RuntimeError, match="ended"):
        env2.step(0)


def test_vector_env_is_rust_backed_with_next_step_autoreset():
    venv = gym.make_vec("ember/Breakout-v0", num_envs=4, vectorization_mode="vector_entry_point")
    assert isinstance(venv.unwrapped, ember.EmberVectorEnv)
    assert venv.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    assert venv.observation_space.shape == (4, 4, 10, 10)
    venv.close()


def test_vector_env_equals_single_envs_stepped_by_hand():
    n = 4
    venv = ember.EmberVectorEnv("Breakout-v0", num_envs=n, threads=2)
    singles = [ember.EmberEnv("Breakout-v0") for _ in range(n)]
    seeds = [11, 12, 13, 14]
    obs, _ = venv.reset(seed=seeds)
    for i, e in enumerate(singles):
        o, _ = e.reset(seed=seeds[i])
        assert np.array_equal(obs[i], o)
    ended = [False] * n
    rng = np.random.default_rng(1)
    resets = 0
    for _ in range(300):
        acts = rng.integers(6, size=n)
        obs, rew, term, trunc, _ = venv.step(acts)
        for i, e in enumerate(singles):
            if ended[i]:
                o, _ = e.reset()
                assert np.array_equal(obs[i], o) and rew[i] == 0 and not term[i] and not trunc[i]
                ended[i] = False
                resets += 1
            else:
                o, r, te, tr, _ = e.step(int(acts[i]))
                assert np.array_equal(obs[i], o) and rew[i] == r and term[i] == te and trunc[i] == tr
                ended[i] = te or tr
    assert resets > 3


def test_gymnasium_wrappers_on_top():
    env = gym.wrappers.RecordEpisodeStatistics(gym.make("ember/Breakout-v0"))
    env = gym.wrappers.FrameStackObservation(env, 4)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (4, 4, 10, 10)
    for _ in range(10_000):
        obs, r, term, trunc, info = env.step(env.action_space.sample())
        if term or trunc:
            assert "episode" in info and info["episode"]["l"] >= 1
            break
    else:
        pytest.fail("no episode ended")
