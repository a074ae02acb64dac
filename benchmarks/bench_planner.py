"""wm_topk planner and world-model benchmark (prints measurements from this one run; not a test).

    python benchmarks/bench_planner.py [--repeats 5]

With default-size models (random weights: speed does not depend on training):
  * decision latency of ``wm_topk`` for N=64 and N=500 candidates (policy sampling included, p=10 steps,
    2 world-model segments), and its ratio to one batched world-model rollout of the same N;
  * the same decision without the policy (world-model part only) to show where the time goes;
  * LAC-WM / EAC-WM training throughput (samples/s, forward + backward + AdamW, batch 64).
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
from harness.protocols import PlannerOptions, TaskSpec  # noqa: E402
from harness.registry import PLANNERS, TRAINABLES  # noqa: E402
from world_models.common import LatentWorldModel  # noqa: E402
from world_models.eac_wm import EacWM, EacWmConfig  # noqa: E402
from world_models.frame_ae import FrameAEConfig, FrameAutoencoder  # noqa: E402
from world_models.lac_wm import LacWM, LacWmConfig  # noqa: E402

TASK = TaskSpec("simpler_bridge", 0, "t0", "put carrot on plate", 60, 1, (-1.0,) * 7, (1.0,) * 7)
INFO = {"tokens": 16, "dim": 64, "grid": 4, "action_dim": 7, "embodiments": ["panda", "widowx"]}


def _time(fn, repeats: int) -> float:  # type: ignore[no-untyped-def]
    fn()
    t0 = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - t0) / repeats


def _policy() -> ChunkPolicyRuntime:
    spec = TRAINABLES.get("policy/diffusion")()
    cfg = spec.config_cls(text_encoder="hash", n_action_steps=10)
    dp = 11  # the default proprio_keys: ee_pos (3) + ee_rot6d (6) + gripper_states (2)
    z7, zp = np.zeros(7), np.zeros(dp)
    stats = NormStats(z7, z7 + 1, z7 - 1, z7 + 1, zp, zp + 1)
    info = {"action_dim": 7, "proprio_dim": dp, "num_views": 1}
    return ChunkPolicyRuntime(spec.build_model(cfg, info), cfg, stats, "wxyz")


def _train_rate(model: torch.nn.Module, repeats: int) -> float:
    g = torch.Generator().manual_seed(0)
    b = 64
    batch = {
        f"{v}_{n}": torch.randn((b, 16, 64), generator=g) for v in ("a", "b", "clean") for n in ("prev", "t", "next")
    }
    batch.update({"actions": torch.randn((b, 5, 7), generator=g), "motion": torch.randn((b, 7), generator=g)})
    batch["embodiment"] = torch.randint(0, 2, (b,), generator=g)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)

    def step() -> None:
        loss, _ = model.compute_loss(batch, g)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return b / _time(step, repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.manual_seed(0)
    lac = LacWM(LacWmConfig(encoder="-"), INFO).eval()
    wm = LatentWorldModel(FrameAutoencoder(FrameAEConfig()), lac.fdm, lac.projector, np.zeros(7), np.ones(7), 5, 2)
    policy = _policy()
    episode = make_episodes([TASK], 1, 0)[0]
    rng = np.random.default_rng(0)
    obs = {
        "agentview_rgb": rng.integers(0, 255, (480, 640, 3), dtype=np.uint8),
        "proprio": np.array([0.3, 0, 0.1, 1, 0, 0, 0, 0.02, -0.02], np.float32),
        "instruction": TASK.instruction,
    }
    goal = rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads; p=10 steps -> 2 world-model segments")
    print(f"{'N':>5} {'decision ms':>12} {'batched rollout ms':>19} {'ratio':>6} {'policy sample ms':>17}")
    for n in (64, 500):
        planner = PLANNERS.build("wm_topk", options=PlannerOptions(n_samples=n, top_k=5, subgoal_every=10))
        planner.reset(episode)
        policy.reset(episode)
        decision = _time(lambda: planner.plan(obs, goal, policy, wm), args.repeats)  # noqa: B023
        actions = rng.normal(size=(n, 10, 7))
        z = wm.encode(obs["agentview_rgb"][None])
        rollout = _time(lambda: wm.rollout(z, actions), args.repeats)  # noqa: B023
        sample = _time(lambda: policy.sample(obs, n, rng), args.repeats)  # noqa: B023
        print(f"{n:>5} {decision * 1e3:>12.1f} {rollout * 1e3:>19.1f} {decision / rollout:>6.2f} {sample * 1e3:>17.1f}")
    lac_train = LacWM(LacWmConfig(encoder="-"), INFO).train()
    eac_train = EacWM(EacWmConfig(encoder="-"), INFO).train()
    print(
        f"LAC-WM pretraining: {_train_rate(lac_train, args.repeats):.0f} samples/s (batch 64, embeddings precomputed)"
    )
    print(
        f"EAC-WM pretraining: {_train_rate(eac_train, args.repeats):.0f} samples/s (batch 64, embeddings precomputed)"
    )


if __name__ == "__main__":
    main()
