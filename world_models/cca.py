"""LAWM's CCA metric (paper 003 §IV, Table III): the first canonical correlation between a pretrained policy's
latent actions and the true actions on labelled data, per task group (the instruction's first word).

Choices (the paper publishes no code; ../shared/docs/reference/latent-actions.md §4.6):
- pairs are per step: the latent z_k [latent_dim] of the chunk predicted at frame t with the true action a_{t+k}
  [Da], for every complete chunk (t + Hz <= T) and k < Hz;
- CCA (scikit-learn, one component) is fitted on the pairs of one half of the demonstrations and the correlation
  of the two projections is reported on the other half (CCA on few samples overfits upwards);
- the shuffled-pairs baseline fits and reports on pairs whose latents are permuted within each half.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from harness.errors import HarnessError

MIN_PAIRS, MIN_EPISODES = 20, 2  # per half; fewer and the group is reported as too small


def first_canonical_correlation(
    z_fit: np.ndarray, y_fit: np.ndarray, z_eval: np.ndarray, y_eval: np.ndarray
) -> float:
    """Fit one-component CCA on (z_fit [M, p], y_fit [M, q]); the correlation of the projections of
    (z_eval [M', p], y_eval [M', q]). Constant columns are dropped (fitted on the fit split)."""
    from sklearn.cross_decomposition import CCA

    keep_z, keep_y = z_fit.std(0) > 1e-12, y_fit.std(0) > 1e-12
    if not keep_z.any() or not keep_y.any():
        return 0.0
    cca = CCA(n_components=1, max_iter=2000).fit(z_fit[:, keep_z], y_fit[:, keep_y])
    u, v = cca.transform(z_eval[:, keep_z], y_eval[:, keep_y])
    u, v = u[:, 0], v[:, 0]
    if u.std() < 1e-12 or v.std() < 1e-12:
        return 0.0
    return float(np.corrcoef(u, v)[0, 1])


def cca_report(
    latents: np.ndarray, actions: np.ndarray, episodes: np.ndarray, groups: np.ndarray, seed: int = 0
) -> dict[str, Any]:
    """latents [M, p], actions [M, q], episode ids [M], group labels [M] -> {group: {"cca", "shuffled", "pairs"}}
    for every group and "all"; the fit / report halves split episodes (seeded)."""
    rng = np.random.default_rng(seed)
    ids = np.unique(episodes)
    fit_ids = set(rng.permutation(ids)[: len(ids) // 2].tolist())
    fit = np.isin(episodes, list(fit_ids))
    out: dict[str, Any] = {}
    for name in ["all", *sorted(set(groups.tolist()))]:
        sel = np.ones(len(latents), bool) if name == "all" else groups == name
        a, b = sel & fit, sel & ~fit
        few = min(a.sum(), b.sum()) < MIN_PAIRS or min(len(np.unique(episodes[a])), len(np.unique(episodes[b]))) < 2
        if few:
            out[name] = {"pairs": int(sel.sum()), "cca": None, "shuffled": None,
                         "note": f"fewer than {MIN_EPISODES} episodes or {MIN_PAIRS} pairs in a half"}  # fmt: skip
            continue
        row = {"pairs": int(sel.sum()), "fit_pairs": int(a.sum())}
        row["cca"] = first_canonical_correlation(latents[a], actions[a], latents[b], actions[b])
        za, zb = latents[a][rng.permutation(a.sum())], latents[b][rng.permutation(b.sum())]
        row["shuffled"] = first_canonical_correlation(za, actions[a], zb, actions[b])
        out[name] = row
    return out


def policy_latent_pairs(checkpoint: str, paths: list[Path], seed: int = 0) -> tuple[np.ndarray, ...]:
    """A pretrain=lawm checkpoint's latent chunks on demonstrations (inputs as in pretraining: the policy's
    cameras, zero proprio, the instruction) -> (latents [M, latent_dim], actions [M, Da], episode ids [M],
    groups [M] (instruction's first word)), one row per (chunk start t, step k)."""
    import torch

    from harness.data.hdf5_io import open_demo_file, read_demo
    from harness.nn.checkpoint import load_checkpoint, load_state_into
    from harness.nn.text import TextEncoder
    from harness.nn.vision import images_to_float
    from harness.policy.chunk_policy import config_features, config_from_dict, group_views
    from harness.registry import TRAINABLES

    ckpt = load_checkpoint(checkpoint, component="policy")
    name, info = str(ckpt.meta["name"]), ckpt.meta.get("data", {})
    if info.get("stage") != "lawm_pretrain":
        raise HarnessError(f"cca: {checkpoint} is not a LAWM pretraining checkpoint (pretrain=lawm)")
    spec = TRAINABLES.get(f"policy/{name}")()
    cfg = config_from_dict(spec.config_cls, ckpt.meta["config"])
    model = spec.build_model(cfg, info)
    load_state_into(model, ckpt.state_dict, ckpt.folder)
    policy = model.policy.eval()
    text = TextEncoder(str(info.get("text_encoder", cfg.text_encoder)))
    features = config_features(cfg, paths) if cfg.cache_features else None
    key = "image_features" if features is not None else "images"
    gen = torch.Generator().manual_seed(seed)
    hz, to, dp = cfg.action_horizon, cfg.obs_horizon, int(info["proprio_dim"])
    lat, act, eps, grp = [], [], [], []
    for path in paths:
        meta = open_demo_file(Path(path), obs_keys=cfg.image_keys)
        for demo_name in meta.names:
            demo = read_demo(meta.path, demo_name, cfg.image_keys)
            starts = np.arange(len(demo.actions) - hz + 1) if demo.actions is not None else np.arange(0)
            if len(starts) == 0:
                continue
            views = group_views(cfg, demo.obs, features, path, demo_name)
            instruction = str(demo.attrs.get("instruction", meta.instruction))
            hist = np.clip(starts[:, None] + np.arange(-to + 1, 1)[None], 0, None)  # [N, To]
            chunks = []
            with torch.no_grad():
                for s in range(0, len(starts), 256):
                    sel = torch.from_numpy(views[hist[s : s + 256]])
                    visual = sel if features is not None else images_to_float(sel)
                    n = len(visual)
                    batch = {key: visual, "proprio": torch.zeros(n, to, dp),
                             "text": torch.from_numpy(text.encode([instruction] * n))}  # fmt: skip
                    chunks.append(policy.latent_actions(batch, gen).numpy())
            z = np.concatenate(chunks)  # [N, Hz, L]
            y = np.stack([demo.actions[t : t + hz] for t in starts])  # [N, Hz, Da]
            lat.append(z.reshape(-1, z.shape[-1]))
            act.append(y.reshape(-1, y.shape[-1]).astype(np.float64))
            eps.append(np.full(len(z) * hz, len(eps)))
            grp.append(np.full(len(z) * hz, (instruction.split() or ["?"])[0].lower()))
    if not lat:
        raise HarnessError(f"cca: no demo in {', '.join(map(str, paths))} has {hz} actions or more")
    return np.concatenate(lat), np.concatenate(act), np.concatenate(eps), np.concatenate(grp)
