"""The Ray backend on a real local Ray cluster (started and stopped here): same episodes as local workers,
resume, dead and hung workers, fatal errors, and one-line errors without Ray or without a cluster."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from harness.data.hdf5_io import iter_demos
from tests.conftest import ROOT, comparable, run_cli, run_dir_of

pytestmark = pytest.mark.slow

BASE = ["--suite", "toy_reach", "--episodes-per-task", "4", "--videos", "1", "--no-progress"]
RAY_CLI = [sys.executable, "-m", "ray.scripts.scripts"]  # `ray` of this interpreter, on PATH or not


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ray_address():
    """HOST:PORT of a 2-CPU Ray head started for this module (stopped, with every Ray process, at the end).

    Its token authentication is set here, for the head and every driver of this module (the CLI subprocesses
    inherit it), so that a ``~/.ray/auth_token`` left by an earlier local ``ray.init()`` cannot break them."""
    pytest.importorskip("ray")  # only the tests that need a cluster; the others run without Ray too
    port = _free_port()
    start = [
        *RAY_CLI, "start", "--head", "--node-ip-address", "127.0.0.1", "--port", str(port), "--num-cpus", "2",
        "--object-store-memory", "80000000", "--include-dashboard=false", "--disable-usage-stats",
    ]  # fmt: skip
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RAY_AUTH_MODE", "token")
        mp.setenv("RAY_AUTH_TOKEN", uuid.uuid4().hex)
        env = {**os.environ, "PYTHONPATH": str(ROOT), "RAY_USAGE_STATS_ENABLED": "0"}
        try:
            proc = subprocess.run(start, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
            assert proc.returncode == 0, proc.stdout + proc.stderr
            yield f"127.0.0.1:{port}"
        finally:
            subprocess.run([*RAY_CLI, "stop", "--force"], capture_output=True, timeout=120)


def _records(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run_dir / "episodes.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def runs(ray_address, tmp_path_factory):
    """A local run (--workers 1) and the same run on Ray with two actors."""
    out = tmp_path_factory.mktemp("runs")
    local = run_cli("harness.eval", *BASE, "--workers", "1", "--out", str(out / "local"))
    on_ray = run_cli(
        "harness.eval", *BASE, "--backend", "ray", "--ray-address", ray_address, "--workers", "2",
        "--out", str(out / "ray"),
    )  # fmt: skip
    assert local.returncode == 0 and on_ray.returncode == 0, local.stderr + on_ray.stderr
    return run_dir_of(local), run_dir_of(on_ray)


def test_ray_run_gives_the_episodes_of_a_local_run(runs, ray_address):
    local, on_ray = runs
    reference = comparable(_records(local))
    assert len(reference) == 12 and comparable(_records(on_ray)) == reference
    assert (on_ray / "summary.json").read_text() == (local / "summary.json").read_text()  # same identity too
    config = json.loads((on_ray / "manifest.json").read_text())["config"]
    assert (config["backend"], config["ray_address"], config["workers"]) == ("ray", ray_address, 2)
    assert sorted(p.name for p in (on_ray / "videos").iterdir()) == [f"task0{i}_ep000.mp4" for i in range(3)]


def test_resume_of_a_partial_ray_run_completes_it_without_duplicates(runs, ray_address, tmp_path):
    local, on_ray = runs
    run_dir = tmp_path / on_ray.name
    shutil.copytree(on_ray, run_dir)
    lines = (run_dir / "episodes.jsonl").read_text().splitlines()
    (run_dir / "episodes.jsonl").write_text("\n".join(lines[:5]) + "\n" + lines[5][:20])  # killed mid-write
    resumed = run_cli(
        "harness.eval", "--resume", str(run_dir), "--backend", "ray", "--ray-address", ray_address,
        "--workers", "2", "--no-progress",
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    assert "ignoring" not in resumed.stderr  # backend flags may change on --resume, like --workers
    records = _records(run_dir)
    assert len(records) == len({r["key"] for r in records}) == 12
    assert comparable(records) == comparable(_records(local))
    assert (run_dir / "summary.json").read_text() == (local / "summary.json").read_text()
    assert json.loads((run_dir / "manifest.json").read_text())["resumes"][-1]["backend"] == "ray"


def test_dead_worker_episode_is_recorded_once_and_the_run_goes_on(ray_address, tmp_path):
    args = [*BASE, "--tasks", "0,1", "--policy", "crashing", "--backend", "ray", "--ray-address", ray_address]
    proc = run_cli("harness.eval", *args, "--workers", "2", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    records = _records(run_dir_of(proc))
    assert len(records) == len({r["key"] for r in records}) == 8  # never lost, never counted twice
    crashed = sorted(r["key"] for r in records if r["error"])
    assert crashed == ["0:1", "1:1"]  # episode 1 kills its actor every time: the retry dies too
    assert all(r["error"] == "worker crashed mid-episode" and not r["success"] for r in records if r["error"])


def test_compare_on_ray(ray_address, tmp_path):
    args = ["--suite", "toy_reach", "--tasks", "0", "--episodes-per-task", "2", "--planners", "direct,vla_mean",
            "--n-samples", "4", "--subgoal-every", "1", "--goal", "none", "--no-progress"]  # fmt: skip
    ray_args = ["--backend", "ray", "--ray-address", ray_address, "--workers", "2", "--out", str(tmp_path)]
    proc = run_cli("harness.compare", *args, *ray_args)
    assert proc.returncode == 0, proc.stderr
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith("compare: "), proc.stdout
    compare = json.loads((Path(last.removeprefix("compare: ")) / "compare.json").read_text())
    assert compare["config"]["backend"] == "ray" and set(compare["runs"]) == {"direct", "vla_mean"}
    for run_dir in compare["runs"].values():
        assert len(_records(Path(run_dir))) == 2


def test_run_jobs_on_ray_retries_dead_actors_once_and_times_out_hung_jobs(ray_address, tmp_path):
    """The backend under run_jobs, as harness.data.generate uses it (toy_reach has no expert to generate with)."""
    proc = run_cli("tests.ray_jobs", ray_address, str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    once = f"die_once:{tmp_path / 'crashed'}"
    assert sorted(r["job"] for r in out["results"]) == sorted(["ok:a", once, "die", "raise", "hang", "ok:b"])
    assert {r["job"]: r["error"] for r in out["results"]} == {
        "ok:a": None,
        once: None,  # its actor died once: retried on another actor
        "die": "crashed (None)",  # died again on the retry
        "raise": "crashed (None)",
        "hang": "timeout after 5 s",
        "ok:b": None,
    }
    assert out["fatal"] == "bad config for every job"  # HarnessError in an actor ends the run with its line


FAKE_GENERATE = (  # harness.data.generate with the simulator-free runner of its unit tests (toy_reach has no expert)
    "import sys; import harness.data.generate as g; from tests.unit.test_crash_safe_writer import FakeGenerationRunner;"
    " g.GenerationRunner = FakeGenerationRunner; sys.exit(g.main(sys.argv[1:]))"
)


def test_generate_on_ray_writes_the_demos_of_a_local_run(ray_address, tmp_path):
    args = ["--suite", "toy_reach", "--tasks", "0,1", "--episodes", "2", "--no-progress"]
    env = {**os.environ, "HARNESS_PLUGINS": "tests.plugins"}
    outs = {"local": ["--workers", "1"], "ray": ["--backend", "ray", "--ray-address", ray_address, "--workers", "2"]}
    for name, flags in outs.items():
        cmd = [sys.executable, "-c", FAKE_GENERATE, *args, *flags, "--out", str(tmp_path / f"{name}.hdf5")]
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
    logs = {name: (tmp_path / f"{name}.hdf5.attempts.jsonl").read_text() for name in outs}
    assert logs["ray"] == logs["local"] and '"success": false' in logs["local"]  # attempt 0:1 fails
    demos = {name: [(d.attrs["task_id"], d.attrs["attempt"]) for d in iter_demos(tmp_path / f"{name}.hdf5")]
             for name in outs}  # fmt: skip
    assert demos["ray"] == demos["local"] == [(0, 0), (0, 2), (1, 0), (1, 1)]


def test_generate_on_ray_reports_a_fatal_runner_error_as_one_line(ray_address, tmp_path):
    args = ["--suite", "toy_reach", "--tasks", "0", "--episodes", "1", "--no-progress", "--out", str(tmp_path / "d.h5")]
    proc = run_cli("harness.data.generate", *args, "--backend", "ray", "--ray-address", ray_address, "--workers", "1")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert errors == ["error: suite 'toy_reach' declares no scripted expert"]  # raised inside the Ray actor


@pytest.mark.parametrize(
    "module,args",
    [
        ("harness.eval", ["--suite", "toy_reach", "--backend", "ray", "--out", "runs"]),
        ("harness.data.generate", ["--suite", "toy_reach", "--backend", "ray", "--out", "demos.h5"]),
    ],
)
def test_backend_ray_without_ray_installed_is_one_line(module, args, tmp_path):
    blocked = f"import sys, runpy; sys.modules['ray'] = None; runpy.run_module('{module}', run_name='__main__')"
    env = {**os.environ, "HARNESS_PLUGINS": "tests.plugins", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", blocked, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 2
    message = "error: Ray is not installed; pip install 'robot-harness[ray]' (or ray==2.60.0) for --backend ray"
    assert proc.stderr.strip().splitlines() == [message]
    assert not any(tmp_path.iterdir())  # nothing written


@pytest.mark.parametrize(
    "args,message",
    [
        (["--backend", "ray", "--workers", "0"], "--backend ray needs --workers >= 1"),
        (["--ray-address", "127.0.0.1:6379"], "need --backend ray"),
        (["--backend", "dask"], "--backend must be local or ray"),
        (["--backend", "ray", "--ray-gpus-per-worker", "-1"], "must be >= 0"),
    ],
)
def test_bad_backend_flags_are_one_line(args, message, tmp_path):
    proc = run_cli("harness.eval", "--suite", "toy_reach", *args, "--out", str(tmp_path))
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and message in lines[0], proc.stderr


def test_unreachable_cluster_is_one_line_before_anything_is_written(tmp_path):
    address = f"127.0.0.1:{_free_port()}"
    proc = run_cli("harness.eval", "--suite", "toy_reach", "--backend", "ray", "--ray-address", address,
                   "--out", str(tmp_path))  # fmt: skip
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and lines == [f"error: cannot connect to Ray at {address}: Connection refused"]
    assert not any(tmp_path.iterdir())
