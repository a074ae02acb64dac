"""LAPA (Ye et al. 2024): latent action pretraining from videos, at CPU scale.

Three trainables through ``python -m harness.train``:
- ``--component world_model --name laq --data CLIPS``: the latent action quantizer (``world_models.laq``);
- ``--component policy --name lapa --set stage=latent --set laq=LAQ_DIR --data CLIPS``: the latent policy,
  predicting the quantizer's 4 codes of (x_t, x_{t+H}) from x_t and the instruction;
- ``--component policy --name lapa --set stage=action [--set init=LATENT_DIR] --data DEMOS``: action finetuning
  over quantile bins (no ``init``: the same architecture from scratch, LAPA's "scratch" baseline).
Registered as policy ``lapa`` (``--checkpoint`` an action-stage folder); ``sample`` draws the bin distributions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.policy.chunk_policy import config_from_dict, load_chunk_policy
from policies.lapa.config import LapaConfig

ARCHITECTURE = (
    "image_keys", "image_size", "vision", "vision_widths", "vision_dim", "d_model", "layers", "heads", "bins"
)  # fmt: skip
FRESH = ("action_embed.", "action_head.")  # new in action finetuning (LAPA: lecun-normal init of ate / action_head)


def build_model(cfg: LapaConfig, info: dict[str, Any]):  # type: ignore[no-untyped-def]
    from policies.lapa.model import LapaModel

    return LapaModel(cfg, info)


def build_for_training(cfg: LapaConfig, info: dict[str, Any]):  # type: ignore[no-untyped-def]
    """The model; in the action stage with ``init``, every latent-stage weight except the action embedding and
    head (which start fresh), after checking the architecture matches."""
    from harness.nn.checkpoint import load_checkpoint

    model = build_model(cfg, info)
    if cfg.stage != "action" or not cfg.init:
        return model
    ckpt = load_checkpoint(cfg.init, component="policy", name="lapa")
    parent = config_from_dict(LapaConfig, ckpt.meta["config"])
    if parent.stage != "latent":
        raise HarnessError(f"lapa: init {cfg.init} is a {parent.stage}-stage checkpoint, not a latent-stage one")
    differ = [f for f in ARCHITECTURE if getattr(parent, f) != getattr(cfg, f)]
    if differ:
        raise HarnessError(f"lapa: init {cfg.init} has a different architecture ({', '.join(differ)}); use its values")
    state = {k: v for k, v in ckpt.state_dict.items() if not k.startswith(FRESH)}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or any(not k.startswith(FRESH) for k in missing):
        raise HarnessError(f"lapa: init {cfg.init} does not match the model (missing {missing}, "
                           f"unexpected {unexpected})")  # fmt: skip
    return model


def load_policy(checkpoint: str | None = None):  # type: ignore[no-untyped-def]
    if checkpoint is not None and (Path(checkpoint) / "config.json").is_file():
        import json

        stage = json.loads((Path(checkpoint) / "config.json").read_text()).get("config", {}).get("stage")
        if stage == "latent":
            raise HarnessError(
                f"{checkpoint} is a latent-stage LAPA checkpoint (no action head); finetune it first: python -m "
                "harness.train --component policy --name lapa --set stage=action --set init=DIR"
            )
    return load_chunk_policy(checkpoint, "lapa", LapaConfig, build_model)


def _register() -> None:
    from harness.nn.training import Trainable
    from harness.registry import POLICIES, TRAINABLES
    from policies.lapa.data import make_data

    POLICIES.register("lapa")(load_policy)
    TRAINABLES.register("policy/lapa")(lambda: Trainable("policy", "lapa", LapaConfig, make_data, build_for_training))


_register()
