"""Steps per second through Gymnasium: Ember's envs (single and vector) against MinAtar's own
Gymnasium wrapper, in one run. Random actions, episodes reset as they end.

usage: python bench_gym.py [--steps N] [--num-envs N] [--games breakout,space_invaders,...]
"""

import argparse
import json
import time

import gymnasium as gym
import numpy as np

import ember  # noqa: F401  (registers ember/*)

IDS = {"breakout": "Breakout-v0", "space_invaders": "SpaceInvaders-v0", "freeway": "Freeway-v0",
       "asterix": "Asterix-v0", "seaquest": "Seaquest-v0"}


def time_single(env, steps, seed=0):
    env.reset(seed=seed)
    acts = np.random.default_rng(seed).integers(env.action_space.n, size=steps)
    t0 = time.perf_counter()
    for a in acts:
        _, _, term, trunc, _ = env.step(int(a))
        if term or trunc:
            env.reset()
    return steps / (time.perf_counter() - t0)


def time_vector(venv, steps, seed=0):
    n = venv.num_envs
    venv.reset(seed=seed)
    rng = np.random.default_rng(seed)
    batches = max(1, steps // n)
    acts = rng.integers(venv.single_action_space.n, size=(batches, n))
    t0 = time.perf_counter()
    for a in acts:
        venv.step(a)
    return batches * n / (time.perf_counter() - t0)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=100_000)
    p.add_argument("--num-envs", type=int, default=16)
    p.add_argument("--games", default=",".join(IDS))
    p.add_argument("--threads", type=int, default=None, help="Rust threads of the vector env (default: min(num_envs, cores))")
    args = p.parse_args()
    from minatar.gym import register_envs  # MinAtar's wrapper is not auto-registered

    register_envs()

    rows = []
    for game in args.games.split(","):
        # Both through gym.make, so both carry Gymnasium's default wrappers.
        theirs = time_single(gym.make(f"MinAtar/{IDS[game].replace('-v0', '')}-v0"), args.steps)
        ours = time_single(gym.make(f"ember/{IDS[game]}"), args.steps)
        venv = gym.make_vec(f"ember/{IDS[game]}", num_envs=args.num_envs, vectorization_mode="vector_entry_point",
                           threads=args.threads)
        vec = time_vector(venv, args.steps * 4)
        rows.append({"game": game, "minatar_gym": theirs, "ember_gym": ours, "ember_vector": vec,
                     "num_envs": args.num_envs, "single_ratio": ours / theirs, "vector_ratio": vec / theirs})
        print(f"{game:15s} MinAtar gym {theirs:9.0f}/s  ember gym {ours:9.0f}/s ({ours / theirs:5.1f}x)  "
              f"ember vector[{args.num_envs}] {vec:10.0f}/s ({vec / theirs:5.1f}x)", flush=True)
    print(json.dumps({"results": rows}))


if __name__ == "__main__":
    main()
