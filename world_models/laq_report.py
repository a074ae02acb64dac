"""Latent quality of a trained LAPA quantizer (``world_model/laq``) on held-out frame pairs.

    python -m world_models.laq_report --checkpoint LAQ_DIR --data HELD_OUT.hdf5 [--pairs 512] [--out DIR]

Writes DIR/laq_report.json and DIR/laq_codes.png:
- reconstruction: MSE of the decoded x_{t+H} (hard codes, as when labelling) against x_{t+H} and against x_t,
  beside the copy baseline MSE(x_t, x_{t+H}): a quantizer that encodes the motion is closer to x_{t+H};
- code usage on these pairs: distinct codes per position, distinct 4-code tuples, perplexity;
- codebook usage over training, from the checkpoint's train_log.jsonl (unique codes / tuples, perplexity);
- the picture: for a few start frames, the frame decoded with the pair's own codes, then with each single-code
  neighbour (one of the 4 positions changed to each other value), with the absolute difference to the
  own-code decoding: distinct motions show as distinct difference maps.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Sequence

import numpy as np

from harness.config import OneLineParser
from harness.errors import HarnessError, cli_entry


def _pairs(checkpoint: str, paths: list[Path], n: int, seed: int):  # type: ignore[no-untyped-def]
    """(model, first [M, 3, S, S], last [M, 3, S, S]) of up to n random held-out pairs."""
    import torch

    from harness.nn.vision import images_to_float
    from world_models.laq import frame_pairs, load_clip_frames, load_laq

    model = load_laq(checkpoint)
    gap = model.cfg.frame_gap
    groups, _ = load_clip_frames(paths, model.cfg.image_key, model.cfg.image_size)
    pairs = frame_pairs([len(g) for g in groups], gap)
    if not len(pairs):
        raise HarnessError(f"laq_report: no group in the data is longer than the gap {gap}")
    pick = np.random.default_rng(seed).permutation(len(pairs))[:n]
    first = np.stack([groups[g][t] for g, t in pairs[pick]])
    last = np.stack([groups[g][t + gap] for g, t in pairs[pick]])
    return model, images_to_float(torch.from_numpy(first)), images_to_float(torch.from_numpy(last))


def _training_usage(checkpoint: str) -> list[dict[str, float]]:
    log = Path(checkpoint) / "train_log.jsonl"
    rows = []
    if log.is_file():
        for line in log.read_text().splitlines():
            row = json.loads(line)
            if "unique_codes" in row:
                keys = ("step", "unique_codes", "unique_code_tuples", "perplexity")
                rows.append({k: row[k] for k in keys if k in row})
    return rows


def _picture(model, first, codes, out: Path, starts: int = 3) -> None:  # type: ignore[no-untyped-def]
    import matplotlib
    import torch

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = model.cfg.codebook_size
    cols = 2 + 4 * (k - 1)
    fig, axes = plt.subplots(2 * starts, cols, figsize=(cols * 0.9, 2 * starts * 0.95))
    with torch.no_grad():
        for s in range(starts):
            own = model.decode_codes(first[s : s + 1], codes[s : s + 1])[0]
            variants = []
            for pos in range(4):
                for value in range(k):
                    if value != int(codes[s, pos]):
                        c = codes[s : s + 1].clone()
                        c[0, pos] = value
                        variants.append(model.decode_codes(first[s : s + 1], c)[0])
            row_img = [first[s], own, *variants]
            row_diff = [torch.zeros_like(own), torch.zeros_like(own), *[(v - own).abs() * 4 for v in variants]]
            for j, (img, diff) in enumerate(zip(row_img, row_diff, strict=True)):
                axes[2 * s, j].imshow(img.permute(1, 2, 0).clamp(0, 1).numpy())
                axes[2 * s + 1, j].imshow(diff.mean(0).clamp(0, 1).numpy(), cmap="magma", vmin=0, vmax=1)
        for ax in axes.flat:
            ax.set_xticks([])
            ax.set_yticks([])
        axes[0, 0].set_title("x_t", fontsize=6)
        axes[0, 1].set_title("own codes", fontsize=6)
        for pos in range(4):
            axes[0, 2 + pos * (k - 1)].set_title(f"code {pos} changed", fontsize=6, loc="left")
    fig.tight_layout(pad=0.1)
    fig.savefig(out, dpi=90)
    plt.close(fig)


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    import torch

    from harness.nn.quantizers import perplexity

    p = OneLineParser(prog="python -m world_models.laq_report", description=__doc__.split("\n")[0])
    p.add_argument("--checkpoint", required=True, help="world_model/laq checkpoint folder")
    p.add_argument("--data", nargs="+", required=True, help="held-out demo / clip HDF5 file(s)")
    p.add_argument("--pairs", type=int, default=512)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="results/laq_report")
    args = p.parse_args(argv)
    if not Path(args.checkpoint).is_dir():
        raise HarnessError(f"--checkpoint: folder not found: {args.checkpoint}")
    if args.pairs < 1:
        raise HarnessError("--pairs must be >= 1")
    model, first, last = _pairs(args.checkpoint, [Path(d) for d in args.data], args.pairs, args.seed)
    with torch.no_grad():
        blocks = [slice(i, i + 128) for i in range(0, len(first), 128)]
        codes = torch.cat([model.label(first[b], last[b]) for b in blocks])
        recon = torch.cat([model.decode_codes(first[b], codes[b]) for b in blocks])

    def mse(a: torch.Tensor, b: torch.Tensor) -> float:
        return float((a - b).pow(2).mean())

    report = {
        "checkpoint": args.checkpoint,
        "data": args.data,
        "pairs": len(first),
        "frame_gap": model.cfg.frame_gap,
        "mse_recon_vs_next": mse(recon, last),
        "mse_recon_vs_current": mse(recon, first),
        "mse_copy_current_vs_next": mse(first, last),
        "codes_per_position": [int(codes[:, i].unique().numel()) for i in range(codes.shape[1])],
        "distinct_code_tuples": int(codes.unique(dim=0).shape[0]),
        "perplexity": perplexity(codes, model.cfg.codebook_size),
        "training_usage": _training_usage(args.checkpoint),
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "laq_report.json").write_text(json.dumps(report, indent=2) + "\n")
    _picture(model, first, codes, out / "laq_codes.png", starts=min(3, len(first)))
    print(json.dumps({k: v for k, v in report.items() if k != "training_usage"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
