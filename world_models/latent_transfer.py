"""``python -m world_models.latent_transfer``: latent-action transfer pictures (IGOR paper 000, Fig. 4-5): the
latent action of one clip's transition (o_t -> o_{t+H}), taken by IGOR's IDM, applied through the FDM to the
start frames of *other* clips.

One row per source transition: its o_t, its o_{t+H}, the FDM's o_t moved by its own latent, then for every target
clip its start frame and the FDM's prediction for it. Sources are drawn among the transitions with the most pixel
motion (the upper quartile), so that the latent has something to transfer; targets come from other groups.
Writes ``transfer.png`` and ``transfer.json`` (the chosen windows, their codes, and per row the mean absolute pixel
change the latent causes on its own frame and on the targets, beside the change a zero-motion transition of the
same source clip causes, when it has one).

    python -m world_models.latent_transfer --checkpoint ck/igor_lam --data HELD_OUT.hdf5 --out results/igor_transfer
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from harness.config import OneLineParser
from harness.errors import HarnessError, cli_entry

if TYPE_CHECKING:
    from world_models.igor_lam import IgorLAM

BORDER = 2  # px of white between tiles


def _tile_rows(rows: list[list[np.ndarray]]) -> np.ndarray:
    """Rows of uint8 [S, S, 3] tiles -> one uint8 image with white borders."""
    s = rows[0][0].shape[0]
    width = max(len(r) for r in rows)
    out = np.full((len(rows) * (s + BORDER) + BORDER, width * (s + BORDER) + BORDER, 3), 255, np.uint8)
    for i, row in enumerate(rows):
        for j, tile in enumerate(row):
            y, x = BORDER + i * (s + BORDER), BORDER + j * (s + BORDER)
            out[y : y + s, x : x + s] = tile
    return out


def _to_uint8(image: np.ndarray) -> np.ndarray:
    """float [3, S, S] in [0, 1] -> uint8 [S, S, 3]."""
    return (np.clip(image, 0.0, 1.0).transpose(1, 2, 0) * 255.0 + 0.5).astype(np.uint8)


def transfer_grid(
    model: IgorLAM, groups: list[np.ndarray], sources: int, targets: int, seed: int
) -> tuple[np.ndarray, list[dict]]:
    """(picture uint8, one report row per source) for the LAM ``model`` on resized uint8 groups [T, S, S, 3]."""
    import torch

    from harness.nn.vision import images_to_float
    from world_models.igor_lam import label_group

    gap = model.cfg.frame_gap
    usable = [g for g, frames in enumerate(groups) if len(frames) > gap]
    if len(usable) < 2:
        raise HarnessError(f"latent transfer needs two groups longer than the frame gap ({gap}); got {len(usable)}")
    rng = np.random.default_rng(seed)
    # (group, t) -> mean absolute pixel change (0-255) of the transition (o_t, o_t+H)
    motion = {(g, t): float(np.abs(groups[g][t + gap].astype(np.int16) - groups[g][t]).mean())
              for g in usable for t in range(len(groups[g]) - gap)}  # fmt: skip
    cut = np.quantile(list(motion.values()), 0.75)
    moving = [key for key, m in motion.items() if m >= cut]
    picks = [moving[i] for i in rng.choice(len(moving), size=min(sources, len(moving)), replace=False)]
    rows, report = [], []
    for g, t in picks:
        latents, codes = label_group(model, groups[g])
        others = [o for o in usable if o != g]
        chosen = [others[i] for i in rng.choice(len(others), size=min(targets, len(others)), replace=False)]
        starts = [groups[g][t]] + [groups[o][int(rng.integers(len(groups[o]) - gap))] for o in chosen]
        x = images_to_float(torch.from_numpy(np.stack(starts)))
        z = torch.from_numpy(latents[t]).unsqueeze(0).expand(len(starts), -1, -1)
        moved = model.apply_latent(x, z).numpy()
        change = np.abs(moved - x.numpy()).mean(axis=(1, 2, 3))
        still = next((t0 for (g0, t0), m in motion.items() if g0 == g and m == 0.0), None)
        row = {"group": g, "t": t, "codes": codes[t].tolist(), "pixel_motion": motion[g, t] / 255.0,
               "fdm_change_own": float(change[0]), "fdm_change_targets": [float(c) for c in change[1:]],
               "target_groups": chosen}  # fmt: skip
        if still is not None:
            zero = model.apply_latent(x[:1], torch.from_numpy(latents[still]).unsqueeze(0)).numpy()
            row["fdm_change_own_with_still_latent"] = float(np.abs(zero - x[:1].numpy()).mean())
        report.append(row)
        tiles = [groups[g][t], groups[g][t + gap], _to_uint8(moved[0])]
        for k in range(1, len(starts)):
            tiles += [starts[k], _to_uint8(moved[k])]
        rows.append(tiles)
    return _tile_rows(rows), report


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    p = OneLineParser(prog="python -m world_models.latent_transfer", description=__doc__.split("\n")[0])
    p.add_argument("--checkpoint", required=True, help="world_model/igor_lam checkpoint folder")
    p.add_argument("--data", nargs="+", required=True, help="demo or clip HDF5 file(s), held out from the LAM")
    p.add_argument("--sources", type=int, default=4, help="rows: source transitions")
    p.add_argument("--targets", type=int, default=3, help="target clips per row")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="results/latent_transfer")
    args = p.parse_args(argv)
    if args.sources < 1 or args.targets < 1:
        raise HarnessError("--sources and --targets must be >= 1")
    if not Path(args.checkpoint).is_dir():
        raise HarnessError(f"--checkpoint: folder not found: {args.checkpoint}")
    for path in args.data:
        if not Path(path).is_file():
            raise HarnessError(f"--data: file not found: {path}")
    import imageio.v3 as iio

    from world_models.igor_lam import load_igor_lam
    from world_models.laq import load_clip_frames

    model = load_igor_lam(args.checkpoint)
    groups, _ = load_clip_frames([Path(d) for d in args.data], model.cfg.image_key, model.cfg.image_size)
    picture, report = transfer_grid(model, groups, args.sources, args.targets, args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    iio.imwrite(out / "transfer.png", picture)
    summary = {"checkpoint": args.checkpoint, "data": args.data, "seed": args.seed, "frame_gap": model.cfg.frame_gap,
               "columns": "source o_t, source o_t+H, FDM(source o_t, z), then per target: start, FDM(start, z)",
               "rows": report}  # fmt: skip
    (out / "transfer.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"wrote {out / 'transfer.png'} ({len(report)} rows x {1 + args.targets} clips)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
