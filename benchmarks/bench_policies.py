"""Trained-policy benchmark (prints measurements from this one run; not a test).

    python benchmarks/bench_policies.py [--checkpoint NAME=DIR ...] [--repeats 20]

For every trainable policy (default configs, or the given checkpoints): inference latency per decision
on CPU for ``act`` (one chunk) and ``sample`` with n=64 (and their ratio: the cost of drawing 64
candidates relative to one), plus training throughput (samples/s of forward + backward + AdamW step at
batch 64) on synthetic inputs of the same shapes as real ones (640x480 camera frames resized to the model's
image size).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.data.dataset import NormStats  # noqa: E402
from harness.policy.chunk_policy import ChunkPolicyRuntime  # noqa: E402
from harness.engine.episodes import make_episodes  # noqa: E402
from harness.protocols import TaskSpec  # noqa: E402
from harness.registry import POLICIES, TRAINABLES  # noqa: E402

PROPRIO_DIM = 11  # the default proprio_keys: ee_pos (3) + ee_rot6d (6) + gripper_states (2)
INFO = {"action_dim": 7, "proprio_dim": PROPRIO_DIM, "num_views": 1, "quat_order": "wxyz"}
TASK = TaskSpec("simpler_bridge", 0, "t0", "put carrot on plate", 60, 1, (-1.0,) * 7, (1.0,) * 7)


def _stats() -> NormStats:
    z7, zp = np.zeros(7), np.zeros(PROPRIO_DIM)
    return NormStats(z7, z7 + 1, z7 - 1, z7 + 1, zp, zp + 1)


def _obs(rng: np.random.Generator) -> dict:
    return {
        "agentview_rgb": rng.integers(0, 255, (480, 640, 3), dtype=np.uint8),
        "proprio": np.array([0.1, 0.0, 0.2, 1, 0, 0, 0, 0.02, -0.02], dtype=np.float32),
        "instruction": TASK.instruction,
    }


def _time(fn, repeats: int) -> float:  # type: ignore[no-untyped-def]
    fn()  # warm-up
    t0 = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - t0) / repeats


def bench(name: str, policy: ChunkPolicyRuntime, repeats: int) -> dict:
    rng = np.random.default_rng(0)
    policy.reset(make_episodes([TASK], 1, 0)[0])
    act_s = _time(lambda: policy.act(_obs(rng)), repeats)
    sample_s = _time(lambda: policy.sample(_obs(rng), 64, rng), max(3, repeats // 4))
    model, cfg = policy.model, policy.cfg
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    g = torch.Generator().manual_seed(0)
    b, v = 64, len(cfg.image_keys)
    batch = {
        "images": torch.rand((b, cfg.obs_horizon, v, 3, cfg.image_size, cfg.image_size), generator=g),
        "proprio": torch.randn((b, cfg.obs_horizon, INFO["proprio_dim"]), generator=g),
        "text": torch.nn.functional.normalize(torch.randn((b, 384), generator=g), dim=-1),
        "actions": torch.randn((b, cfg.action_horizon, INFO["action_dim"]), generator=g),
        "action_mask": torch.ones((b, cfg.action_horizon), dtype=torch.bool),
    }

    def step() -> None:
        loss, _ = model.compute_loss(batch, g)
        opt.zero_grad()
        loss.backward()
        opt.step()

    train_s = _time(step, max(3, repeats // 4))
    model.eval()
    params = sum(p.numel() for p in model.parameters())
    return {
        "policy": name,
        "params": params,
        "act_ms": act_s * 1e3,
        "sample64_ms": sample_s * 1e3,
        "sample64_over_act": sample_s / act_s,
        "train_samples_per_s": b / train_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", action="append", default=[], metavar="NAME=DIR")
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    torch.manual_seed(0)
    given = dict(item.split("=", 1) for item in args.checkpoint)
    rows = []
    for key in TRAINABLES.names():
        if not key.startswith("policy/"):
            continue
        name = key.split("/", 1)[1]
        if name in given:
            policy = POLICIES.build(name, checkpoint=given[name])
        else:
            spec = TRAINABLES.get(key)()
            cfg = spec.config_cls(text_encoder="hash")
            policy = ChunkPolicyRuntime(spec.build_model(cfg, INFO), cfg, _stats(), "wxyz")
        rows.append(bench(name, policy, args.repeats))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads")
    print(f"{'policy':<10} {'params':>9} {'act ms':>8} {'sample(64) ms':>14} {'ratio':>6} {'train samples/s':>16}")
    for r in rows:
        print(
            f"{r['policy']:<10} {r['params']:>9,} {r['act_ms']:>8.1f} {r['sample64_ms']:>14.1f} "
            f"{r['sample64_over_act']:>6.1f} {r['train_samples_per_s']:>16.1f}"
        )


if __name__ == "__main__":
    main()
