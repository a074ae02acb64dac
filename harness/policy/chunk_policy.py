"""What every trained action-chunk policy shares: its I/O config, batch preparation, and the runtime that
turns live observations into normalised model inputs and model outputs back into env actions.

A chunk model implements (normalised units throughout):
    compute_loss(batch, generator) -> (loss scalar, {name: float})
    predict(batch, n, generator)   -> actions float32 [n, Hz, Da] for a batch of ONE observation
with batch = {"images": float [B, To, V, 3, H, W] in [0, 1], "proprio": [B, To, Dp], "text": [B, 384],
              "actions": [B, Hz, Da], "action_mask": bool [B, Hz]} (the last two only for training).
Training with ``cache_features`` (a frozen ``vision`` encoder) replaces "images" by "image_features"
float [B, To, V, F]: the frozen encoder's ``features`` of the same frames, computed once per demo file
(harness.data.feature_cache); at evaluation the model computes them live from "images" with that function.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol

import numpy as np
import torch
from torch import nn

from harness.data.dataset import DemoChunkDataset, NormStats, split_episodes
from harness.data.feature_cache import cached_features
from harness.data.features import IMAGE_KEYS_FROM_ENV, live_features, stacked_views
from harness.data.hdf5_io import open_demo_file
from harness.engine.render import ObservationNeeds
from harness.errors import HarnessError
from harness.nn.checkpoint import load_checkpoint, load_state_into
from harness.nn.text import TextEncoder
from harness.nn.training import TrainData
from harness.nn.frozen import FrozenEncoder, build_frozen_encoder, is_frozen_kind
from harness.policy.lawm import check_not_pretraining
from harness.nn.vision import images_to_float, random_shift
from harness.protocols import EpisodeSpec, Obs


@dataclass(frozen=True)
class ChunkPolicyConfig:
    """Observation / action interface shared by every chunk policy (model configs extend it)."""

    image_keys: tuple[str, ...] = ("agentview_rgb",)
    proprio_keys: tuple[str, ...] = ("ee_pos", "ee_rot6d", "gripper_states")  # continuous orientation
    image_size: int = 64  # frames are resized to this square size
    obs_horizon: int = 2  # To: observation frames fed to the model
    action_horizon: int = 16  # Hz: predicted chunk length
    n_action_steps: int = 8  # executed steps per decision (<= Hz)
    text_encoder: str = "auto"  # auto | minilm | hash (checkpoints store the resolved name)
    vision: str = "conv"  # conv (trained end to end) | frozen: hf:/local/hf/model_folder | ckpt:/trained/encoder_dir
    vision_widths: tuple[int, ...] = (32, 64, 128)
    vision_dim: int = 64
    shift_pad: int = 4  # random-shift augmentation in training (pixels)
    action_norm: str = "meanstd"  # meanstd | minmax
    cache_features: bool = False  # frozen vision only: train on features computed once per demo file (no shifts)
    feature_cache_dir: str = ""  # where the feature cache lives; "": next to each demo file

    def validate(self) -> None:
        if not 1 <= self.n_action_steps <= self.action_horizon:
            raise HarnessError(f"n_action_steps must be in 1..action_horizon, got {self.n_action_steps}")
        if self.obs_horizon < 1 or self.image_size < 16:
            raise HarnessError("obs_horizon must be >= 1 and image_size >= 16")
        if not self.image_keys:
            raise HarnessError("image_keys must name at least one camera")
        if self.cache_features and not is_frozen_kind(self.vision):
            raise HarnessError(
                f"cache_features needs a frozen encoder (vision=hf:/folder or ckpt:/dir), not vision={self.vision!r}"
            )


def config_from_dict(cls: type, data: dict[str, Any]) -> Any:
    """Dataclass from JSON-ish data (lists -> tuples); unknown keys raise one HarnessError line."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise HarnessError(f"unknown {cls.__name__} field(s): {', '.join(unknown)}; known: {', '.join(fields)}")
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
    return cls(**values)


def config_to_dict(cfg: Any) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(cfg).items()}


def encode_images(
    encoder: nn.Module, batch: dict[str, torch.Tensor], view: int | None = None, cond: torch.Tensor | None = None
) -> torch.Tensor:
    """Encoder features [N, out_dim] of view ``view`` (N = B * To) or of every view (``None``: N = B * To * V,
    in (b, t, v) order) of a chunk batch: from cached "image_features" [B, To, V, F] (a FrozenEncoder's
    projection) or from "images" [B, To, V, 3, H, W] (the whole encoder; ``cond`` [N, Dc] for FiLM)."""
    key = "image_features" if "image_features" in batch else "images"
    x = batch[key]
    x = x.flatten(0, 2) if view is None else x[:, :, view].flatten(0, 1)
    if key == "images":
        return encoder(x, cond)
    if not isinstance(encoder, FrozenEncoder):
        raise HarnessError("cached image features need a frozen vision encoder (hf:/folder or ckpt:/dir)")
    return encoder.project(x)


class ChunkModel(Protocol):
    def compute_loss(self, batch: dict[str, torch.Tensor], generator: torch.Generator | None) -> tuple: ...

    def predict(
        self, batch: dict[str, torch.Tensor], n: int, generator: torch.Generator | None, greedy: bool = False
    ) -> torch.Tensor:
        """n chunks [n, Hz, Da] (normalised) for a batch of one observation: ``greedy`` (``act``) the model's
        most likely chunk where it has one, else (``sample``, any n, including 1) n draws of its declared
        sampling."""
        ...


def training_batch(
    raw: dict[str, Any], text: TextEncoder, shift_pad: int, device: torch.device, generator: torch.Generator | None
) -> dict[str, torch.Tensor]:
    """Collated DemoChunkDataset items -> model batch (images augmented with random shifts when shift_pad > 0;
    cached "image_features" pass through unaugmented)."""
    if "image_features" in raw:
        visual = {"image_features": raw["image_features"].to(device)}
    else:
        images = images_to_float(raw["images"])
        if shift_pad > 0:
            b, t, v = images.shape[:3]
            images = random_shift(images.flatten(0, 2), shift_pad, generator).view(b, t, v, *images.shape[3:])
        visual = {"images": images.to(device)}
    return {
        **visual,
        "proprio": raw["proprio"].to(device),
        "text": torch.from_numpy(text.encode(list(raw["instruction"]))).to(device),
        "actions": raw["actions"].to(device),
        "action_mask": raw["action_mask"].to(device),
    }


class ChunkPolicyRuntime:
    """A trained chunk model as a harness ``Policy`` (act / sample / reset / observe).

    Keeps the last ``obs_horizon`` observations (padded with the first one after reset), embeds the
    instruction once, and returns the whole predicted chunk (``chunk_length`` = action_horizon steps) in env
    units; planners choose how many steps to execute (``execute_steps`` = n_action_steps for ``direct``).
    """

    def __init__(
        self, model: nn.Module, cfg: ChunkPolicyConfig, stats: NormStats, quat_order: str, device: str = "cpu"
    ):
        self.model = model.eval().to(device)
        self.cfg, self.stats, self.quat_order = cfg, stats, quat_order
        self.device = torch.device(device)
        self.text = TextEncoder(cfg.text_encoder)
        self.chunk_length = cfg.action_horizon
        self.execute_steps = cfg.n_action_steps
        self._history: deque[tuple[np.ndarray, np.ndarray]] = deque(maxlen=cfg.obs_horizon)
        self._rng = np.random.default_rng(0)
        self._instruction = ""
        # what a decision reads: the last obs_horizon observations, of their images only the trained cameras
        self.observation_needs = ObservationNeeds(
            history=cfg.obs_horizon, cameras=tuple(IMAGE_KEYS_FROM_ENV.get(k, k) for k in cfg.image_keys)
        )

    def reset(self, episode: EpisodeSpec) -> None:
        self._history.clear()
        self._rng = np.random.default_rng(episode.seed)
        self._instruction = episode.task.instruction

    def observe(self, obs: Obs) -> None:
        """Record one env step's observation (the episode loop calls this after every step): the history
        then holds consecutive frames, as in training, even when two of them are identical."""
        images, proprio = live_features(
            obs, self.cfg.image_keys, self.cfg.proprio_keys, self.quat_order, self.cfg.image_size
        )
        if not self._history:
            for _ in range(self.cfg.obs_horizon - 1):
                self._history.append((images, proprio))
        self._history.append((images, proprio))

    def _model_inputs(self, obs: Obs) -> dict[str, torch.Tensor]:
        """The history as a batch of one; ``obs`` is added only when nothing was observed yet (the first
        decision after reset): later decisions' observations already came through ``observe``."""
        if not self._history:
            self.observe(obs)
        imgs = np.stack([h[0] for h in self._history])[None]  # [1, To, V, H, W, 3]
        prop = self.stats.normalize_proprio(np.stack([h[1] for h in self._history]))[None]
        instruction = str(obs.get("instruction") or self._instruction)
        return {
            "images": images_to_float(torch.from_numpy(imgs)).to(self.device),
            "proprio": torch.from_numpy(prop.astype(np.float32)).to(self.device),
            "text": torch.from_numpy(self.text.encode([instruction])).to(self.device),
        }

    def _predict(self, obs: Obs, n: int, rng: np.random.Generator, greedy: bool) -> np.ndarray:
        batch = self._model_inputs(obs)
        generator = torch.Generator(device="cpu").manual_seed(int(rng.integers(2**62)))
        with torch.no_grad():
            chunks = self.model.predict(batch, n, generator, greedy=greedy).cpu().numpy().astype(np.float64)
        return self.stats.unnormalize_action(chunks, self.cfg.action_norm).astype(np.float32)

    def act(self, obs: Obs) -> np.ndarray:
        """float32 [action_horizon, Da]: the model's most likely chunk (a deterministic model's one chunk)."""
        return self._predict(obs, 1, self._rng, greedy=True)[0]

    def sample(self, obs: Obs, n: int, rng: np.random.Generator) -> np.ndarray:
        """float32 [n, action_horizon, Da]; distinct chunks come from distinct noise draws of ``rng``. Every
        sample is a draw of the declared sampling, also for n = 1 (``vla_random``'s one sample is not ``act``)."""
        return self._predict(obs, n, rng, greedy=False)


def _suite_quat_order(paths: list[Path]) -> tuple[str, str]:
    """(suite name, quaternion order) recorded in the demo files; all files must come from one suite."""
    from harness.registry import SUITES

    suites = {open_demo_file(Path(p)).env_args.get("suite") for p in paths}
    if len(suites) != 1 or None in suites:
        raise HarnessError(f"training files must come from one suite (env_args.suite), got {sorted(map(str, suites))}")
    suite = str(suites.pop())
    return suite, SUITES.build(suite).quat_order


def config_features(cfg: ChunkPolicyConfig, paths: list[Path], with_clips: bool = False) -> dict[str, dict]:
    """``cache_features``: {resolved file: {group: float32 [T, V, F]}} of ``cfg``'s frozen encoder for its image
    keys and size (harness.data.feature_cache); ``with_clips`` includes action-free clip_* groups."""
    encoder = build_frozen_encoder(cfg.vision, cfg.vision_dim, cfg.image_size)
    return cached_features(
        paths, cfg.image_keys, cfg.image_size, encoder, cfg.feature_cache_dir or None, with_clips=with_clips
    )


def group_views(
    cfg: ChunkPolicyConfig, obs: dict[str, np.ndarray], features: dict[str, dict] | None, path: Path, name: str
) -> np.ndarray:
    """Group ``name`` of file ``path`` as a model reads it: cached frozen features [T, V, F] (``features`` from
    ``config_features``) or its frames resized to the config's size [T, V, S, S, 3]."""
    if features is not None:
        return features[str(Path(path).resolve())][name]
    return stacked_views(obs, cfg.image_keys, cfg.image_size)


def chunk_policy_data(cfg: ChunkPolicyConfig, paths: list[Path], seed: int, val_fraction: float) -> TrainData:
    """Demo files -> train / val DemoChunkDatasets (val shares the train statistics) and the batch builder."""
    cfg.validate()
    suite, quat_order = _suite_quat_order(paths)
    kwargs: dict[str, Any] = {
        "obs_horizon": cfg.obs_horizon,
        "action_horizon": cfg.action_horizon,
        "image_keys": cfg.image_keys,
        "proprio_keys": cfg.proprio_keys,
        "val_fraction": val_fraction,
        "seed": seed,
        "image_size": cfg.image_size,
        "action_norm": cfg.action_norm,
    }
    if cfg.cache_features:
        kwargs["features"] = config_features(cfg, paths)
    train = DemoChunkDataset(paths, "train", **kwargs)
    n_val = sum(len(split_episodes(open_demo_file(Path(p)).names, val_fraction, seed)[1]) for p in paths)
    val = DemoChunkDataset(paths, "val", stats=train.stats, **kwargs) if n_val else None
    text = TextEncoder(cfg.text_encoder)
    text.encode(train.instructions + (val.instructions if val is not None else []))  # cached before workers fork

    def to_batch(raw: dict[str, Any], gen: torch.Generator, device: torch.device, is_train: bool) -> dict:
        return training_batch(raw, text, cfg.shift_pad if is_train else 0, device, gen)

    info = {
        "suite": suite,
        "quat_order": quat_order,
        "action_dim": int(train.stats.action_mean.shape[0]),
        "proprio_dim": int(train.stats.proprio_mean.shape[0]),
        "num_views": len(cfg.image_keys),
        "text_encoder": text.name,
        "instructions": train.instructions,
        "train_episodes": len(train.episodes),
        "val_episodes": len(val.episodes) if val is not None else 0,
        "train_samples": len(train),
    }
    return TrainData(train, val, train.stats, info, to_batch)


def load_chunk_policy(
    checkpoint: str | None,
    name: str,
    config_cls: type,
    build_model: Callable[[Any, dict[str, Any]], nn.Module],
    device: str = "cpu",
    options: Any | None = None,
) -> ChunkPolicyRuntime:
    """Checkpoint folder -> ready policy; every failure is one HarnessError line. ``options``: the config's
    declared ``sampling_options`` (flags that replace its sampling fields), or None."""
    if checkpoint is None:
        raise HarnessError(f"policy {name!r} needs --checkpoint DIR (a folder written by python -m harness.train)")
    ckpt = load_checkpoint(checkpoint, component="policy", name=name)
    cfg = config_from_dict(config_cls, ckpt.meta["config"])
    if options is not None:
        cfg = options.apply(cfg)
        cfg.validate()
    check_not_pretraining(cfg, str(ckpt.folder))
    info = ckpt.meta.get("data", {})
    if ckpt.stats is None:
        raise HarnessError(f"checkpoint {ckpt.folder} has no stats.json (normalisation statistics)")
    model = build_model(cfg, info)
    load_state_into(model, ckpt.state_dict, ckpt.folder)
    return ChunkPolicyRuntime(model, cfg, ckpt.stats, info.get("quat_order", "wxyz"), device)


def register_chunk_policy(name: str, config_cls: type, build_model: Callable[[Any, dict[str, Any]], nn.Module]) -> None:
    """Register ``name`` as a policy (loaded from ``--checkpoint DIR``) and as trainable ``policy/<name>``."""
    from harness.nn.training import Trainable
    from harness.registry import POLICIES, TRAINABLES

    from harness.policy.lawm import LawmFields, trainable_builders

    make_data, build_trained = chunk_policy_data, build_model
    if issubclass(config_cls, LawmFields):  # the config declares LAWM pretraining / finetuning
        make_data, build_trained = trainable_builders(name, config_cls, build_model)
    def factory(checkpoint: str | None = None, options: Any | None = None) -> ChunkPolicyRuntime:
        return load_chunk_policy(checkpoint, name, config_cls, build_model, options=options)

    sampling_options = getattr(config_cls, "sampling_options", None)
    if sampling_options is not None:  # the policy accepts these flags (harness.policy.build)
        factory.Options = sampling_options  # type: ignore[attr-defined]
    POLICIES.register(name)(factory)
    TRAINABLES.register(f"policy/{name}")(lambda: Trainable("policy", name, config_cls, make_data, build_trained))
