"""Contract tests over every registered policy (built-in and test plugins)."""

import numpy as np
import pytest

from harness.errors import HarnessError
from harness.engine.episodes import make_episodes
from harness.registry import POLICIES, SUITES, TRAINABLES

FAULTY = {"faulty_nan", "faulty_shape", "faulty_range", "faulty_raise", "crashing"}
SIM_ONLY = {"expert"}  # needs privileged simulator state: covered by tests/integration/test_expert_*.py
# trained policies need a checkpoint: tests/unit/test_trained_policies.py trains a tiny one per registered policy
TRAINED = {k.split("/", 1)[1] for k in TRAINABLES.names() if k.startswith("policy/")}
# policies that declare ``needs_server`` run against a server: tests/integration/test_remote_policy.py
SERVED = {n for n in POLICIES.names() if getattr(POLICIES.get(n), "needs_server", False)}


@pytest.fixture
def replay_file(tmp_path):
    path = tmp_path / "actions.npz"
    np.savez(path, actions=np.full((3, 2), 0.05, dtype=np.float32))
    return path


@pytest.mark.parametrize("name", [n for n in POLICIES.names() if n not in FAULTY | SIM_ONLY | TRAINED | SERVED])
def test_policy_contract(name, replay_file):
    task = SUITES.build("toy_reach").tasks()[0]
    episode = make_episodes([task], 1, 3)[0]
    policy = POLICIES.build(name, checkpoint=str(replay_file) if name == "replay" else None)
    env = SUITES.build("toy_reach").make_env(task)
    obs = env.reset(0, 0)
    policy.reset(episode)
    chunk = policy.act(obs)
    assert chunk.ndim == 2 and chunk.shape[1] == task.action_dim and chunk.dtype == np.float32
    samples = policy.sample(obs, 4, np.random.default_rng(0))
    assert samples.ndim == 3 and samples.shape[0] == 4 and samples.shape[-1] == task.action_dim
    assert np.all(np.isfinite(samples))


def test_random_policy_samples_differ_and_respect_bounds():
    task = SUITES.build("toy_reach").tasks()[0]
    policy = POLICIES.build("random")
    policy.reset(make_episodes([task], 1, 0)[0])
    s = policy.sample({}, 8, np.random.default_rng(1))
    assert len({s[i].tobytes() for i in range(8)}) == 8
    assert s.min() >= -0.1 and s.max() <= 0.1


def test_replay_policy_plays_back_then_stops(replay_file):
    task = SUITES.build("toy_reach").tasks()[0]
    policy = POLICIES.build("replay", checkpoint=str(replay_file))
    policy.reset(make_episodes([task], 1, 0)[0])
    out = [policy.act({})[0] for _ in range(5)]
    assert np.allclose(out[:3], 0.05) and np.allclose(out[3:], 0.0)


def test_replay_policy_bad_files(tmp_path):
    with pytest.raises(HarnessError, match="needs --checkpoint"):
        POLICIES.build("replay")
    with pytest.raises(HarnessError, match="not found"):
        POLICIES.build("replay", checkpoint=str(tmp_path / "missing.npz"))
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(HarnessError, match="cannot read replay file"):
        POLICIES.build("replay", checkpoint=str(bad))
    pickled = tmp_path / "obj.npz"
    np.savez(pickled, actions=np.array([{"a": 1}], dtype=object))
    with pytest.raises(HarnessError, match="cannot read replay file"):
        POLICIES.build("replay", checkpoint=str(pickled))


def test_expert_refuses_suites_without_an_expert():
    task = SUITES.build("toy_reach").tasks()[0]
    with pytest.raises(HarnessError, match="suite 'toy_reach' declares no scripted expert"):
        POLICIES.build("expert").reset(make_episodes([task], 1, 0)[0])
