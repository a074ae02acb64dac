"""LAWM: the RSSM, pretraining a policy through it (gradient reaches the policy unless detached), finetuning from
the pretrained weights with exactly the last action layer fresh, and the CCA metric."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from harness.errors import HarnessError
from harness.nn.checkpoint import load_checkpoint
from harness.policy.chunk_policy import config_from_dict, config_to_dict
from harness.policy.lawm import LawmFields, LawmPretrainModel, last_layer_keys
from harness.registry import POLICIES, TRAINABLES
from harness.train import main as train_main
from tests.policy_configs import EXTRA, SHARED, fixed_batch
from tests.tiny_data import write_tiny_clips, write_tiny_demos
from world_models.cca import cca_report, first_canonical_correlation
from world_models.rssm import RSSM, RssmConfig

LAWM_POLICIES = sorted(
    k.split("/", 1)[1]
    for k in TRAINABLES.names()
    if k.startswith("policy/") and issubclass(TRAINABLES.get(k)().config_cls, LawmFields)
)
TINY_WM = {"wm_deter": 32, "wm_hidden": 16, "wm_stoch": 4, "wm_classes": 4, "wm_depth": 4}
TINY_RSSM = RssmConfig(image_size=16, deter=32, hidden=16, stoch=4, classes=4, depth=4)


def test_lawm_is_declared_by_baku_and_diffusion():
    assert {"baku", "diffusion"} <= set(LAWM_POLICIES)


def _frames(b: int, steps: int, seed: int = 0) -> torch.Tensor:
    """A moving bright square: frames [b, steps, 3, 16, 16] in [0, 1]."""
    g = torch.Generator().manual_seed(seed)
    start = torch.randint(0, 8, (b,), generator=g)
    x = torch.zeros(b, steps, 3, 16, 16)
    for i in range(b):
        for k in range(steps):
            c = int(start[i]) + k
            x[i, k, :, 4:9, c : c + 5] = 1.0
    return x


def test_rssm_shapes_and_a_few_steps_lower_its_loss():
    torch.manual_seed(0)
    rssm = RSSM(TINY_RSSM)
    frames, actions = _frames(8, 5), torch.ones(8, 4, 7)
    h, z = rssm.initial_state(8)
    assert h.shape == (8, 32) and z.shape == (8, 16)
    assert rssm.imagine(h, z, actions).shape == (8, 4, 3, 16, 16)
    opt = torch.optim.Adam(rssm.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(0)
    losses = []
    for _ in range(40):
        loss, logs = rssm.loss(frames, actions, gen)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert set(logs) == {"recon", "kl"}
    assert np.mean(losses[-5:]) < 0.5 * np.mean(losses[:5])
    with pytest.raises(HarnessError, match="need actions"):
        rssm.loss(frames, torch.ones(8, 5, 7))


def test_free_bits_clip_each_element_on_its_own():
    """Elements whose KL is under free bits give no gradient; the others do (not a clip of the mean)."""
    rssm = RSSM(TINY_RSSM)  # free_nats 1.0
    dyn = torch.tensor([[0.2, 3.0], [0.5, 2.0]], requires_grad=True)
    rep = torch.tensor([[0.1, 0.3], [4.0, 0.9]], requires_grad=True)
    rssm.kl_terms(dyn, rep).sum().backward()
    assert torch.equal(dyn.grad, torch.tensor([[0.0, 0.5], [0.0, 0.5]]))
    assert torch.equal(rep.grad, torch.tensor([[0.0, 0.0], [0.1, 0.0]]))
    assert float(dyn.detach().mean()) > 1.0  # clipping the mean instead would have given every element gradient


@pytest.mark.parametrize("free_nats, expect_gradient", [(1e6, False), (0.0, True)])
def test_kl_below_free_bits_gives_the_prior_no_gradient(free_nats, expect_gradient):
    """The prior head enters the loss only through the KL terms, each clipped below at free_nats."""
    torch.manual_seed(0)
    rssm = RSSM(RssmConfig(**{**TINY_RSSM.__dict__, "free_nats": free_nats}))
    loss, _ = rssm.loss(_frames(4, 3), torch.randn(4, 2, 7), torch.Generator().manual_seed(0))
    loss.backward()
    grad = sum(float(p.grad.abs().sum()) for p in rssm.prior_head.parameters() if p.grad is not None)
    assert (grad > 0) == expect_gradient


def _tiny_cfg(name: str, **fields):  # type: ignore[no-untyped-def]
    spec = TRAINABLES.get(f"policy/{name}")()
    values = {**config_to_dict(spec.config_cls()), **SHARED, **EXTRA.get(name, {}), **TINY_WM, **fields}
    return spec, config_from_dict(spec.config_cls, values)


def _pretrain_batch() -> dict:
    batch = fixed_batch(4)
    batch["wm_frames"] = _frames(4, 5)  # frames t..t+Hz (Hz = 4)
    return batch


@pytest.mark.parametrize("name", LAWM_POLICIES)
@pytest.mark.parametrize("detach", [False, True])
def test_world_model_loss_reaches_the_policy_trunk_unless_detached(name, detach):
    spec, cfg = _tiny_cfg(name, pretrain="lawm", detach_latents=detach)
    torch.manual_seed(0)
    model = spec.build_model(cfg, {"action_dim": 7, "proprio_dim": 8, "num_views": 1})
    assert isinstance(model, LawmPretrainModel)
    loss, logs = model.compute_loss(_pretrain_batch(), torch.Generator().manual_seed(0))
    loss.backward()
    through_wm = {n for n, p in model.policy.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}
    wm_grad = sum(float(p.grad.abs().sum()) for p in model.wm.parameters() if p.grad is not None)
    assert wm_grad > 0 and "latent_std" in logs
    model.zero_grad(set_to_none=True)
    bc_loss, _ = model.policy.compute_loss(fixed_batch(4), torch.Generator().manual_seed(0))
    bc_loss.backward()  # the parameters behaviour cloning trains: trunk, image encoder, head, ...
    by_bc = {n for n, p in model.policy.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}
    assert any("trunk" in n or "denoiser.down" in n for n in by_bc) and any("encoder" in n for n in by_bc)
    proprio_only = {n for n in by_bc if "proprio" in n}  # pretraining feeds zero proprio: no gradient there
    if detach:
        assert not through_wm
    else:
        assert by_bc - proprio_only <= through_wm, sorted(by_bc - proprio_only - through_wm)


@pytest.fixture(scope="module")
def stages(tmp_path_factory):
    """Per LAWM policy: a pretrain=lawm checkpoint on tiny clips and a finetuned one (init) on tiny demos."""
    tmp = tmp_path_factory.mktemp("lawm")
    clips = write_tiny_clips(tmp / "clips.hdf5", n=6, T=12, size=16)
    demos = write_tiny_demos(tmp / "demos.hdf5")
    common = ["--steps", "2", "--batch-size", "8", "--no-progress", "--val-fraction", "0.2"]
    out = {"tmp": tmp, "clips": clips, "demos": demos}
    for name in LAWM_POLICIES:
        sets = [a for k, v in {**SHARED, **EXTRA.get(name, {}), **TINY_WM}.items()
                for a in ("--set", f"{k}={json.dumps(v)}")]  # fmt: skip
        pre, fine = tmp / f"{name}_pre", tmp / f"{name}_fine"
        assert train_main(["--component", "policy", "--name", name, "--data", str(clips), "--out", str(pre),
                           "--set", "pretrain=lawm", *sets, *common]) == 0  # fmt: skip
        assert train_main(["--component", "policy", "--name", name, "--data", str(demos), "--out", str(fine),
                           "--set", f"init={pre}", *sets, *common]) == 0  # fmt: skip
        out[name] = {"pre": pre, "fine": fine, "sets": sets}
    return out


@pytest.mark.parametrize("name", LAWM_POLICIES)
@pytest.mark.parametrize("reinit", [True, False])
def test_finetuning_loads_the_pretrained_policy_and_reinitialises_exactly_the_last_layer(stages, name, reinit):
    pre = load_checkpoint(stages[name]["pre"])
    fine_meta = load_checkpoint(stages[name]["fine"]).meta
    spec = TRAINABLES.get(f"policy/{name}")()
    cfg = config_from_dict(spec.config_cls, {**fine_meta["config"], "reinit_last_layer": reinit})
    torch.manual_seed(7)
    model = spec.build_model(cfg, fine_meta["data"])
    torch.manual_seed(7)
    fresh = spec.build_model(config_from_dict(spec.config_cls, {**fine_meta["config"], "init": ""}), fine_meta["data"])
    last = last_layer_keys(model)
    assert last and all(not k.startswith(("wm.", "policy.")) for k in last)
    state, fresh_state = model.state_dict(), fresh.state_dict()
    for key, value in state.items():
        parent = pre.state_dict["policy." + key]
        if reinit and key in last:
            assert torch.equal(value, fresh_state[key]) and not torch.equal(value, parent), key
        else:
            assert torch.equal(value, parent), key


@pytest.mark.parametrize("name", LAWM_POLICIES)
def test_pretraining_checkpoint_records_its_stage_and_is_refused_as_a_policy(stages, name):
    meta = load_checkpoint(stages[name]["pre"]).meta
    assert meta["data"]["stage"] == "lawm_pretrain" and meta["data"]["action_dim"] == 7
    assert any(k.startswith("wm.") for k in load_checkpoint(stages[name]["pre"]).state_dict)
    with pytest.raises(HarnessError, match="LAWM pretraining checkpoint"):
        POLICIES.build(name, checkpoint=str(stages[name]["pre"]))
    assert POLICIES.build(name, checkpoint=str(stages[name]["fine"])).chunk_length == SHARED["action_horizon"]


def test_bad_lawm_settings_give_one_line_errors(stages, capsys):
    tmp, sets = stages["tmp"], stages["baku"]["sets"]
    base = ["--component", "policy", "--name", "baku", "--steps", "1", "--no-progress", *sets]
    assert train_main([*base, "--data", str(stages["demos"]), "--out", str(tmp / "b1"),
                       "--set", f"init={stages['baku']['fine']}"]) == 2  # fmt: skip
    assert "not a pretrain=lawm checkpoint" in capsys.readouterr().err
    assert train_main([*base, "--data", str(stages["demos"]), "--out", str(tmp / "b2"),
                       "--set", f"init={stages['baku']['pre']}", "--set", "action_horizon=8"]) == 2  # fmt: skip
    assert "differs in action_horizon" in capsys.readouterr().err
    assert train_main([*base, "--data", str(stages["clips"]), "--out", str(tmp / "b3"), "--set", "pretrain=lawm",
                       "--set", f"init={stages['baku']['pre']}"]) == 2  # fmt: skip
    assert "init is for finetuning" in capsys.readouterr().err
    assert train_main([*base, "--data", str(stages["clips"]), "--out", str(tmp / "b4"),
                       "--set", "pretrain=world"]) == 2  # fmt: skip
    assert "pretrain must be" in capsys.readouterr().err


def test_finetuned_checkpoint_inherits_the_pretraining_scenes(stages):
    from harness.engine.scenes import scenes_of_file

    pre, fine = (load_checkpoint(stages["baku"][k]).meta["data"]["scenes"] for k in ("pre", "fine"))
    assert pre and not set(pre) <= set(scenes_of_file(stages["demos"]))  # the clips' scenes, not the demos'
    assert set(pre) <= set(fine)


def test_pretraining_windows_align_frames_with_latents_and_pad_the_end():
    """Item t: policy frames t-To+1..t (padded with frame 0), world-model frames t..t+Hz (padded with the last)."""
    from harness.policy.lawm import LawmClips

    T = 6
    views = np.arange(T, dtype=np.uint8)[:, None, None, None, None] * np.ones((1, 1, 2, 2, 3), np.uint8)
    wm = np.arange(T, dtype=np.uint8)[:, None, None, None] * np.ones((1, 2, 2, 3), np.uint8)
    clips = LawmClips([(views, wm, "put x")], obs_horizon=2, chunk=3, key="images")
    assert len(clips) == T - 1  # every frame with a next frame starts a window
    first, last = clips[0], clips[T - 2]
    assert first["images"][:, 0, 0, 0, 0].tolist() == [0, 0] and first["wm_frames"][:, 0, 0, 0].tolist() == [0, 1, 2, 3]
    assert last["images"][:, 0, 0, 0, 0].tolist() == [3, 4] and last["wm_frames"][:, 0, 0, 0].tolist() == [4, 5, 5, 5]


def test_plain_configs_do_not_need_a_world_model_sized_image():
    """The RSSM's power-of-two frame size is checked only when pretraining."""
    for name in LAWM_POLICIES:
        spec, cfg = _tiny_cfg(name, image_size=24)
        cfg.validate()
        with pytest.raises(HarnessError, match="power of two"):
            _tiny_cfg(name, image_size=24, pretrain="lawm")[1].validate()
        _tiny_cfg(name, image_size=24, pretrain="lawm", wm_image_size=16)[1].validate()


def test_cca_recovers_a_known_correlation_and_shuffled_pairs_are_near_zero():
    rng = np.random.default_rng(0)
    n, sigma = 4000, 1.0
    y = rng.normal(size=(n, 3))
    z = np.concatenate([y[:, :1] + sigma * rng.normal(size=(n, 1)), rng.normal(size=(n, 4))], axis=1)
    expected = 1 / np.sqrt(1 + sigma**2)  # corr(y0 + noise, y0)
    rho = first_canonical_correlation(z[:2000], y[:2000], z[2000:], y[2000:])
    assert abs(rho - expected) < 0.03, rho
    episodes = np.repeat(np.arange(40), 100)
    groups = np.where(episodes < 20, "put", "open")
    report = cca_report(z, y, episodes, groups, seed=0)
    for group in ("all", "put", "open"):
        assert abs(report[group]["cca"] - expected) < 0.06, report[group]
        assert abs(report[group]["shuffled"]) < 0.1, report[group]


def test_cca_handles_constant_columns_and_small_groups():
    rng = np.random.default_rng(1)
    y = rng.normal(size=(400, 2))
    z = np.concatenate([y[:, :1] + 0.1 * rng.normal(size=(400, 1)), np.zeros((400, 1))], axis=1)  # a dead latent dim
    assert first_canonical_correlation(z[:200], y[:200], z[200:], y[200:]) > 0.9
    assert first_canonical_correlation(np.zeros((50, 3)), y[:50], np.zeros((50, 3)), y[50:100]) == 0.0
    episodes = np.repeat(np.arange(8), 50)
    groups = np.where(episodes == 0, "rare", "common")  # one episode: it cannot be in both halves
    report = cca_report(z, y, episodes, groups)
    assert report["rare"]["cca"] is None and "episodes" in report["rare"]["note"]
    assert report["common"]["cca"] > 0.9


def test_cca_cli_reports_every_group_and_refuses_a_finetuned_checkpoint(stages, tmp_path, capsys):
    from world_models.latent_metrics import main as metrics_main

    pre = str(stages["baku"]["pre"])
    assert metrics_main(["cca", "--checkpoint", pre, "--data", str(stages["demos"]), "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "cca.json").read_text())
    assert report["pairs"] > 0 and {"all", "put"} <= set(report["results"])
    assert -1 <= report["results"]["all"]["cca"] <= 1
    assert metrics_main(["cca", "--checkpoint", str(stages["baku"]["fine"]), "--data", str(stages["demos"])]) == 2
    assert "not a LAWM pretraining checkpoint" in capsys.readouterr().err


@pytest.mark.parametrize("name", LAWM_POLICIES)
def test_detached_pretraining_leaves_the_policy_at_its_initialisation(stages, name):
    """The released code's behaviour: only the world model trains, so the saved policy is its random start (the
    same weights a scratch run of the same seed starts from)."""
    out = stages["tmp"] / f"{name}_detached"
    assert train_main(["--component", "policy", "--name", name, "--data", str(stages["clips"]), "--out", str(out),
                       "--set", "pretrain=lawm", "--set", "detach_latents=true", *stages[name]["sets"],
                       "--steps", "3", "--batch-size", "8", "--no-progress", "--val-fraction", "0.2"]) == 0  # fmt: skip
    ckpt = load_checkpoint(out)
    spec = TRAINABLES.get(f"policy/{name}")()
    cfg = config_from_dict(spec.config_cls, {**ckpt.meta["config"], "pretrain": ""})
    torch.manual_seed(0)  # the training loop's seed before it builds the model
    start = spec.build_model(cfg, ckpt.meta["data"]).state_dict()
    saved = {k.removeprefix("policy."): v for k, v in ckpt.state_dict.items() if k.startswith("policy.")}
    assert set(saved) == set(start) and all(torch.equal(saved[k], start[k]) for k in start)
    trained = load_checkpoint(stages[name]["pre"]).state_dict  # without the flag the policy moved
    assert any(not torch.equal(trained["policy." + k], start[k]) for k in start)
