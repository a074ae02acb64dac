"""World models: module shapes and gradients, LoRA identity / merge, the three LAC-WM adaptation stages
and EAC-WM adaptation train only what they should, training lowers the loss, and the planner-facing
runtime (encode -> projector -> FDM rollout -> decode) round-trips through checkpoints."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from harness.nn.checkpoint import load_checkpoint
from harness.policy.chunk_policy import config_to_dict
from harness.nn.lora import LoRALinear, add_lora, merge_lora
from harness.nn.training import TrainConfig, train
from harness.registry import TRAINABLES, WORLD_MODELS
from tests.tiny_data import write_tiny_demos
from world_models.dynamics import FDM, IDM, ActionMLP, MotionDecoder

B, N, D, M = 3, 4, 16, 2


def test_modules_shapes_and_gradients():
    torch.manual_seed(0)
    idm, fdm = IDM(D, N, M, depth=1, heads=2), FDM(D, N, depth=2, heads=2, history=2)
    md, proj = MotionDecoder(D, 2, M, 7, heads=2), ActionMLP(5, 7, M, D)
    x0, x1 = torch.randn(B, N, D), torch.randn(B, N, D)
    z = idm(x0, x1)
    assert z.shape == (B, M, D)
    pred = fdm(torch.stack([x0, x0], 1), z)
    assert pred.shape == (B, N, D) and fdm(x0[:, None], z).shape == (B, N, D)
    motion = md(x0, z)
    assert motion.shape == (B, 7)
    assert proj(torch.randn(B, 5, 7)).shape == (B, M, D)
    (pred.pow(2).mean() + motion.pow(2).mean()).backward()
    for module in (idm, fdm, md):
        grads = [p.grad for p in module.parameters() if p.requires_grad]
        assert all(g is not None and torch.isfinite(g).all() for g in grads)
        assert any(g.abs().sum() > 0 for g in grads)


def test_idm_frame_t_cannot_see_the_future():
    torch.manual_seed(0)
    idm = IDM(D, N, M, depth=1, heads=2)
    x0, x1 = torch.randn(1, N, D), torch.randn(1, N, D)
    h0 = torch.cat([x0 + idm.pos + idm.frame_embed[0], x1 + idm.pos + idm.frame_embed[1]], 1)
    h1 = torch.cat([x0 + idm.pos + idm.frame_embed[0], -x1 + idm.pos + idm.frame_embed[1]], 1)
    a, b = idm.blocks[0](h0, mask=idm.mask), idm.blocks[0](h1, mask=idm.mask)
    assert torch.allclose(a[:, :N], b[:, :N], atol=1e-6) and not torch.allclose(a[:, N:], b[:, N:])


def test_lora_starts_as_identity_and_merges_exactly():
    torch.manual_seed(0)
    net = nn.Sequential()
    net.q = nn.Linear(6, 6)
    x = torch.randn(4, 6)
    before = net.q(x)
    assert add_lora(net, rank=2, targets=("q",)) == 1 and isinstance(net.q, LoRALinear)
    assert torch.allclose(net.q(x), before)
    assert {n for n, p in net.named_parameters() if p.requires_grad} == {"q.lora_a", "q.lora_b"}
    nn.init.normal_(net.q.lora_b)
    adapted = net.q(x)
    merge_lora(net)
    assert isinstance(net.q, nn.Linear) and torch.allclose(net.q(x), adapted, atol=1e-5)


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    """frame_ae -> LAC-WM pretrain -> 3 adaptation stages, and EAC-WM pretrain -> adapt, on tiny data."""
    tmp = tmp_path_factory.mktemp("wm")
    widowx = write_tiny_demos(tmp / "widowx.hdf5", n=4, T=16, size=32)
    panda = write_tiny_demos(tmp / "panda.hdf5", n=3, T=16, size=32, suite="libero_object")
    ratios: dict[str, float] = {}

    def run(name: str, files: list, out: str, steps: int = 30, **overrides) -> str:
        spec = TRAINABLES.get(f"world_model/{name}")()
        values = {**config_to_dict(spec.config_cls()), **overrides}
        cfg = spec.config_cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})
        tcfg = TrainConfig(steps=steps, batch_size=64, lr=1e-3, warmup=1, ema_decay=0.5, val_every=steps,
                           save_every=steps, log_every=1)  # fmt: skip
        data = spec.make_data(cfg, files, 0, 0.0)
        meta = {"component": "world_model", "name": name, "config": config_to_dict(cfg), "data": data.info}
        train(spec, cfg, data, tcfg, tmp / out, meta, resume=False, progress=False)
        losses = [json.loads(line)["batch_loss"] for line in (tmp / out / "train_log.jsonl").read_text().splitlines()]
        ratios[out] = float(np.mean(losses[-5:]) / np.mean(losses[:5]))  # batches differ (history dropped or not)
        return str(tmp / out)

    ae = run("frame_ae", [widowx, panda], "ae", steps=40, image_size=32, widths=[8, 8, 8])
    small = {"encoder": ae, "fdm_depth": 2, "heads": 2}
    lac0 = run("lac_wm", [widowx, panda], "lac0", idm_depth=1, **small)
    held = {"rename": "held", "lora_rank": 2, **small, "idm_depth": 1}
    lac1 = run("lac_wm", [widowx], "lac1", stage="adapt_idm_fdm", init=lac0, **held)
    lac2 = run("lac_wm", [widowx], "lac2", stage="adapt_projector", init=lac1, **held)
    lac3 = run("lac_wm", [widowx], "lac3", stage="adapt_joint", init=lac2, **held)
    eac0 = run("eac_wm", [widowx, panda], "eac0", **small)
    eac1 = run("eac_wm", [widowx], "eac1", stage="adapt", init=eac0, rename="held", **small)
    return {"ae": ae, "lac0": lac0, "lac1": lac1, "lac2": lac2, "lac3": lac3, "eac0": eac0, "eac1": eac1}, ratios


def test_training_lowers_every_stage_loss(chain):
    _, ratios = chain
    for stage in ("ae", "lac0", "lac2", "eac0"):
        assert ratios[stage] < 0.9, (stage, ratios)


def test_stages_train_only_their_parameters(chain):
    paths, _ = chain
    trained = {k: load_checkpoint(paths[k]).meta["params"] for k in ("lac1", "lac2", "lac3", "eac1")}
    lac2_state = load_checkpoint(paths["lac2"]).state_dict
    lac1_state = load_checkpoint(paths["lac1"]).state_dict
    assert trained["lac1"] < trained["lac2"]  # LoRA on IDM + FDM only vs a whole projector
    assert any(k.endswith("lora_a") for k in lac1_state) and not any("lora_" in k for k in lac2_state)
    assert any("lora_" in k for k in load_checkpoint(paths["lac3"]).state_dict)
    eac = load_checkpoint(paths["eac1"]).state_dict
    assert any(k.startswith("encoders.held.") for k in eac) and any("lora_" in k for k in eac)


@pytest.mark.parametrize("name,key", [("lac_wm", "lac2"), ("lac_wm", "lac3"), ("eac_wm", "eac1")])
def test_runtime_round_trip(chain, name, key):
    paths, _ = chain
    wm = WORLD_MODELS.build(name, checkpoint=paths[key])
    frames = np.random.default_rng(0).integers(0, 255, (2, 48, 48, 3), dtype=np.uint8)
    z = wm.encode(frames)
    assert z.shape == (2, 16, 64)
    actions = np.random.default_rng(1).normal(size=(5, 10, 7))
    future = wm.rollout(z[:1], actions)
    assert future.shape == (5, 2, 16, 64) and torch.isfinite(future).all()
    again = WORLD_MODELS.build(name, checkpoint=paths[key]).rollout(z[:1], actions)
    assert torch.allclose(future, again)
    different = wm.rollout(z[:1], actions + 1.0)
    assert not torch.allclose(future, different), "rollout ignores the actions"
    assert wm.distance(future[:, -1], z[:1]).shape == (5,)
    assert wm.decode(z).shape == (2, 32, 32, 3)


def test_pretrain_checkpoint_without_projector_is_refused(chain):
    from harness.errors import HarnessError

    paths, _ = chain
    with pytest.raises(HarnessError, match="no trained action projector"):
        WORLD_MODELS.build("lac_wm", checkpoint=paths["lac0"])


def test_world_models_declare_their_robot(chain):
    """The review's M7: a pretraining checkpoint of two robots no longer silently drives the last one's encoder;
    an adapted checkpoint declares the robot of its adaptation data; a mismatch with the suite is refused."""
    from harness.errors import HarnessError
    from planners.setup import build_world_model
    from harness.registry import SUITES

    paths, _ = chain
    with pytest.raises(HarnessError, match="no adaptation target"):
        WORLD_MODELS.build("eac_wm", checkpoint=paths["eac0"])
    widowx, panda = SUITES.build("simpler_bridge"), SUITES.build("libero_object")
    assert build_world_model("eac_wm", paths["eac0"], panda).embodiment == "panda"
    assert build_world_model("eac_wm", paths["eac0"], widowx).embodiment == "widowx"
    assert build_world_model("lac_wm", paths["lac3"], widowx).embodiment == "widowx"  # "held" = widowx data
    with pytest.raises(HarnessError, match="predicts the widowx robot's actions"):
        build_world_model("eac_wm", paths["eac1"], panda)


def test_open_loop_rollout_metrics(chain, tmp_path):
    from world_models.evaluate import evaluate_rollouts, image_metrics

    frame = np.random.default_rng(0).integers(0, 255, (16, 16, 3), dtype=np.uint8)
    psnr, ssim = image_metrics(frame, frame.copy())
    assert psnr == float("inf") and ssim == pytest.approx(1.0)
    paths, _ = chain
    wm = WORLD_MODELS.build("lac_wm", checkpoint=paths["lac3"])
    data = write_tiny_demos(tmp_path / "eval.hdf5", n=2, T=16, size=32)
    result = evaluate_rollouts(wm, [data], horizon=2, max_windows=3, seed=0)
    assert result["windows"] == 3 and len(result["per_step"]["psnr"]) == 2
    assert all(np.isfinite(v) for v in result["mean"].values())
    assert 0 < result["mean"]["psnr"] < 100 and -1 <= result["mean"]["ssim"] <= 1


def test_pretrained_vit_as_world_model_encoder(tmp_path):
    transformers = pytest.importorskip("transformers")
    config = transformers.Dinov2Config(
        hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64, patch_size=4, image_size=16
    )
    transformers.Dinov2Model(config).save_pretrained(tmp_path / "dino", safe_serialization=True)
    data = write_tiny_demos(tmp_path / "d.hdf5", n=3, T=12, size=32)
    spec = TRAINABLES.get("world_model/lac_wm")()
    cfg = spec.config_cls(encoder=f"hf:{tmp_path / 'dino'}", fdm_depth=2, idm_depth=1, heads=2)
    train_data = spec.make_data(cfg, [data], 0, 0.0)
    assert train_data.info["tokens"] == 16 and train_data.info["dim"] == 32 and train_data.info["grid"] == 4
    model = spec.build_model(cfg, train_data.info)
    batch = train_data.to_batch(
        torch.utils.data.default_collate([train_data.train[i] for i in range(4)]), None, "cpu", True
    )
    loss, _ = model.compute_loss(batch, torch.Generator().manual_seed(0))
    loss.backward()
    assert torch.isfinite(loss)


def test_cross_augmentation_is_one_draw_per_demo():
    """Frames of one demo share their shift and brightness (input and target of a segment stay aligned, as in
    the paper's A(O_t), A(O_t+1) pair); two demos, and the two variants, get independent draws."""
    from world_models.segments import embed_frames

    class Flatten:
        def encode(self, images: torch.Tensor) -> torch.Tensor:
            return images.flatten(1)[:, None]

    rng = np.random.default_rng(0)
    still = rng.integers(0, 255, size=(2, 16, 16, 3), dtype=np.uint8)  # one static image per demo
    frames = np.concatenate([np.repeat(still[:1], 4, 0), np.repeat(still[1:], 3, 0)])
    clips = np.array([0, 0, 0, 0, 1, 1, 1])
    clean = embed_frames(Flatten(), frames, 0, augment=False)
    a = embed_frames(Flatten(), frames, 1, augment=True, clip_of_frame=clips)
    b = embed_frames(Flatten(), frames, 2, augment=True, clip_of_frame=clips)
    for view in (a, b):
        assert torch.equal(view[0], view[3]) and torch.equal(view[4], view[6]), "frames of a demo augmented apart"
        assert not torch.equal(view[0], clean[0])
    assert not torch.equal(a[0], b[0])
    shifted_alone = embed_frames(Flatten(), frames[:1], 1, augment=True, clip_of_frame=clips[:1])
    assert torch.equal(shifted_alone[0], a[0])  # the draw depends on the seed and the demo, not the batch


def test_forward_model_starts_as_copy_last_frame():
    torch.manual_seed(0)
    fdm = FDM(D, N, depth=2, heads=2, history=2)
    x = torch.randn(B, 2, N, D)
    assert torch.equal(fdm(x, torch.randn(B, M, D)), x[:, -1])
