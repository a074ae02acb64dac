"""Every trainable policy: builds from a tiny config, trains (loss falls), saves / loads exactly, serves
act / sample with the right shapes through the harness Policy interface, and matches its golden outputs."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from torch.utils.data import default_collate

from harness.errors import HarnessError
from harness.nn.checkpoint import load_checkpoint, save_checkpoint
from harness.policy.chunk_policy import config_to_dict
from harness.nn.training import TrainConfig, train
from harness.engine.episodes import make_episodes
from harness.protocols import TaskSpec
from harness.registry import POLICIES, TRAINABLES
from tests.fixtures.make_golden import HERE as GOLDEN_DIR
from tests.fixtures.make_golden import golden_outputs
from tests.policy_configs import tiny_config
from tests.tiny_data import write_tiny_demos

POLICY_KEYS = [k for k in TRAINABLES.names() if k.startswith("policy/")]
TASK = TaskSpec("simpler_bridge", 0, "t0", "put carrot on plate", 20, 1, (-1.0,) * 7, (1.0,) * 7)


def test_every_trainable_policy_is_also_a_registered_policy():
    assert POLICY_KEYS, "no trainable policies registered"
    for key in POLICY_KEYS:
        assert key.split("/", 1)[1] in POLICIES


def _train(key: str, tmp_path: Path, steps: int) -> tuple[Path, dict, float]:
    """Train the tiny config; returns (checkpoint, summary, fixed-batch loss before / after ratio)."""
    spec = TRAINABLES.get(key)()
    cfg = tiny_config(spec)
    data_file = write_tiny_demos(tmp_path / "demos.hdf5")
    tcfg = TrainConfig(
        steps=steps, batch_size=16, lr=2e-3, warmup=2, ema_decay=0.8, val_every=steps, save_every=steps, log_every=1
    )
    data = spec.make_data(cfg, [data_file], tcfg.seed, 0.2)
    out = tmp_path / "ckpt"
    meta = {"component": "policy", "name": spec.name, "config": config_to_dict(cfg), "data": data.info}
    summary = train(spec, cfg, data, tcfg, out, meta, resume=False, progress=False)

    def fixed_loss(state: dict | None) -> float:
        torch.manual_seed(tcfg.seed)
        model = spec.build_model(cfg, data.info).eval()
        if state is not None:
            model.load_state_dict(state)
        gen = torch.Generator().manual_seed(0)
        batch = data.to_batch(default_collate([data.train[i] for i in range(48)]), gen, torch.device("cpu"), False)
        with torch.no_grad():
            return float(model.compute_loss(batch, torch.Generator().manual_seed(1))[0])

    ratio = fixed_loss(load_checkpoint(out).state_dict) / fixed_loss(None)
    return out, summary, ratio


def _obs(rng: np.random.Generator) -> dict:
    return {
        "agentview_rgb": rng.integers(0, 255, (24, 24, 3), dtype=np.uint8),
        "proprio": np.array([0.1, 0.0, 0.2, 1.0, 0.0, 0.0, 0.0, 0.02, -0.02], dtype=np.float32),
        "instruction": TASK.instruction,
    }


@pytest.fixture(scope="module", params=POLICY_KEYS)
def trained(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp(request.param.replace("/", "_"))
    out, summary, ratio = _train(request.param, tmp, steps=40)
    return request.param, out, summary, ratio


def test_training_lowers_the_loss(trained):
    _, out, summary, ratio = trained
    assert summary["steps"] == 40
    assert ratio < 0.9, f"loss on a fixed batch fell only to {ratio:.2f} of its initial value"
    for name in ("config.json", "model.safetensors", "stats.json", "train_state.pt", "train_log.jsonl", "loss.png"):
        assert (out / name).is_file(), name


def test_act_and_sample_shapes_and_distinct_samples(trained):
    key, out = trained[:2]
    policy = POLICIES.build(key.split("/")[1], checkpoint=str(out))
    episode = make_episodes([TASK], 1, 0)[0]
    policy.reset(episode)
    obs = _obs(np.random.default_rng(0))
    chunk = policy.act(obs)
    h = policy.cfg.action_horizon
    assert chunk.shape == (h, 7) and chunk.dtype == np.float32 and np.isfinite(chunk).all()  # the whole chunk
    samples = policy.sample(obs, 5, np.random.default_rng(1))
    assert samples.shape == (5, h, 7) and np.isfinite(samples).all()
    flat = samples.reshape(5, -1)
    dists = np.linalg.norm(flat[:, None] - flat[None], axis=-1)[np.triu_indices(5, 1)]
    assert dists.min() > 1e-4, "sample(n) returned identical chunks"
    # one sample is a draw too (vla_random executes sample(obs, 1)), not the greedy act() chunk
    one_a, one_b = (policy.sample(obs, 1, np.random.default_rng(seed))[0] for seed in (2, 3))
    assert np.abs(one_a - one_b).max() > 1e-4, "sample(obs, 1) is deterministic: vla_random would not be random"


def test_same_seed_same_actions_and_save_load_round_trip(trained, tmp_path):
    key, out = trained[:2]
    name = key.split("/")[1]
    episode = make_episodes([TASK], 1, 0)[0]

    def run(folder: Path) -> np.ndarray:
        policy = POLICIES.build(name, checkpoint=str(folder))
        policy.reset(episode)
        rng = np.random.default_rng(3)
        return np.stack([policy.act(_obs(rng)) for _ in range(3)])

    first = run(out)
    assert np.array_equal(first, run(out))
    ckpt = load_checkpoint(out)
    copy = tmp_path / "copy"
    save_checkpoint(copy, ckpt.meta, ckpt.state_dict, ckpt.stats)
    assert np.array_equal(first, run(copy))


@pytest.mark.parametrize("key", POLICY_KEYS)
def test_golden_outputs(key):
    path = GOLDEN_DIR / f"golden_{key.replace('/', '_')}.safetensors"
    assert path.is_file(), f"missing golden fixture {path}: run python -m tests.fixtures.make_golden"
    expected = load_file(str(path))
    got = golden_outputs(key)
    for name, value in expected.items():
        torch.testing.assert_close(got[name], value, atol=1e-4, rtol=1e-4, msg=f"{key} {name} drifted")


@pytest.mark.parametrize("key", POLICY_KEYS)
def test_training_is_deterministic_for_a_seed(key, tmp_path):
    a = _train(key, tmp_path / "a", steps=3)[0]
    b = _train(key, tmp_path / "b", steps=3)[0]
    sa, sb = load_checkpoint(a).state_dict, load_checkpoint(b).state_dict
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize("key", POLICY_KEYS)
def test_bad_checkpoints_give_one_line_errors(key, tmp_path):
    name = key.split("/")[1]
    with pytest.raises(HarnessError, match="needs --checkpoint"):
        POLICIES.build(name, checkpoint=None)
    with pytest.raises(HarnessError, match="not found"):
        POLICIES.build(name, checkpoint=str(tmp_path / "missing"))
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "config.json").write_text('{"component": "policy", "name": "%s", "config": {}}' % name)
    (bad / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(HarnessError, match="model.safetensors"):
        POLICIES.build(name, checkpoint=str(bad))
    other = "baku" if name != "baku" else "diffusion"
    (bad / "config.json").write_text('{"component": "policy", "name": "%s", "config": {}}' % other)
    with pytest.raises(HarnessError, match="expected"):
        POLICIES.build(name, checkpoint=str(bad))


def test_config_fields_round_trip():
    for key in POLICY_KEYS:
        spec = TRAINABLES.get(key)()
        cfg = tiny_config(spec)
        assert dataclasses.asdict(cfg)["image_size"] == 16


def test_history_holds_consecutive_steps_via_observe(trained):
    """The episode loop calls observe() after every env step, so the policy's history holds consecutive
    frames (as in training), and act() on an already observed frame does not advance it again."""
    key, out = trained[:2]
    policy = POLICIES.build(key.split("/")[1], checkpoint=str(out))
    if policy.cfg.obs_horizon < 2:
        pytest.skip(f"{key} reads one observation (obs_horizon 1): no history to check")
    policy.reset(make_episodes([TASK], 1, 0)[0])
    rng = np.random.default_rng(0)
    first, second = _obs(rng), _obs(rng)
    policy.act(first)
    policy.observe(second)
    policy.act(second)
    history = list(policy._history)
    assert len(history) == 2
    assert not np.array_equal(history[0][0], history[1][0])  # [first, second], not [second, second]
    # identical consecutive observations (a static arm) still advance the history, as in training
    policy.observe(second)
    history = list(policy._history)
    assert np.array_equal(history[0][0], history[1][0]) and np.array_equal(history[1][0], _obs_images(policy, second))


def _obs_images(policy, obs):  # type: ignore[no-untyped-def]
    from harness.data.features import live_features

    cfg = policy.cfg
    return live_features(obs, cfg.image_keys, cfg.proprio_keys, policy.quat_order, cfg.image_size)[0]


def test_policy_returns_full_chunk_and_declares_execution(trained):
    """Planners get the whole predicted chunk and choose how many steps to execute (the review's H2)."""
    key, out = trained[:2]
    policy = POLICIES.build(key.split("/")[1], checkpoint=str(out))
    policy.reset(make_episodes([TASK], 1, 0)[0])
    chunk = policy.act(_obs(np.random.default_rng(0)))
    assert chunk.shape[0] == policy.chunk_length == policy.cfg.action_horizon
    assert policy.execute_steps == policy.cfg.n_action_steps <= policy.chunk_length


SHIPPED = sorted(p for p in (Path(__file__).resolve().parents[2] / "policies" / "checkpoints").iterdir() if p.is_dir())


@pytest.mark.parametrize("folder", SHIPPED, ids=[p.name for p in SHIPPED])
def test_shipped_checkpoints_load_and_act(folder):
    meta = load_checkpoint(folder).meta
    policy = POLICIES.build(meta["name"], checkpoint=str(folder))
    task = TaskSpec(meta["data"]["suite"], 0, "t0", meta["data"]["instructions"][0], 20, 1, (-1.0,) * 7, (1.0,) * 7)
    policy.reset(make_episodes([task], 1, 0)[0])
    rng = np.random.default_rng(0)
    obs = {**_obs(rng), "wrist_rgb": rng.integers(0, 255, (24, 24, 3), dtype=np.uint8)}
    chunk = policy.act(obs)
    assert chunk.shape == (meta["config"]["action_horizon"], meta["data"]["action_dim"]) and np.isfinite(chunk).all()


SAMPLING_KEYS = [k for k in POLICY_KEYS if getattr(TRAINABLES.get(k)().config_cls, "sampling_options", None)]


@pytest.mark.parametrize("key", SAMPLING_KEYS)
def test_declared_sampling_flags_reach_the_policy(key, tmp_path):
    """A policy whose config declares ``sampling_options`` takes --policy-sample-noise[-kind] at evaluation:
    ``chunk`` holds one draw over the whole chunk, ``step`` draws anew at every step, 0 gives the act() chunk."""
    from harness.policy.build import build_policy
    from harness.protocols import PolicyOptions

    out = _train(key, tmp_path, steps=2)[0]
    name = key.split("/")[1]
    episode = make_episodes([TASK], 1, 0)[0]
    obs = _obs(np.random.default_rng(0))

    def samples(noise: float | None, kind: str | None) -> tuple[np.ndarray, np.ndarray]:
        options = PolicyOptions(policy_sample_noise=noise, policy_sample_noise_kind=kind)
        policy = build_policy(name, str(out), options)
        policy.reset(episode)
        return policy.act(obs), policy.sample(obs, 6, np.random.default_rng(1))

    mean, held = samples(0.5, "chunk")
    offsets = held - mean[None]  # [n, Hz, Da]: the same offset at every step of a sample (env units: scaled per dim)
    assert np.allclose(offsets, offsets[:, :1], atol=1e-5) and np.abs(offsets).max() > 1e-3
    mean, step = samples(0.5, "step")
    assert not np.allclose(step - mean[None], (step - mean[None])[:, :1], atol=1e-5)
    mean, none = samples(0.0, None)
    assert np.allclose(none, mean[None], atol=1e-6)
    with pytest.raises(HarnessError) as err:
        build_policy(name, str(out), PolicyOptions(policy_sample_noise_kind="pink"))
    assert "pink" in str(err.value) and "\n" not in str(err.value)
    # a policy server takes the same flags and tells its clients what it samples with
    from harness.serve import PolicyServer

    held = PolicyOptions(policy_sample_noise=0.5, policy_sample_noise_kind="chunk")
    server = PolicyServer(name, str(out), options=held)
    assert server.metadata["sampling"] == {"sample_noise": 0.5, "sample_noise_kind": "chunk"}


def test_sampling_flags_are_part_of_the_run_identity():
    from types import SimpleNamespace

    from harness.analysis.comparability import identity_mismatches, run_identity

    suite = SimpleNamespace(name="s", headline="success")
    tasks = [SimpleNamespace(task_id=0, name="t", max_steps=10)]
    plain = run_identity({"policy": "baku"}, suite, tasks)
    held = run_identity({"policy": "baku", "policy_sample_noise_kind": "chunk"}, suite, tasks)
    assert plain["policy_sampling"] is None  # an older summary without the key compares equal to this
    assert any(m.startswith("policy_sampling") for m in identity_mismatches(plain, held))
    assert not identity_mismatches(plain, {k: v for k, v in plain.items() if k != "policy_sampling"})
