"""Latent-action predictiveness (IGOR, paper 000 §3.4.2, Fig. 6b): for held-out frame pairs, the standard
deviation of the true actions among each pair's N nearest neighbours in latent space, divided per action dimension
by that dimension's standard deviation over all pairs, averaged over the queries; reported for movement (dims
0-2), rotation (3-5) and gripper (6) against log N, beside a shuffled-latent baseline (~1 by construction).
Below 1: the latent predicts the action.

Choices (the paper does not state them): the action of a pair (x_t, x_{t+H}) is the sum of the H arm actions
a_t..a_{t+H-1} and the gripper command a_{t+H-1}; the query itself and its own episode's pairs within ``window``
steps are never neighbours; ties (discrete codes) are broken at random; sample std with ddof = 1.

    python -m world_models.latent_metrics knn-std --model laq|igor_lam --checkpoint DIR --data DEMOS.hdf5 [...]
        [--ks 2,4,8,...] [--window 3] [--quantized] [--out DIR]   -> DIR/knn_std.json and DIR/knn_std.png

LAWM's CCA (paper 003 Table III; world_models.cca): first canonical correlation between a pretrain=lawm policy's
latent actions and the true actions, fitted on half of the demonstrations and reported on the other half, per
task group, beside a shuffled-pairs baseline:

    python -m world_models.latent_metrics cca --checkpoint PRETRAIN_DIR --data DEMOS.hdf5 [...] [--out DIR]
        -> DIR/cca.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Sequence

import numpy as np

from harness.config import OneLineParser
from harness.errors import HarnessError, cli_entry

GROUPS = {"movement": (0, 1, 2), "rotation": (3, 4, 5), "gripper": (6,)}
BLOCK = 512


def knn_action_std(
    latents: np.ndarray,
    actions: np.ndarray,
    episodes: np.ndarray,
    steps: np.ndarray,
    ks: Sequence[int],
    window: int = 3,
    seed: int = 0,
) -> dict[int, np.ndarray]:
    """latents [M, L], actions [M, Da], episode ids [M], step indices [M] -> {N: normalised std [Da]} (mean over
    queries of the std of the N nearest neighbours' actions, divided by the global std of each dimension)."""
    latents = np.asarray(latents, dtype=np.float64)
    actions = np.asarray(actions, dtype=np.float64)
    m = len(latents)
    if min(ks) < 2 or max(ks) >= m - 2 * window - 1:
        raise HarnessError(f"knn-std: every N must be in 2..{m - 2 * window - 2} for {m} pairs, got {list(ks)}")
    rng = np.random.default_rng(seed)
    scale = actions.std(axis=0, ddof=1)
    scale[scale == 0] = 1.0
    kmax = max(ks)
    sums = {k: np.zeros(actions.shape[1]) for k in ks}
    sq = (latents**2).sum(1)
    for start in range(0, m, BLOCK):
        stop = min(start + BLOCK, m)
        d = sq[start:stop, None] + sq[None] - 2 * latents[start:stop] @ latents.T  # squared distances
        d += rng.uniform(0.0, 1e-9, d.shape)  # random tie-breaking (identical discrete codes)
        near = np.abs(steps[start:stop, None] - steps[None]) <= window
        same = (episodes[start:stop, None] == episodes[None]) & near
        d[same] = np.inf  # the query itself and its near-duplicate frames
        nearest = np.argpartition(d, kmax, axis=1)[:, :kmax]
        order = np.take_along_axis(d, nearest, 1).argsort(1)
        nearest = np.take_along_axis(nearest, order, 1)
        for k in ks:
            sums[k] += actions[nearest[:, :k]].std(axis=1, ddof=1).sum(0)
    return {k: sums[k] / m / scale for k in ks}


def grouped(per_dim: np.ndarray) -> dict[str, float]:
    """Normalised std per dimension -> mean per group (movement / rotation / gripper; dims that exist)."""
    return {g: float(np.mean([per_dim[i] for i in dims])) for g, dims in GROUPS.items() if max(dims) < len(per_dim)}


def pair_actions(actions: np.ndarray, gap: int) -> np.ndarray:
    """Episode actions [T, Da] -> the action of every pair (t, t+gap), t < T - gap: [T - gap, Da] (arm dims summed
    over the gap, the gripper's last command)."""
    t = len(actions) - gap
    windows = np.stack([actions[i : i + t] for i in range(gap)])  # [gap, t, Da]
    out = windows.sum(0)
    out[:, -1] = windows[-1, :, -1]
    return out


def _demo_frames(paths: list[Path], key: str, size: int, gap: int):  # type: ignore[no-untyped-def]
    """(frames float [T, 3, size, size] in [0, 1], actions float64 [T, Da]) of every demo longer than ``gap``."""
    import torch

    from harness.data.features import resize_image
    from harness.data.hdf5_io import open_demo_file, read_demo
    from harness.nn.vision import images_to_float

    found = False
    for path in paths:
        meta = open_demo_file(Path(path), obs_keys=(key,))
        for name in meta.names:
            demo = read_demo(meta.path, name, (key,))
            if demo.actions is None or len(demo.actions) <= gap:
                continue
            found = True
            frames = images_to_float(torch.from_numpy(np.stack([resize_image(f, size) for f in demo.obs[key]])))
            yield frames, np.asarray(demo.actions, dtype=np.float64)
    if not found:
        raise HarnessError(f"knn-std: no demo in {', '.join(map(str, paths))} is longer than the gap {gap}")


def _collect(latents_of, paths: list[Path], key: str, size: int, gap: int) -> tuple[np.ndarray, ...]:  # type: ignore[no-untyped-def]
    """(latents [M, L], pair actions [M, Da], episode ids [M], steps [M]) with ``latents_of(frames)`` giving
    each demo's [T - gap, ...] latents."""
    lat, act, eps, steps = [], [], [], []
    for frames, actions in _demo_frames(paths, key, size, gap):
        z = latents_of(frames)
        lat.append(z.reshape(len(z), -1))
        act.append(pair_actions(actions, gap))
        eps.append(np.full(len(z), len(eps)))
        steps.append(np.arange(len(z)))
    return np.concatenate(lat), np.concatenate(act), np.concatenate(eps), np.concatenate(steps)


def laq_latents(checkpoint: str, paths: list[Path], quantized: bool) -> tuple[np.ndarray, ...]:
    """(latents [M, 4 * q], pair actions [M, Da], episode ids [M], steps [M]) of every demo's pairs."""
    import torch

    from world_models.laq import load_laq

    model = load_laq(checkpoint)
    gap = model.cfg.frame_gap

    @torch.no_grad()
    def latents_of(x: torch.Tensor) -> np.ndarray:
        delta = model.latent_delta(x[:-gap], x[gap:])  # [T - gap, 4, q]
        if quantized:
            codes = model.quantizer.nearest(delta.reshape(-1, delta.shape[-1]))
            delta = model.quantizer.codebook[codes].view(delta.shape)
        return delta.numpy()

    return _collect(latents_of, paths, model.cfg.image_key, model.cfg.image_size, gap)


def igor_lam_latents(checkpoint: str, paths: list[Path], quantized: bool) -> tuple[np.ndarray, ...]:
    """As ``laq_latents`` for IGOR's latent action model (its IDM's latent of every pair (t, t+H), with the
    window's earlier frames as context; continuous, or with ``quantized`` the VQ codebook vectors)."""
    import torch

    from world_models.igor_lam import load_igor_lam, window_indices

    model = load_igor_lam(checkpoint)
    gap = model.cfg.frame_gap

    @torch.no_grad()
    def latents_of(x: torch.Tensor) -> np.ndarray:
        idx = torch.from_numpy(window_indices(len(x), model.cfg.context, gap))
        z = torch.cat([model.idm(x[idx[i : i + BLOCK]]) for i in range(0, len(idx), BLOCK)])
        return (model.quantize(z)[0] if quantized else z).numpy()

    return _collect(latents_of, paths, model.cfg.image_key, model.cfg.image_size, gap)


def lac_wm_latents(checkpoint: str, paths: list[Path], quantized: bool) -> tuple[np.ndarray, ...]:
    """As ``laq_latents`` for LAC-WM's IDM: its continuous latent [M, latent_tokens * D] of the frozen encoder's
    tokens of every pair (t, t + segment) (LAC-WM has no quantizer)."""
    import torch

    from world_models.lac_wm import load_lac_wm
    from world_models.token_encoders import load_token_encoder

    if quantized:
        raise HarnessError("lac_wm: its IDM latent is continuous (no codebook); drop --quantized")
    model, cfg = load_lac_wm(checkpoint)
    encoder = load_token_encoder(cfg.encoder)
    gap = cfg.segment

    @torch.no_grad()
    def latents_of(x: torch.Tensor) -> np.ndarray:
        tokens = torch.cat([encoder.encode(x[i : i + BLOCK]) for i in range(0, len(x), BLOCK)])  # [T, N, D]
        first, last = tokens[:-gap], tokens[gap:]
        pairs = range(0, len(first), BLOCK)
        return torch.cat([model.idm(first[i : i + BLOCK], last[i : i + BLOCK]) for i in pairs]).numpy()

    return _collect(latents_of, paths, "agentview_rgb", encoder.cfg.image_size, gap)


EXTRACTORS = {"laq": laq_latents, "igor_lam": igor_lam_latents, "lac_wm": lac_wm_latents}


def _plot(results: dict[str, dict[int, dict[str, float]]], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = list(next(iter(next(iter(results.values())).values())))
    fig, axes = plt.subplots(1, len(groups), figsize=(4 * len(groups), 3.2), sharey=True)
    for ax, group in zip(np.atleast_1d(axes), groups, strict=True):
        for label, by_k in results.items():
            ks = sorted(by_k)
            ax.plot(ks, [by_k[k][group] for k in ks], marker="o", label=label)
        ax.set_xscale("log", base=2)
        ax.set_title(group)
        ax.set_xlabel("neighbours N")
        ax.axhline(1.0, color="grey", lw=0.5)
    np.atleast_1d(axes)[0].set_ylabel("action std / global std")
    np.atleast_1d(axes)[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    p = OneLineParser(prog="python -m world_models.latent_metrics", description=__doc__.split("\n")[0])
    p.add_argument("command", choices=["knn-std", "cca"])
    p.add_argument("--model", choices=sorted(EXTRACTORS), help="knn-std: the latent action model")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--data", nargs="+", required=True, help="held-out demo HDF5 file(s) (with actions)")
    p.add_argument("--ks", default="2,4,8,16,32,64,128")
    p.add_argument("--window", type=int, default=3)
    p.add_argument("--quantized", action="store_true", help="quantized codes instead of the continuous latent")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="results/latent_metrics")
    args = p.parse_args(argv)
    try:
        ks = [int(k) for k in args.ks.split(",") if k]
    except ValueError:
        raise HarnessError(f"--ks expects comma-separated integers, got {args.ks!r}") from None
    if not Path(args.checkpoint).is_dir():
        raise HarnessError(f"--checkpoint: folder not found: {args.checkpoint}")
    if args.command == "cca":
        return _cca(args)
    if args.model is None:
        raise HarnessError("knn-std needs --model (" + " | ".join(sorted(EXTRACTORS)) + ")")
    latents, actions, episodes, steps = EXTRACTORS[args.model](args.checkpoint, [Path(d) for d in args.data],
                                                               args.quantized)  # fmt: skip
    shuffled = np.random.default_rng(args.seed).permutation(len(latents))
    results = {}
    for label, lat in ((args.model, latents), ("shuffled latents", latents[shuffled])):
        per_k = knn_action_std(lat, actions, episodes, steps, ks, args.window, args.seed)
        results[label] = {k: grouped(v) for k, v in per_k.items()}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report = {"model": args.model, "checkpoint": args.checkpoint, "data": args.data, "pairs": len(latents),
              "quantized": args.quantized, "window": args.window, "results": results}  # fmt: skip
    (out / "knn_std.json").write_text(json.dumps(report, indent=2) + "\n")
    _plot(results, out / "knn_std.png")
    print(json.dumps({label: by_k[min(by_k)] for label, by_k in results.items()}))
    return 0


def _cca(args) -> int:  # type: ignore[no-untyped-def]
    from world_models.cca import cca_report, policy_latent_pairs

    paths = [Path(d) for d in args.data]
    for path in paths:
        if not path.is_file():
            raise HarnessError(f"--data: file not found: {path}")
    from harness.engine.scenes import checkpoint_scenes, overlap, scenes_of_file

    latents, actions, episodes, groups = policy_latent_pairs(args.checkpoint, paths, args.seed)
    results = cca_report(latents, actions, episodes, groups, args.seed)
    trained = checkpoint_scenes(args.checkpoint) or []
    shared = overlap(sorted({s for p in paths for s in scenes_of_file(p)}), trained)
    if shared:
        print(f"warning: {len(shared)} scene(s) of --data are training scenes in the checkpoint's lineage (its own "
              "data or a parent's, e.g. a frozen image encoder's)", file=sys.stderr)  # fmt: skip
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report = {"checkpoint": args.checkpoint, "data": args.data, "pairs": len(latents),
              "episodes": int(len(np.unique(episodes))), "seed": args.seed,
              "lineage_training_scenes_in_data": len(shared), "results": results}  # fmt: skip
    (out / "cca.json").write_text(json.dumps(report, indent=2) + "\n")
    for group, row in results.items():
        cca = "-" if row["cca"] is None else f"{row['cca']:.3f}"
        shuffled = "-" if row["shuffled"] is None else f"{row['shuffled']:.3f}"
        print(f"{group:>12}  pairs {row['pairs']:>6}  cca {cca:>6}  shuffled {shuffled:>6}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
