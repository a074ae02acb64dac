"""tasks.external: a simulator in another Python environment behind the TaskEnv interface (here the other
environment is this interpreter, serving tests/external_toy.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from harness.errors import HarnessError
from harness.protocols import TaskEnv, TaskSpec
from tasks.external import process as ext
from tasks.external.framing import read_message, write_message

SPEC = TaskSpec("toy", 0, "toy", "do it", 5, 1, (-1.0,) * 3, (1.0,) * 3)
TOY = ext.ExternalPython("toy", Path(sys.executable), "bash install-toy.sh")


def _env(**kwargs) -> ext.ExternalTaskEnv:
    return ext.ExternalTaskEnv(SPEC, TOY, "tests.external_toy:ToyEnv", {"size": 8, **kwargs})


def test_framing_round_trips_arrays_without_pickle(tmp_path):
    import os

    r, w = os.pipe()
    message = {"a": np.arange(6, dtype=np.int16).reshape(2, 3), "s": "x", "n": [1, 2.5, None]}
    write_message(w, message)
    got = read_message(r)
    assert got["a"].dtype == np.int16 and np.array_equal(got["a"], message["a"]) and got["n"] == [1, 2.5, None]
    with pytest.raises(TypeError):
        write_message(w, {"bad": np.array([object()])})
    os.close(r), os.close(w)


def test_env_in_a_child_process_is_a_task_env_and_keeps_dtypes_and_shapes():
    env = _env()
    try:
        assert isinstance(env, TaskEnv) and env.renders_on_demand
        obs = env.reset(2, 3)
        assert obs["agentview_rgb"].shape == (8, 9, 3) and obs["agentview_rgb"].dtype == np.uint8
        assert obs["proprio"].dtype == np.float32 and obs["proprio"][0] == 5.0 and obs["instruction"] == "do it"
        obs, info = env.step(np.array([0.5, 0.25, 0.25], dtype=np.float32), cameras=())
        assert "agentview_rgb" not in obs and info == {"success": False, "dtype": "float64"}
        obs, _ = env.step(np.zeros(3), cameras=None)
        assert "agentview_rgb" in obs
        env.step(np.zeros(3))
        assert env.final_metrics() == {"steps": 3.0}
        assert env.call("chatter") == "still fine"  # the child's stdout does not corrupt the stream
        with pytest.raises(HarnessError, match="toy: no such scene"):
            env.call("fail_cleanly")
        with pytest.raises(ext.SimulatorProcessError, match=r"ZeroDivisionError: division by zero \[log"):
            env.call("raise_bug")
        with pytest.raises(HarnessError, match="not offered"):
            env.call("__init__")
        env.reset(0, 0)  # still serving after errors
    finally:
        env.close()
    with pytest.raises(HarnessError, match="already closed"):
        env.reset(0, 0)


def test_a_dying_child_gives_one_line_with_its_exit_code_and_last_words():
    env = _env()
    with pytest.raises(HarnessError, match=r"exit code 3\): toy: about to exit"):
        env.call("die")
    env.close()


def test_missing_environment_and_build_errors_are_one_line():
    missing = ext.ExternalPython("toy", Path("/nonexistent/bin/python"), "bash install-toy.sh")
    with pytest.raises(HarnessError, match="Python environment is missing .*run: bash install-toy.sh"):
        ext.ExternalTaskEnv(SPEC, missing, "tests.external_toy:ToyEnv", {"size": 8})
    with pytest.raises(HarnessError, match="toy: toy: refused to build"):
        _env(refuse=True)
    with pytest.raises(HarnessError, match="ModuleNotFoundError"):
        ext.ExternalTaskEnv(SPEC, TOY, "tests.no_such_module:Env", {})


def test_protocol_mismatch_is_refused(monkeypatch):
    monkeypatch.setattr(ext, "PROTOCOL", 99)
    with pytest.raises(HarnessError, match="protocol 1, the harness 99"):
        _env()
