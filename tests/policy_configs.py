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
}
# model-builder info beyond INFO that a policy's data builder provides (LAPA: the quantile bins of its data)
EXTRA_INFO: dict[str, dict[str, Any]] = {
    "lapa": {"action_bins": [[-1.0, -0.5, 0.0, 0.5, 1.0]] * 6 + [[-1.5, 0.0, 1.5]]},
}
INFO = {"action_dim": 7, "proprio_dim": 8, "num_views": 1, "quat_order": "wxyz"}


def tiny_config(spec: Any) -> Any:
    """The spec's config dataclass with the shared tiny fields (+ its extras where listed)."""
    from harness.policy.chunk_policy import config_from_dict, config_to_dict

    values = {**config_to_dict(spec.config_cls()), **SHARED, **EXTRA.get(spec.name, {})}
    return config_from_dict(spec.config_cls, values)


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
