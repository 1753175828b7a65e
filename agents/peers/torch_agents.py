"""PyTorch side of `cargo bench -p ember-agents --bench vs_pytorch`: DQN and PPO as in CleanRL's
`dqn.py` and `ppo.py`, with the hyperparameters Ember's side ran (passed as JSON by the bench), on
the same Rust environments through Ember's Python bindings (`import ember`), timed over the same
windows. Prints one JSON line.

    python agents/peers/torch_agents.py --threads 1 --config '{"env": "Breakout-v0", ...}'

(the bench prints the config it passes under "config"). Needs torch, numpy, gymnasium and the
`ember` module (see the bench's doc comment for a venv with Debian's torch).

Mirrors of Ember's choices (agents/src/dqn.rs, ppo.rs), so that the algorithms are the same:
  - networks: conv 3x3 ("same" padding, bias) + ReLU, flatten (or, with `flatten`, ReLU Linear layers
    on the flattened planes), Linear(hidden) + ReLU, then the Q head (DQN) or policy and value heads
    (with `separate_critic`, the value head on a second trunk of the same shape)
    (PPO, shared trunk);
  - gradient clipping by global norm (`clip_grad_norm_`, as Ember's `clip_global_norm`), the norm
    read back every update as Ember logs it;
  - DQN: replay of 0/1 observations (stored as uint8 here, as bits in Ember), sampled uniformly,
    Double-DQN targets, Huber loss, the loss and mean Q read back every update, `gradient_steps`
    updates each time training is due, target copy every `target_update_period` steps, ε-greedy
    acting with one forward pass per greedy step;
  - PPO: Categorical sampling, GAE, per-minibatch advantage normalisation, clipped value loss,
    entropy bonus, CleanRL's approx-KL and clip-fraction diagnostics every minibatch, annealed lr.
Differences that do not change the work: Ember's vector of envs resets in the same step, the
Python vector env (Gymnasium's default) in the next one; PyTorch's side does not bootstrap
time-limit truncations (none happen within these windows on Breakout).
"""
import argparse
import json
import os
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--config", required=True, help="JSON from the Rust bench")
    a = ap.parse_args()
    # OpenBLAS reads its thread count when torch loads it.
    os.environ["OPENBLAS_NUM_THREADS"] = str(a.threads)
    os.environ["OMP_NUM_THREADS"] = str(a.threads)
    import numpy as np
    import torch

    import ember

    torch.set_num_threads(a.threads)
    cfg = json.loads(a.config)
    out = {"torch": torch.__version__, "threads": torch.get_num_threads(), "numpy": np.__version__}
    out["dqn"] = dqn(cfg, np, torch, ember)
    out["ppo"] = [dict(net=p["label"], **ppo(cfg, p["net"], np, torch, ember)) for p in cfg["ppo_nets"]]
    print(json.dumps(out))


def linear(start, end, duration, step):
    return end if step >= duration else start + (end - start) * step / duration


def due(frm, to, period):
    return 0 if period == 0 else to // period - frm // period


def clip(params, max_norm, torch):
    """Clips to a global L2 norm (Ember's `clip_global_norm`) and returns the norm before, read back
    as Ember reads it (it logs `losses/grad_norm`)."""
    if max_norm > 0:
        return torch.nn.utils.clip_grad_norm_(params, max_norm).item()
    return 0.0


def trunk(torch, shape, net):
    """Ember's encoder for [C, H, W] planes (a conv block, or with `flatten` an MLP on the flattened
    planes), then the hidden layer."""
    nn = torch.nn
    c, h, w = shape
    if net.get("flatten"):
        layers, width = [nn.Flatten()], c * h * w
        for m in net["mlp"]:
            layers += [nn.Linear(width, m), nn.ReLU()]
            width = m
    else:
        assert net["conv_depth"] == 1 and not net["residual"] and not net["batch_norm"], net
        k = net["kernel_size"]
        layers = [nn.Conv2d(c, net["conv_width"], k, padding=k // 2), nn.ReLU(), nn.Flatten()]
        width = net["conv_width"] * h * w
    return nn.Sequential(*layers, nn.Linear(width, net["hidden"]), nn.ReLU())


# ---------------------------------------------------------------------------------------------
# DQN (CleanRL dqn.py)

def dqn(cfg, np, torch, ember):
    c, net = cfg["dqn"], cfg["dqn_net"]
    assert c["num_envs"] == 1 and c["n_step"] == 1 and not c["dueling"], c
    nn, F = torch.nn, torch.nn.functional
    started = time.perf_counter()
    torch.manual_seed(cfg["seed"])
    rng = np.random.default_rng(cfg["seed"])
    env = ember.EmberEnv(cfg["env"])
    shape = env.observation_space.shape
    n_actions = int(env.action_space.n)
    obs_len = int(np.prod(shape))

    def qnet():
        return nn.Sequential(trunk(torch, shape, net), nn.Linear(net["hidden"], n_actions))

    q = qnet()
    target = qnet()
    target.load_state_dict(q.state_dict())
    if c.get("optimizer", "adam") == "rmsprop":
        opt = torch.optim.RMSprop(q.parameters(), lr=c["lr"], alpha=c["rmsprop_alpha"],
                                  eps=c["rmsprop_eps"], centered=c["rmsprop_centered"])
    else:
        opt = torch.optim.Adam(q.parameters(), lr=c["lr"], eps=c["adam_eps"])
    params = list(q.parameters())

    cap = c["buffer_size"]
    b_obs = np.zeros((cap, obs_len), np.uint8)
    b_next = np.zeros((cap, obs_len), np.uint8)
    b_act = np.zeros(cap, np.int64)
    b_rew = np.zeros(cap, np.float32)
    b_disc = np.zeros(cap, np.float32)
    pos = size = 0
    gamma, bs = c["gamma"], c["batch_size"]

    marks = {}
    obs, _ = env.reset(seed=cfg["seed"])
    step = updates = 0
    loss_sum = q_sum = norm_sum = 0.0
    while step < c["total_steps"]:
        eps = linear(c["start_epsilon"], c["end_epsilon"], c["exploration_steps"], step)
        if rng.random() < eps:
            action = int(rng.integers(n_actions))
        else:
            with torch.no_grad():
                action = int(q(torch.from_numpy(obs).unsqueeze(0)).argmax(1).item())
        next_obs, reward, terminated, truncated, _ = env.step(action)
        b_obs[pos] = obs.reshape(-1)
        b_next[pos] = next_obs.reshape(-1)
        b_act[pos], b_rew[pos], b_disc[pos] = action, reward, 0.0 if terminated else gamma
        pos, size = (pos + 1) % cap, min(size + 1, cap)
        obs = env.reset()[0] if terminated or truncated else next_obs
        prev, step = step, step + 1

        if step > c["learning_starts"]:
            for _ in range(due(prev, step, c["train_frequency"]) * c.get("gradient_steps", 1)):
                idx = rng.integers(0, size, bs)
                s = torch.from_numpy(b_obs[idx]).float().view(bs, *shape)
                s2 = torch.from_numpy(b_next[idx]).float().view(bs, *shape)
                with torch.no_grad():
                    q_next_target = target(s2)
                    if c["double_dqn"]:
                        a2 = q(s2).argmax(1, keepdim=True)
                    else:
                        a2 = q_next_target.argmax(1, keepdim=True)
                    y = torch.from_numpy(b_rew[idx]) + torch.from_numpy(b_disc[idx]) * \
                        q_next_target.gather(1, a2).squeeze(1)
                q_a = q(s).gather(1, torch.from_numpy(b_act[idx]).unsqueeze(1)).squeeze(1)
                loss = F.huber_loss(q_a, y, delta=c["huber_delta"])
                loss_value = loss.item()
                if not np.isfinite(loss_value):
                    raise RuntimeError(f"non-finite TD loss at step {step}")
                opt.zero_grad(set_to_none=True)
                loss.backward()
                norm_sum += clip(params, c["max_grad_norm"], torch)
                opt.step()
                updates += 1
                loss_sum += loss_value
                q_sum += q_a.detach().mean().item()
        if due(prev, step, c["target_update_period"]) > 0:
            target.load_state_dict(q.state_dict())
        if due(prev, step, c["log_every"]) > 0:
            marks[step] = time.perf_counter()
    w0, w1 = cfg["dqn_window"]
    secs = marks[w1] - marks[w0]
    return {"updates": w1 - w0, "seconds": secs, "updates_per_sec": (w1 - w0) / secs,
            "total_updates": updates, "run_wall_seconds": time.perf_counter() - started}


# ---------------------------------------------------------------------------------------------
# PPO (CleanRL ppo.py)

def ppo(cfg, net, np, torch, ember):
    c = cfg["ppo"]
    nn = torch.nn
    from torch.distributions.categorical import Categorical
    started = time.perf_counter()
    torch.manual_seed(cfg["seed"])
    np.random.seed(cfg["seed"])
    n, T = c["num_envs"], c["num_steps"]
    envs = ember.EmberVectorEnv(cfg["env"], num_envs=n, threads=1)
    shape = envs.single_observation_space.shape
    n_actions = int(envs.single_action_space.n)

    class Agent(nn.Module):
        def __init__(self):
            super().__init__()
            self.trunk = trunk(torch, shape, net)
            self.actor = nn.Linear(net["hidden"], n_actions)
            # With `separate_critic` the value has a trunk of its own (Ember's CriticTower).
            self.critic_trunk = trunk(torch, shape, net) if net.get("separate_critic") else None
            self.critic = nn.Linear(net["hidden"], 1)

        def value_of(self, x, hidden):
            if self.critic_trunk is not None:
                hidden = self.critic_trunk(x)
            return self.critic(hidden)

        def get_value(self, x):
            if self.critic_trunk is not None:
                return self.critic(self.critic_trunk(x))
            return self.critic(self.trunk(x))

        def get_action_and_value(self, x, action=None):
            hidden = self.trunk(x)
            logits = self.actor(hidden)
            probs = Categorical(logits=logits)
            if action is None:
                action = probs.sample()
            return action, probs.log_prob(action), probs.entropy(), self.value_of(x, hidden)

    agent = Agent()
    opt = torch.optim.Adam(agent.parameters(), lr=c["lr"], eps=c["adam_eps"])
    params = list(agent.parameters())
    batch = n * T
    mb_size = batch // c["num_minibatches"]
    num_iterations = c["total_steps"] // batch

    obs = torch.zeros((T, n) + shape)
    actions = torch.zeros((T, n), dtype=torch.long)
    logprobs = torch.zeros((T, n))
    rewards = torch.zeros((T, n))
    dones = torch.zeros((T, n))
    values = torch.zeros((T, n))

    next_obs = torch.from_numpy(envs.reset(seed=cfg["seed"])[0])
    next_done = torch.zeros(n)
    marks = {}
    for iteration in range(1, num_iterations + 1):
        if c["anneal_lr"]:
            opt.param_groups[0]["lr"] = (1.0 - (iteration - 1.0) / num_iterations) * c["lr"]
        for step in range(T):
            obs[step] = next_obs
            dones[step] = next_done
            with torch.no_grad():
                action, logprob, _, value = agent.get_action_and_value(next_obs)
                values[step] = value.flatten()
            actions[step] = action
            logprobs[step] = logprob
            o, reward, terminated, truncated, _ = envs.step(action.numpy())
            rewards[step] = torch.from_numpy(reward).float()
            next_obs = torch.from_numpy(o)
            next_done = torch.from_numpy(np.logical_or(terminated, truncated)).float()

        with torch.no_grad():
            next_value = agent.get_value(next_obs).reshape(1, -1)
            advantages = torch.zeros_like(rewards)
            lastgaelam = 0
            for t in reversed(range(T)):
                if t == T - 1:
                    nextnonterminal = 1.0 - next_done
                    nextvalues = next_value
                else:
                    nextnonterminal = 1.0 - dones[t + 1]
                    nextvalues = values[t + 1]
                delta = rewards[t] + c["gamma"] * nextvalues * nextnonterminal - values[t]
                advantages[t] = lastgaelam = delta + c["gamma"] * c["gae_lambda"] * nextnonterminal * lastgaelam
            returns = advantages + values

        b_obs = obs.reshape((-1,) + shape)
        b_logprobs = logprobs.reshape(-1)
        b_actions = actions.reshape(-1)
        b_advantages = advantages.reshape(-1)
        b_returns = returns.reshape(-1)
        b_values = values.reshape(-1)
        b_inds = np.arange(batch)
        clipfracs = []
        norm_sum = 0.0
        for epoch in range(c["update_epochs"]):
            np.random.shuffle(b_inds)
            for start in range(0, batch, mb_size):
                mb = torch.from_numpy(b_inds[start:start + mb_size])
                _, newlogprob, entropy, newvalue = agent.get_action_and_value(b_obs[mb], b_actions[mb])
                logratio = newlogprob - b_logprobs[mb]
                ratio = logratio.exp()
                with torch.no_grad():
                    approx_kl = ((ratio - 1) - logratio).mean()
                    clipfracs += [((ratio - 1.0).abs() > c["clip_coef"]).float().mean().item()]
                mb_adv = b_advantages[mb]
                if c["norm_adv"]:
                    mb_adv = (mb_adv - mb_adv.mean()) / (mb_adv.std() + 1e-8)
                pg_loss1 = -mb_adv * ratio
                pg_loss2 = -mb_adv * torch.clamp(ratio, 1 - c["clip_coef"], 1 + c["clip_coef"])
                pg_loss = torch.max(pg_loss1, pg_loss2).mean()
                newvalue = newvalue.view(-1)
                if c["clip_vloss"]:
                    v_loss_unclipped = (newvalue - b_returns[mb]) ** 2
                    v_clipped = b_values[mb] + torch.clamp(newvalue - b_values[mb], -c["clip_coef"], c["clip_coef"])
                    v_loss_clipped = (v_clipped - b_returns[mb]) ** 2
                    v_loss = 0.5 * torch.max(v_loss_unclipped, v_loss_clipped).mean()
                else:
                    v_loss = 0.5 * ((newvalue - b_returns[mb]) ** 2).mean()
                entropy_loss = entropy.mean()
                loss = pg_loss - c["ent_coef"] * entropy_loss + v_loss * c["vf_coef"]
                if not np.isfinite(loss.item()):
                    raise RuntimeError(f"non-finite PPO loss at iteration {iteration}")
                opt.zero_grad(set_to_none=True)
                loss.backward()
                norm_sum += clip(params, c["max_grad_norm"], torch)
                opt.step()
                # The diagnostics CleanRL logs (Ember reads them back every minibatch too).
                _ = (approx_kl.item(), pg_loss.item(), v_loss.item(), entropy_loss.item())
        marks[iteration] = time.perf_counter()
    i0, i1 = cfg["ppo_window"]
    secs = marks[i1] - marks[i0]
    steps = (i1 - i0) * batch
    return {"parameters": sum(p.numel() for p in params), "steps": steps, "seconds": secs,
            "steps_per_sec": steps / secs, "run_wall_seconds": time.perf_counter() - started}


if __name__ == "__main__":
    main()
