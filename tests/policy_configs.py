"""Tiny configs for every trainable policy (tests and the golden-output script share them)."""

from __future__ import annotations

from typing import Any

SHARED: dict[str, Any] = {
    "image_size": 16,
    "vision_widths": [8, 16],
    "vision_dim": 16,
    "obs_horizon": 2,
    "action_horizon": 4,
    "n_action_steps": 2,
    "text_encoder": "hash",
    "shift_pad": 1,
}
EXTRA: dict[str, dict[str, Any]] = {
    "diffusion": {"down_dims": [16, 32], "train_timesteps": 20, "inference_steps": 4, "text_dim": 8},
    "baku": {"d_model": 32, "layers": 1, "heads": 2, "head_hidden": 32, "dropout": 0.0},
    "lapa": {"d_model": 32, "layers": 1, "heads": 2, "dropout": 0.0, "bins": 8, "obs_horizon": 1,
             "action_horizon": 1, "n_action_steps": 1},
    "igor": {"d_model": 32, "layers": 1, "heads": 2, "dropout": 0.0, "head_hidden": 32},
    "igor_nolatent": {"d_model": 32, "layers": 1, "heads": 2, "dropout": 0.0, "head_hidden": 32},
}
# model-builder info beyond INFO that a policy's data builder provides (LAPA: the quantile bins of its data)
EXTRA_INFO: dict[str, dict[str, Any]] = {
    "lapa": {"action_bins": [[-1.0, -0.5, 0.0, 0.5, 1.0]] * 6 + [[-1.5, 0.0, 1.5]]},
}
INFO = {"action_dim": 7, "proprio_dim": 8, "num_views": 1, "quat_order": "wxyz"}
TINY_LATENT_SHAPE = [4, 8]  # (N, Dl) of the tiny IGOR foundation policies below
_FOUNDATIONS: dict[str, str] = {}


def tiny_foundation(inputs: dict[str, Any]) -> str:
    """A randomly initialised (seed 0) IGOR foundation-stage checkpoint reading ``inputs`` (image keys, size,
    vision, ...), written once per process to a temporary folder: the frozen parent of a tiny ``igor`` policy."""
    import json
    import tempfile

    import torch

    from harness.nn.checkpoint import save_checkpoint
    from harness.policy.chunk_policy import config_from_dict, config_to_dict
    from policies.igor.config import IgorConfig
    from policies.igor.model import FoundationModel

    key = json.dumps(inputs, sort_keys=True)
    if key not in _FOUNDATIONS:
        values = {**config_to_dict(IgorConfig()), **SHARED, **EXTRA["igor"], **inputs}
        cfg = config_from_dict(IgorConfig, {**values, "stage": "foundation", "lam": "tiny", "foundation": ""})
        data = {"stage": "foundation", "latent_shape": TINY_LATENT_SHAPE, "text_encoder": "hash",
                "frame_gap": cfg.action_horizon}  # fmt: skip
        with torch.random.fork_rng():  # leaves the caller's random state alone
            torch.manual_seed(0)
            model = FoundationModel(cfg, data)
        folder = tempfile.mkdtemp(prefix="tiny_igor_foundation_")
        save_checkpoint(folder, {"component": "policy", "name": "igor", "config": config_to_dict(cfg), "data": data},
                        model.state_dict(), None)  # fmt: skip
        _FOUNDATIONS[key] = folder
    return _FOUNDATIONS[key]


def with_parents(cfg: Any) -> Any:
    """``cfg`` with its frozen parents (an IGOR foundation policy) made to match its inputs."""
    import dataclasses

    if getattr(cfg, "LATENT_INPUT", False) and cfg.stage == "lowlevel":
        from policies.igor.data import SHARED_INPUTS

        inputs = {f: list(v) if isinstance(v, tuple) else v for f in SHARED_INPUTS for v in [getattr(cfg, f)]}
        return dataclasses.replace(cfg, foundation=tiny_foundation(inputs))
    return cfg


def extra_info(cfg: Any, name: str) -> dict[str, Any]:
    """Model-builder info beyond INFO for ``cfg`` (the quantile bins, the foundation policy's description)."""
    info = dict(EXTRA_INFO.get(name, {}))
    if getattr(cfg, "LATENT_INPUT", False) and cfg.stage == "lowlevel":
        from policies.igor.data import foundation_parent

        info["foundation"] = foundation_parent(cfg)
    return info


def tiny_config(spec: Any) -> Any:
    """The spec's config dataclass with the shared tiny fields (+ its extras where listed, + tiny parents)."""
    from harness.policy.chunk_policy import config_from_dict, config_to_dict

    values = {**config_to_dict(spec.config_cls()), **SHARED, **EXTRA.get(spec.name, {})}
    if getattr(spec.config_cls, "LATENT_INPUT", False):
        values["foundation"] = "pending"  # replaced by with_parents
    return with_parents(config_from_dict(spec.config_cls, values))


def fixed_batch(n: int = 3, seed: int = 0) -> dict:
    """A deterministic model batch for the tiny config."""
    import torch

    g = torch.Generator().manual_seed(seed)
    return {
        "images": torch.rand((n, 2, 1, 3, 16, 16), generator=g),
        "proprio": torch.randn((n, 2, 8), generator=g),
        "text": torch.nn.functional.normalize(torch.randn((n, 384), generator=g), dim=-1),
        "actions": torch.rand((n, 4, 7), generator=g) * 2 - 1,
        "action_mask": torch.ones((n, 4), dtype=torch.bool),
    }
