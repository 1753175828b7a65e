"""Plays MinAtar (the reference implementation) with a uniform random policy and prints one JSON
object with the per-episode returns and lengths. Used by tests/tests/minatar_parity.rs.

usage: minatar_random.py GAME EPISODES SEED STICKY_PROB RAMPING(0|1)
"""
import json
import sys

import numpy as np
from minatar import Environment


def main():
    game, episodes, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    sticky, ramping = float(sys.argv[4]), sys.argv[5] == "1"
    env = Environment(game, sticky_action_prob=sticky, difficulty_ramping=ramping)
    env.seed(seed)
    policy = np.random.RandomState(seed + 1)
    returns, lengths = [], []
    for _ in range(episodes):
        env.reset()
        done, ret, length = False, 0.0, 0
        while not done:
            r, done = env.act(policy.randint(6))
            ret += float(r)
            length += 1
        returns.append(ret)
        lengths.append(length)
    print(json.dumps({"game": game, "returns": returns, "lengths": lengths}))


if __name__ == "__main__":
    main()
