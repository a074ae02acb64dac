"""Tiny demonstration files made by tests (learnable: actions are a smooth function of the state)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from harness.data.hdf5_io import Demo, DemoWriter

INSTRUCTIONS = ("put carrot on plate", "put the spoon on the towel")
# a latent action quantizer small enough for tests (32 px frames, patch 4: LAPA's 8 x 8 token grid)
TINY_LAQ = {"image_size": 32, "patch_size": 4, "dim": 32, "heads": 2, "spatial_depth": 1, "temporal_depth": 1,
            "decoder_depth": 1}  # fmt: skip
# an IGOR latent action model small enough for tests (32 px frames, patch 8: 4 x 4 tokens)
TINY_IGOR_LAM = {"image_size": 32, "patch_size": 8, "dim": 32, "heads": 2, "idm_depth": 1, "fdm_depth": 1,
                 "latent_dim": 8, "codebook_size": 8, "dead_after": 2}  # fmt: skip


def tiny_demo(T: int, seed: int, size: int = 16, views: tuple[str, ...] = ("agentview_rgb",)) -> Demo:
    """A demo whose action is a fixed linear map of the ee state; images encode the state as brightness."""
    rng = np.random.default_rng(seed)
    pos = np.cumsum(rng.normal(0, 0.01, (T, 3)), axis=0) + rng.normal(0, 0.05, 3)
    ori = np.tile(rng.normal(0, 0.1, 3), (T, 1))
    grip = np.tile([0.02, -0.02], (T, 1))
    action = np.concatenate([-pos * 5, np.zeros((T, 3)), np.sign(pos[:, :1])], axis=1)
    bright = ((pos[:, 0] - pos[:, 0].min()) * 2000).clip(0, 255).astype(np.uint8)
    obs = {k: np.tile(bright[:, None, None, None], (1, size, size, 3)) for k in views}
    obs.update(
        {
            "ee_pos": pos,
            "ee_ori": ori,
            "ee_states": np.concatenate([pos, ori], axis=1),
            "gripper_states": grip,
            "joint_states": np.zeros((T, 8)),
        }
    )
    return Demo(
        obs=obs,
        actions=action,
        states=np.zeros((T, 4)),
        rewards=np.zeros(T, np.uint8),
        dones=(np.arange(T) == T - 1).astype(np.uint8),
        datagen={},
        attrs={"init_index": seed, "scene_split": "train", "seed": seed, "instruction": INSTRUCTIONS[seed % 2]},
    )


def write_tiny_clips(path: Path, n: int, T: int, size: int = 32) -> Path:
    """Action-free clips (clip_i groups: frames and instruction only) of ``tiny_demo``s."""
    writer = DemoWriter(path, INSTRUCTIONS[0], {"suite": "simpler_bridge"}, prefix="clip")
    for seed in range(n):
        clip = tiny_demo(T, seed, size)
        clip.actions = clip.states = None
        writer.append(clip)
    return path


def write_tiny_demos(path: Path, n: int = 6, T: int = 12, size: int = 16, suite: str = "simpler_bridge") -> Path:
    writer = DemoWriter(path, INSTRUCTIONS[0], {"suite": suite, "tasks": ["t0", "t1"], "generator": "test"})
    for i in range(n):
        writer.append(tiny_demo(T, i, size))
    return path


def write_tiny_encoder(folder: Path, seed: int = 0) -> Path:
    """A randomly initialised 16 px frame autoencoder checkpoint (the ``ckpt:`` kind of frozen encoder)."""
    import torch

    from harness.nn.checkpoint import save_checkpoint
    from harness.policy.chunk_policy import config_to_dict
    from world_models.frame_ae import FrameAEConfig, FrameAutoencoder

    cfg = FrameAEConfig(image_size=16, dim=8, widths=(8, 8))
    torch.manual_seed(seed)
    model = FrameAutoencoder(cfg)
    meta = {"component": "world_model", "name": "frame_ae", "config": config_to_dict(cfg), "data": {}}
    save_checkpoint(folder, meta, model.state_dict(), None)
    return folder
