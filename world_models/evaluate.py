"""``python -m world_models.evaluate``: open-loop rollout quality of a world model on demo files.

    python -m world_models.evaluate --world-model lac_wm --wm-checkpoint DIR --data demos.hdf5 [--horizon 4]

For windows of ``horizon`` 5-step segments: encode the true first frame, roll the world model out with the
demo's own actions, and compare with the true frames: embedding L2 distance per step, and PSNR / SSIM
(scikit-image) of the decoded prediction against the true frame and against the autoencoder's own
reconstruction of the true frame (which isolates dynamics error from decoder error). A copy-last-frame
baseline (predict "nothing moves") is reported next to it. LPIPS / FID / FVD need pretrained networks whose
weights cannot be downloaded here; they are not computed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from harness.config import OneLineParser
from harness.data.hdf5_io import iter_demos, open_demo_file
from harness.errors import HarnessError, cli_entry
from planners.setup import build_world_model
from harness.registry import SUITES
from harness.engine.manifest import provenance
from harness.engine.scenes import check_no_training_scenes, scenes_of_file


def image_metrics(pred: np.ndarray, true: np.ndarray) -> tuple[float, float]:
    """PSNR (dB) and SSIM of uint8 images [H, W, 3]."""
    psnr = peak_signal_noise_ratio(true, pred, data_range=255)
    ssim = structural_similarity(true, pred, channel_axis=-1, data_range=255)
    return float(psnr), float(ssim)


def evaluate_rollouts(wm: Any, paths: Sequence[Path], horizon: int, max_windows: int, seed: int) -> dict[str, Any]:
    """Metrics averaged over up to ``max_windows`` windows drawn from the demos (deterministic for a seed)."""
    seg = wm.segment
    windows = []
    for path in paths:
        for demo in iter_demos(Path(path), ("agentview_rgb",)):
            frames, actions = demo.obs["agentview_rgb"], demo.actions
            for t in range(0, len(actions) - horizon * seg, seg):
                windows.append((frames, actions, t))
    if not windows:
        raise HarnessError(f"no window of {horizon} x {seg} steps in the given demos")
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(windows), size=min(max_windows, len(windows)), replace=False)
    emb = np.zeros(horizon)
    emb_copy = np.zeros(horizon)
    psnr, ssim, psnr_ae, ssim_ae, psnr_copy = (np.zeros(horizon) for _ in range(5))
    for i in chosen:
        frames, actions, t = windows[i]
        truth = [frames[t + (h + 1) * seg] for h in range(horizon)]
        z0 = wm.encode(frames[t][None])
        pred = wm.rollout(z0, actions[None, t : t + horizon * seg])[0]  # [H, N, D]
        z_true = wm.encode(np.stack(truth))
        emb += np.asarray(wm.distance(pred, z_true))
        emb_copy += np.asarray(wm.distance(z_true, z0))
        decoded, recon = wm.decode(pred), wm.decode(z_true)
        size = decoded.shape[1]
        first = wm.decode(z0)[0]
        for h in range(horizon):
            true_small = _resize(truth[h], size)
            p, s = image_metrics(decoded[h], true_small)
            pa, sa = image_metrics(decoded[h], recon[h])
            psnr[h] += p
            ssim[h] += s
            psnr_ae[h] += pa
            ssim_ae[h] += sa
            psnr_copy[h] += image_metrics(first, true_small)[0]
    n = len(chosen)
    per_step = {
        "embedding_l2": (emb / n).tolist(),
        "embedding_l2_copy_last_frame": (emb_copy / n).tolist(),
        "psnr": (psnr / n).tolist(),
        "ssim": (ssim / n).tolist(),
        "psnr_vs_autoencoder": (psnr_ae / n).tolist(),
        "ssim_vs_autoencoder": (ssim_ae / n).tolist(),
        "psnr_copy_last_frame": (psnr_copy / n).tolist(),
    }
    return {"windows": n, "horizon_segments": horizon, "segment": seg, "per_step": per_step,
            "mean": {k: float(np.mean(v)) for k, v in per_step.items()}}  # fmt: skip


def _resize(img: np.ndarray, size: int) -> np.ndarray:
    from harness.data.features import resize_image

    return resize_image(np.asarray(img), size)


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    p = OneLineParser(prog="python -m world_models.evaluate", description=__doc__.split("\n")[0])
    p.add_argument("--world-model", required=True)
    p.add_argument("--wm-checkpoint", required=True)
    p.add_argument("--data", nargs="+", required=True)
    p.add_argument("--horizon", type=int, default=4, help="world-model segments per window")
    p.add_argument("--windows", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="write the metrics as JSON here")
    p.add_argument(
        "--allow-train-scenes",
        action="store_true",
        help="score on demos from the world model's own training scenes (warned; not a held-out number)",
    )
    args = p.parse_args(argv)
    if args.horizon < 1 or args.windows < 1:
        raise HarnessError("--horizon and --windows must be >= 1")
    for path in args.data:
        if not Path(path).is_file():
            raise HarnessError(f"--data: file not found: {path}")
    paths = [Path(x) for x in args.data]
    scenes = sorted({s for path in paths for s in scenes_of_file(path)})
    for line in check_no_training_scenes(scenes, {"world model": args.wm_checkpoint}, args.allow_train_scenes):
        print(line, file=sys.stderr)
    suite = SUITES.build(str(open_demo_file(paths[0], require_actions=False).env_args.get("suite")))
    torch.manual_seed(args.seed)
    wm = build_world_model(args.world_model, args.wm_checkpoint, suite)
    result = evaluate_rollouts(wm, paths, args.horizon, args.windows, args.seed)
    result.update({"world_model": args.world_model, "checkpoint": args.wm_checkpoint, "data": args.data})
    result["provenance"] = {
        "command": ["python -m world_models.evaluate", *(sys.argv[1:] if argv is None else argv)],
        **provenance(),
    }
    text = json.dumps(result, indent=2)
    if args.out:
        Path(args.out).write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
