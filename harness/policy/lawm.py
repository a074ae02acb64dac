"""LAWM (Tian et al., paper 003): pretrain a chunk policy through a world model on action-free video, then
finetune it on demonstrations. Shared by every chunk policy whose config mixes in ``LawmFields`` (BAKU,
Diffusion Policy); policies declare two things:

    latent_actions(batch, generator) -> float [B, Hz, latent_dim]  the differentiable chunk that drives the world
                                        model (BAKU: its head output; DP: one denoising step from pure noise)
    last_action_layer() -> nn.Module    the layer ``reinit_last_layer`` starts fresh at finetuning

``--set pretrain=lawm`` (clips or demos; actions, if any, are not read): the policy's latent chunk for frame t
drives an RSSM (world_models.rssm) from frame t through t+Hz (latent k: frame t+k -> t+k+1; the paper's
alignment) and the world-model loss is backpropagated into the policy. ``--set detach_latents=true`` cuts that
path, as the released code does (the policy then receives no gradient). Action-free video has no proprioception:
the policy sees zeros of the width its ``proprio_keys`` have in the clip files (LAWM feeds zeros for SSv2 too).
Clips are padded at their end with the last frame, as LAWM pads ``wm_obs``.

``--set init=PRETRAIN_DIR`` (demos): the policy starts from the pretrained policy weights (the world model is
discarded); ``reinit_last_layer`` (default true, the paper; false: the released code) leaves the last action
layer at its fresh initialisation.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from harness.data.dataset import history_indices
from harness.data.features import file_features, stacked_views, stored_keys
from harness.data.hdf5_io import open_demo_file, read_demo
from harness.data.splits import split_files
from harness.errors import HarnessError
from harness.nn.text import TextEncoder
from harness.nn.training import TrainData
from harness.nn.vision import images_to_float
from world_models.rssm import RSSM, RssmConfig

PRETRAIN_STAGE = "lawm_pretrain"
# config fields a finetuning run may set differently from its pretrained parent (every other field must match;
# the LawmFields and the text encoder, compared by its resolved name, are handled separately)
MAY_DIFFER = ("n_action_steps", "sample_noise", "sample_noise_kind", "shift_pad", "cache_features", "feature_cache_dir",
              "dropout", "action_norm", "inference_steps", "text_encoder")  # fmt: skip


@dataclass(frozen=True)
class LawmFields:
    """LAWM pretraining / finetuning fields a chunk policy config mixes in (see the module docstring)."""

    pretrain: str = ""  # "": train on demonstrations | lawm: pretrain through an RSSM on action-free clips
    init: str = ""  # finetuning: a pretrain=lawm checkpoint folder of the same policy to start from
    reinit_last_layer: bool = True  # finetuning from init: the last action layer starts fresh (the paper)
    detach_latents: bool = False  # pretraining: cut the latents from the policy (the released code's behaviour)
    latent_dim: int = 7  # pretraining: width of a latent action (the paper: the action dimension)
    wm_image_key: str = ""  # the camera the world model reconstructs ("": the first of image_keys)
    wm_image_size: int = 0  # the world model's frame size (0: image_size; a power of two)
    wm_deter: int = 256
    wm_hidden: int = 128
    wm_stoch: int = 8
    wm_classes: int = 8
    wm_depth: int = 16
    wm_open_loop: float = 0.0  # > 0: also decode the prior-only rollout driven by the latents (a deviation)


def validate_lawm(cfg: Any) -> None:
    """One HarnessError line for an inconsistent LAWM setting."""
    if cfg.pretrain not in ("", "lawm"):
        raise HarnessError(f"pretrain must be '' or lawm, got {cfg.pretrain!r}")
    if cfg.pretrain and cfg.init:
        raise HarnessError("pretrain=lawm trains from scratch; init is for finetuning a pretrained checkpoint")
    if cfg.latent_dim < 1:
        raise HarnessError("latent_dim must be >= 1")
    if cfg.pretrain == "lawm":
        rssm_config(cfg).validate()


def rssm_config(cfg: Any) -> RssmConfig:
    return RssmConfig(
        action_dim=cfg.latent_dim,
        image_size=cfg.wm_image_size or cfg.image_size,
        deter=cfg.wm_deter,
        hidden=cfg.wm_hidden,
        stoch=cfg.wm_stoch,
        classes=cfg.wm_classes,
        depth=cfg.wm_depth,
        open_loop=cfg.wm_open_loop,
    )


def wm_key(cfg: Any) -> str:
    return cfg.wm_image_key or cfg.image_keys[0]


class LawmClips(torch.utils.data.Dataset):
    """Pretraining windows of action-free groups. Item -> {"images": uint8 [To, V, S, S, 3] (or cached
    "image_features" float32 [To, V, F]), frames t-To+1..t padded with frame 0; "wm_frames": uint8 [Hz+1, Sw, Sw, 3],
    frames t..t+Hz of the world model's camera padded with the last frame; "instruction": str}."""

    def __init__(self, groups: list[tuple[np.ndarray, np.ndarray, str]], obs_horizon: int, chunk: int, key: str):
        self.groups, self.obs_horizon, self.chunk, self.key = groups, obs_horizon, chunk, key
        self.index = [(g, t) for g, (_, wm, _) in enumerate(groups) for t in range(len(wm) - 1)]

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> dict[str, Any]:
        g, t = self.index[i]
        views, wm, instruction = self.groups[g]
        hist = history_indices(t, self.obs_horizon)
        ahead = np.clip(np.arange(t, t + self.chunk + 1), None, len(wm) - 1)
        return {self.key: torch.from_numpy(views[hist]), "wm_frames": torch.from_numpy(wm[ahead]),
                "instruction": instruction}  # fmt: skip


def pretrain_data(cfg: Any, paths: list[Path], seed: int, val_fraction: float) -> TrainData:
    """Clip (or demo) files -> LawmClips train / val (split by group) and the batch builder (no augmentation:
    LAWM pretrains with ``aug=identity``)."""
    from harness.policy.chunk_policy import config_features, group_views

    cfg.validate()
    key = wm_key(cfg)
    features = config_features(cfg, paths, with_clips=True) if cfg.cache_features else None
    split = split_files(paths, val_fraction, seed, require_actions=False)
    train_groups, val_groups, widths = [], [], set()  # widths: of proprio_keys in the groups that have them
    cameras = () if features is not None else cfg.image_keys  # cached features replace the policy's frames
    read_keys = tuple(dict.fromkeys((*cameras, key, *stored_keys(cfg.proprio_keys))))
    for path in paths:
        meta = open_demo_file(Path(path), require_actions=False, obs_keys=(*cfg.image_keys, key))
        for name in meta.names:
            demo = read_demo(meta.path, name, read_keys, missing_ok=True)
            if not cfg.proprio_keys:
                widths.add(0)
            elif all(k in demo.obs for k in stored_keys(cfg.proprio_keys)):
                widths.add(file_features(demo.obs, cfg.proprio_keys).shape[1])
            views = group_views(cfg, demo.obs, features, path, name)
            wm = stacked_views(demo.obs, (key,), cfg.wm_image_size or cfg.image_size)[:, 0]
            instruction = str(demo.attrs.get("instruction", meta.instruction))
            (val_groups if split.is_val(path, name) else train_groups).append((views, wm, instruction))
    if len(widths) != 1:  # the zero proprio input needs the width the finetuning demonstrations will have
        raise HarnessError(f"pretraining files {'disagree on' if widths else 'hold no group with'} the width of "
                           f"proprio_keys {list(cfg.proprio_keys)}{': ' + str(sorted(widths)) if widths else ''}; "
                           "add one group that has them, or pretrain with the proprio_keys the finetuning will use")
    visual = "image_features" if features is not None else "images"
    train = LawmClips(train_groups, cfg.obs_horizon, cfg.action_horizon, visual)
    if len(train) == 0:
        raise HarnessError(f"lawm: no group in {', '.join(map(str, paths))} has two frames or more")
    val = LawmClips(val_groups, cfg.obs_horizon, cfg.action_horizon, visual) if val_groups else None
    proprio_dim = widths.pop()
    text = TextEncoder(cfg.text_encoder)
    text.encode(sorted({g[2] for g in train_groups + val_groups}))  # cached before workers fork

    def to_batch(raw: dict[str, Any], gen: torch.Generator, device: torch.device, is_train: bool) -> dict:
        b = len(raw["instruction"])
        visual_in = raw[visual] if features is not None else images_to_float(raw["images"])
        return {
            visual: visual_in.to(device),
            "proprio": torch.zeros(b, cfg.obs_horizon, proprio_dim, device=device),
            "text": torch.from_numpy(text.encode(list(raw["instruction"]))).to(device),
            "wm_frames": images_to_float(raw["wm_frames"]).to(device),
        }

    info = {
        "stage": PRETRAIN_STAGE,
        "action_dim": cfg.latent_dim,
        "proprio_dim": proprio_dim,
        "num_views": len(cfg.image_keys),
        "wm_image_key": key,
        "text_encoder": text.name,
        "train_samples": len(train),
        "val_samples": len(val) if val is not None else 0,
        "train_groups": len(train_groups),
    }
    return TrainData(train, val, None, info, to_batch)


class LawmPretrainModel(nn.Module):
    """A chunk policy and an RSSM trained as one module: the policy's latent chunk [B, Hz, latent_dim] for frame t
    drives the RSSM over frames t..t+Hz; the loss is the world-model loss."""

    def __init__(self, policy: nn.Module, cfg: Any):
        super().__init__()
        if not callable(getattr(policy, "latent_actions", None)):
            raise HarnessError(f"{type(policy).__name__} declares no latent_actions(batch, generator) for LAWM")
        self.policy, self.detach = policy, bool(cfg.detach_latents)
        self.wm = RSSM(rssm_config(cfg))

    def compute_loss(self, batch: dict[str, torch.Tensor], generator: torch.Generator | None) -> tuple:
        latents = self.policy.latent_actions(batch, generator)
        if self.detach:
            latents = latents.detach()
        loss, logs = self.wm.loss(batch["wm_frames"], latents, generator)
        logs.update({"latent_abs": float(latents.detach().abs().mean()),
                     "latent_std": float(latents.detach().std(0).mean())})  # fmt: skip
        return loss, logs


def last_layer_keys(model: nn.Module) -> set[str]:
    """State-dict keys of ``model.last_action_layer()``."""
    layer = model.last_action_layer()
    for prefix, module in model.named_modules():
        if module is layer:
            return {f"{prefix}.{k}" for k in layer.state_dict()}
    raise HarnessError(f"{type(model).__name__}.last_action_layer() is not one of its modules")


def load_pretrained(model: nn.Module, cfg: Any, info: dict[str, Any], name: str, config_cls: type) -> list[str]:
    """Copy the policy weights of the pretrain=lawm checkpoint ``cfg.init`` into ``model`` (all of them, except
    the last action layer when ``cfg.reinit_last_layer``); returns the keys left at their fresh initialisation."""
    from harness.nn.checkpoint import load_checkpoint
    from harness.policy.chunk_policy import config_from_dict

    ckpt = load_checkpoint(cfg.init, component="policy", name=name)
    parent = config_from_dict(config_cls, ckpt.meta["config"])
    if parent.pretrain != "lawm":
        raise HarnessError(f"{name}: init {cfg.init} is not a pretrain=lawm checkpoint")
    lawm_fields = {f.name for f in dataclasses.fields(LawmFields)}
    differ = [f.name for f in dataclasses.fields(cfg)
              if f.name not in lawm_fields and f.name not in MAY_DIFFER
              and getattr(parent, f.name) != getattr(cfg, f.name)]  # fmt: skip
    parent_info = ckpt.meta.get("data", {})
    if parent_info.get("text_encoder") != info.get("text_encoder"):
        differ.append("text_encoder")
    if int(parent_info.get("proprio_dim", -1)) != int(info["proprio_dim"]):
        differ.append(f"proprio width ({parent_info.get('proprio_dim')} vs {info['proprio_dim']})")
    if differ:
        raise HarnessError(f"{name}: init {cfg.init} differs in {', '.join(differ)}; use its values")
    fresh = last_layer_keys(model) if cfg.reinit_last_layer else set()
    state = {k.removeprefix("policy."): v for k, v in ckpt.state_dict.items() if k.startswith("policy.")}
    state = {k: v for k, v in state.items() if k not in fresh}
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[1:2]
        raise HarnessError(f"{name}: init {cfg.init} does not match this model: {' '.join(first)}") from exc
    if unexpected or set(missing) - fresh:
        raise HarnessError(f"{name}: init {cfg.init} does not match this model "
                           f"(missing {sorted(set(missing) - fresh)}, unexpected {sorted(unexpected)})")  # fmt: skip
    return sorted(fresh)


def trainable_builders(
    name: str, config_cls: type, build_model: Callable[[Any, dict[str, Any]], nn.Module]
) -> tuple[Callable, Callable]:
    """(make_data, build_model) of ``policy/<name>`` with LAWM: pretraining on clips, finetuning from ``init``."""
    from harness.policy.chunk_policy import chunk_policy_data

    def make_data(cfg: Any, paths: list[Path], seed: int, val_fraction: float) -> TrainData:
        if cfg.pretrain == "lawm":
            return pretrain_data(cfg, paths, seed, val_fraction)
        return chunk_policy_data(cfg, paths, seed, val_fraction)

    def build(cfg: Any, info: dict[str, Any]) -> nn.Module:
        model = build_model(cfg, info)
        if cfg.pretrain == "lawm":
            return LawmPretrainModel(model, cfg)
        if cfg.init:
            load_pretrained(model, cfg, info, name, config_cls)
        return model

    return make_data, build


def check_not_pretraining(cfg: Any, folder: str) -> None:
    """A pretrain=lawm checkpoint has no action head trained on actions: one clear line instead of a load error."""
    if getattr(cfg, "pretrain", "") == "lawm":
        raise HarnessError(f"{folder} is a LAWM pretraining checkpoint (latent actions, no action training); "
                           "finetune it first: python -m harness.train ... --set init=DIR --data DEMOS")  # fmt: skip
