"""Training-throughput benchmark (prints measurements from this one run; not a test).

    python benchmarks/bench_training.py [--data FILE ...] [--encoder ckpt:/dir | hf:/dir] [--steps 8] [--rounds 2]
        [--batch-size 32] [--workers 2] [--image-size 64] [--cache-dir DIR] [--device cpu|cuda]

For every registered trainable policy (default configs, ``text_encoder=hash``) it runs the real training loop
(``harness.nn.training.train``) in several arms and reports training samples/s (from the loop's own log: all
steps including the first, data loading included, validation and checkpoint writing excluded) and the ratio
to the first arm (today's default: conv encoder trained end to end, batches assembled in the main process):

    conv, 0 workers | conv, N workers | frozen encoder computed live, 0 workers |
    frozen encoder from cached features, 0 workers | the same with N workers

A second table splits one 0-worker step of the conv and the cached arms into batch assembly (dataset items,
collation, augmentation, text: what DataLoader workers take off the main process) and the model step
(forward, backward, AdamW), timed separately over ``--steps`` steps.

The frozen encoder is ``--encoder`` or, by default, a randomly initialised frame autoencoder checkpoint
(``world_model/frame_ae``; the weights do not change the speed). Without ``--data`` a tiny dataset is
generated (10 demos x 50 steps of 128x128 frames, as LIBERO / SIMPLER files store them). "data build s" is
the dataset construction of each arm; the first cached arm includes building the feature cache (one-time).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.nn.checkpoint import save_checkpoint  # noqa: E402
from harness.nn.training import TrainConfig, train  # noqa: E402
from harness.engine.atomic_io import read_jsonl  # noqa: E402
from harness.policy.chunk_policy import config_to_dict  # noqa: E402
from harness.registry import TRAINABLES  # noqa: E402


def random_frame_encoder(folder: Path, image_size: int) -> str:
    """A randomly initialised frame-autoencoder checkpoint -> its ``ckpt:`` vision string."""
    from world_models.frame_ae import FrameAEConfig, FrameAutoencoder

    cfg = FrameAEConfig(image_size=image_size)
    torch.manual_seed(0)
    meta = {"component": "world_model", "name": "frame_ae", "config": config_to_dict(cfg), "data": {}}
    save_checkpoint(folder, meta, FrameAutoencoder(cfg).state_dict(), None)
    return f"ckpt:{folder}"


def tiny_dataset(path: Path) -> Path:
    from tests.tiny_data import write_tiny_demos

    return write_tiny_demos(path, n=10, T=50, size=128)


def run_arm(key: str, cfg: Any, paths: list[Path], tcfg: TrainConfig, out: Path) -> tuple[float, float]:
    """-> (training samples/s of the loop, seconds to build the datasets incl. any feature cache)."""
    spec = TRAINABLES.get(key)()
    t0 = time.perf_counter()
    data = spec.make_data(cfg, paths, tcfg.seed, tcfg.val_fraction)
    build_s = time.perf_counter() - t0
    meta = {"component": "policy", "name": spec.name, "config": config_to_dict(cfg), "data": data.info}
    train(spec, cfg, data, tcfg, out, meta, resume=False, progress=False)
    rows = [r for r in read_jsonl(out / "train_log.jsonl") if "samples_per_s" in r]
    return float(rows[-1]["samples_per_s"]), build_s


def assembly_share(key: str, cfg: Any, paths: list[Path], tcfg: TrainConfig) -> tuple[float, float]:
    """-> (ms of batch assembly, ms of the model step) per step, 0 workers, averaged after one warm-up step."""
    from harness.nn.training import train_batches

    spec = TRAINABLES.get(key)()
    data = spec.make_data(cfg, paths, tcfg.seed, tcfg.val_fraction)
    torch.manual_seed(0)
    model = spec.build_model(cfg, data.info).train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    batches, gen = train_batches(data, tcfg), torch.Generator().manual_seed(0)
    t_data = t_model = 0.0
    for step in range(tcfg.steps + 1):
        t0 = time.perf_counter()
        batch = batches[step]
        t1 = time.perf_counter()
        loss, _ = model.compute_loss(batch, gen)
        opt.zero_grad()
        loss.backward()
        opt.step()
        t2 = time.perf_counter()
        if step:
            t_data, t_model = t_data + t1 - t0, t_model + t2 - t1
    return 1e3 * t_data / tcfg.steps, 1e3 * t_model / tcfg.steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", nargs="+", default=[], help="demo HDF5 file(s) (default: a generated tiny one)")
    parser.add_argument("--encoder", default="", help="frozen vision encoder: ckpt:/dir or hf:/dir")
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2, help="interleaved repetitions of every arm (median)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--cache-dir", default="", help="feature cache folder (default: a temporary one)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--policies", default="", help="comma list (default: every trainable policy)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench_training_"))
    paths = [Path(p) for p in args.data] or [tiny_dataset(tmp / "demos.hdf5")]
    encoder = args.encoder or random_frame_encoder(tmp / "encoder", args.image_size)
    cache_dir = args.cache_dir or str(tmp / "cache")
    n = args.workers
    arms = [
        ("conv, 0 workers", {}, 0),
        (f"conv, {n} workers", {}, n),
        ("frozen live, 0 workers", {"vision": encoder}, 0),
        ("frozen cached, 0 workers", {"vision": encoder, "cache_features": True, "feature_cache_dir": cache_dir}, 0),
        (f"frozen cached, {n} workers", {"vision": encoder, "cache_features": True, "feature_cache_dir": cache_dir}, n),
    ]
    keys = [k for k in TRAINABLES.names() if k.startswith("policy/")]
    if args.policies:
        keys = [f"policy/{p}" for p in args.policies.split(",")]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, device {args.device}; data: "
          f"{', '.join(map(str, paths))}; {args.steps} steps x batch {args.batch_size}, image {args.image_size}px; "
          f"frozen encoder {encoder}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    rates: dict[tuple[str, int], list[float]] = {}
    builds: dict[tuple[str, int], float] = {}
    for r in range(args.rounds):  # rounds interleave the arms, so a burst of load elsewhere hits all of them
        for key in keys:
            spec = TRAINABLES.get(key)()
            base = dataclasses.replace(spec.config_cls(), text_encoder="hash", image_size=args.image_size)
            for i, (_, changes, workers) in enumerate(arms):
                cfg = dataclasses.replace(base, **changes)
                tcfg = TrainConfig(
                    steps=args.steps, batch_size=args.batch_size, warmup=1, val_every=args.steps, val_batches=1,
                    save_every=args.steps, log_every=args.steps, num_workers=workers, device=args.device,
                )
                rate, build_s = run_arm(key, cfg, paths, tcfg, tmp / f"{spec.name}_{i}_{r}")
                rates.setdefault((key, i), []).append(rate)
                builds.setdefault((key, i), build_s)  # the first round's: includes building the cache
    print(f"median of {args.rounds} interleaved rounds (min-max in brackets); ratio = median / the first arm's median")
    print(f"{'policy':<10} {'arm':<26} {'samples/s':>10} {'[min-max]':>14} {'ratio':>6} {'data build s':>13}")
    for key in keys:
        base_rate = float(np.median(rates[(key, 0)]))
        for i, (label, _, _) in enumerate(arms):
            got = rates[(key, i)]
            med = float(np.median(got))
            spread = f"[{min(got):.0f}-{max(got):.0f}]"
            name = key.split("/", 1)[1]
            print(f"{name:<10} {label:<26} {med:>10.1f} {spread:>14} {med / base_rate:>6.2f} {builds[(key, i)]:>13.1f}")
    print(f"\nwhere a 0-worker step goes (batch {args.batch_size}):")
    print(f"{'policy':<10} {'arm':<26} {'assembly ms':>12} {'model ms':>9} {'assembly share':>15}")
    for key in keys:
        spec = TRAINABLES.get(key)()
        base = dataclasses.replace(spec.config_cls(), text_encoder="hash", image_size=args.image_size)
        for label, changes, _ in (arms[0], arms[3]):
            cfg = dataclasses.replace(base, **changes)
            tcfg = TrainConfig(steps=max(3, args.steps // 2), batch_size=args.batch_size)
            data_ms, model_ms = assembly_share(key, cfg, paths, tcfg)
            share = data_ms / (data_ms + model_ms)
            print(f"{spec.name:<10} {label:<26} {data_ms:>12.1f} {model_ms:>9.1f} {share:>15.0%}", flush=True)
    print(f"load average after the run {os.getloadavg()[0]:.1f}")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
