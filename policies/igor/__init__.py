"""IGOR (Chen et al. 2024): a foundation policy over latent actions and a low-level policy, at CPU scale.

Through ``python -m harness.train``:
- ``--component world_model --name igor_lam --data CLIPS``: the latent action model (``world_models.igor_lam``);
- ``--component policy --name igor --set stage=foundation --set lam=LAM_DIR --data CLIPS``: the foundation
  policy, regressing the LAM's latent action of (o_t, o_{t+3}) from the observation history and instruction;
- ``--component policy --name igor --set foundation=FOUNDATION_DIR --data DEMOS``: the low-level policy (the
  foundation frozen; its predicted latent -> 3 actions), policy ``igor``;
- ``--component policy --name igor_nolatent --data DEMOS``: the same low-level policy without the latent input,
  policy ``igor_nolatent`` (the paper's baseline).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.policy.chunk_policy import load_chunk_policy
from policies.igor.config import IgorConfig, IgorNoLatentConfig


def build_model(cfg: IgorConfig, info: dict[str, Any]):  # type: ignore[no-untyped-def]
    from policies.igor.model import FoundationModel, LowLevelModel

    return FoundationModel(cfg, info) if cfg.stage == "foundation" else LowLevelModel(cfg, info)


def build_for_training(cfg: IgorConfig, info: dict[str, Any]):  # type: ignore[no-untyped-def]
    """The model; at the low-level stage the foundation's weights are loaded into it and frozen."""
    from harness.nn.checkpoint import load_checkpoint, load_state_into

    model = build_model(cfg, info)
    if cfg.stage == "lowlevel" and model.foundation is not None:
        ckpt = load_checkpoint(cfg.foundation, component="policy", name="igor")
        load_state_into(model.foundation, ckpt.state_dict, ckpt.folder)
        model.foundation.requires_grad_(False).eval()
    return model


def _loader(name: str, config_cls: type):  # type: ignore[no-untyped-def]
    def load(checkpoint: str | None = None):  # type: ignore[no-untyped-def]
        if checkpoint is not None and (Path(checkpoint) / "config.json").is_file():
            import json

            stage = json.loads((Path(checkpoint) / "config.json").read_text()).get("config", {}).get("stage")
            if stage == "foundation":
                raise HarnessError(
                    f"{checkpoint} is an IGOR foundation-stage checkpoint (it predicts latent actions, not actions); "
                    "train the low-level policy on it: python -m harness.train --component policy --name igor "
                    "--set foundation=DIR --data DEMOS"
                )
        return load_chunk_policy(checkpoint, name, config_cls, build_model)

    return load


def _register() -> None:
    from harness.nn.training import Trainable
    from harness.registry import POLICIES, TRAINABLES
    from policies.igor.data import make_data

    for name, config_cls in (("igor", IgorConfig), ("igor_nolatent", IgorNoLatentConfig)):
        POLICIES.register(name)(_loader(name, config_cls))
        trainable = Trainable("policy", name, config_cls, make_data, build_for_training)
        TRAINABLES.register(f"policy/{name}")(lambda trainable=trainable: trainable)


_register()
