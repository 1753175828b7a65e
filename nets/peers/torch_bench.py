"""PyTorch side of `cargo bench -p ember-nets --bench vs_pytorch`: the same two networks, the same
batch sizes, optimizer and losses as Ember's side, timed the same way. Prints one JSON line.

    python3 nets/peers/torch_bench.py --steps 200 --threads 2

Networks (must match nets/benches/vs_pytorch.rs):
  classifier  [128,1,28,28] (experiments/fashion_mnist.toml): conv3x3(32)+BN+ReLU, maxpool2,
              conv3x3(64)+BN+ReLU, maxpool2, conv3x3(128)+BN+ReLU, maxpool2, flatten 1152 -> 256 ReLU
              -> dropout 0.3 -> 10; cross-entropy, Adam (lr 1e-3)
  qnet        [32,4,10,10]: conv3x3(16, padding 1)+ReLU, flatten 1600 -> 128 ReLU -> 6;
              mean((Q(s)[a] - target)^2), Adam (lr 1e-3)
"""
import argparse
import json
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()

        def block(i, o):
            return [nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU()]

        self.trunk = nn.Sequential(*block(1, 32), nn.MaxPool2d(2), *block(32, 64), nn.MaxPool2d(2),
                                   *block(64, 128), nn.MaxPool2d(2))
        self.hidden = nn.Linear(128 * 3 * 3, 256)
        self.drop = nn.Dropout(0.3)
        self.out = nn.Linear(256, 10)

    def forward(self, x):
        x = self.trunk(x).flatten(1)
        return self.out(self.drop(F.relu(self.hidden(x))))


class QNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 16, 3, padding=1)
        self.hidden = nn.Linear(16 * 10 * 10, 128)
        self.out = nn.Linear(128, 6)

    def forward(self, x):
        x = F.relu(self.conv(x)).flatten(1)
        return self.out(F.relu(self.hidden(x)))


def time_steps(step, batches, steps, warmup):
    for i in range(warmup):
        step(batches[i % len(batches)])
    t = time.perf_counter()
    loss = None
    for i in range(steps):
        loss = step(batches[i % len(batches)])
    float(loss)  # wait for the last step
    return time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--only", choices=["classifier", "qnet"], help="time one of the two nets")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    out = {"torch": torch.__version__, "threads": torch.get_num_threads(), "steps": a.steps}

    if a.only in (None, "classifier"):
        out.update(classifier(a))
    if a.only in (None, "qnet"):
        out.update(qnet(a))
    print(json.dumps(out))


def classifier(a):
    out = {}
    m = Classifier()
    m.train()
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    batches = [(torch.randn(128, 1, 28, 28), torch.randint(0, 10, (128,))) for _ in range(8)]

    def cls_step(b):
        x, y = b
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(m(x), y)
        loss.backward()
        opt.step()
        return loss.detach()

    secs = time_steps(cls_step, batches, a.steps, a.warmup)
    out["classifier_steps_per_sec"] = a.steps / secs
    out["classifier_images_per_sec"] = a.steps * 128 / secs
    return out


def qnet(a):
    q = QNet()
    qopt = torch.optim.Adam(q.parameters(), lr=1e-3)
    qbatches = [((torch.rand(32, 4, 10, 10) < 0.1).float(), torch.randint(0, 6, (32,)), torch.randn(32))
                for _ in range(8)]

    def q_step(b):
        s, act, target = b
        qopt.zero_grad(set_to_none=True)
        qa = q(s).gather(1, act.unsqueeze(1)).squeeze(1)
        loss = ((qa - target) ** 2).mean()
        loss.backward()
        qopt.step()
        return loss.detach()

    secs = time_steps(q_step, qbatches, a.steps, a.warmup)
    return {"qnet_steps_per_sec": a.steps / secs}


if __name__ == "__main__":
    main()
