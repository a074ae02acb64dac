"""The eval CLI end to end on the instant toy suite: determinism, workers, resume, crashes, bad input."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT, comparable, run_dir_of

BASE = ["--suite", "toy_reach", "--episodes-per-task", "4", "--videos", "1", "--no-progress"]


def _records(run_dir):
    return [json.loads(line) for line in (run_dir / "episodes.jsonl").read_text().splitlines()]


def test_same_seed_and_any_worker_count_give_identical_episodes(cli, tmp_path):
    runs = [
        cli("harness.eval", *BASE, "--workers", w, "--seed", "3", "--out", str(tmp_path)) for w in ("0", "1", "2", "2")
    ]
    for proc in runs:
        assert proc.returncode == 0, proc.stderr
    dirs = [run_dir_of(p) for p in runs]
    reference = comparable(_records(dirs[0]))
    assert len(reference) == 12 and any(r["success"] for r in reference)
    for d in dirs[1:]:
        assert comparable(_records(d)) == reference
        assert json.loads((d / "summary.json").read_text()) == json.loads((dirs[0] / "summary.json").read_text())
    other = cli("harness.eval", *BASE, "--workers", "0", "--seed", "4", "--out", str(tmp_path))
    assert comparable(_records(run_dir_of(other))) != reference


def test_sampling_planner_runs_are_identical_apart_from_timings(cli, tmp_path):
    args = [*BASE, "--tasks", "0", "--planner", "vla_mean", "--n-samples", "4", "--top-k", "2", "--subgoal-every", "1"]
    runs = [cli("harness.eval", *args, "--workers", w, "--out", str(tmp_path)) for w in ("0", "2")]
    records = [_records(run_dir_of(p)) for p in runs]
    assert all("time_s" in r["plan_log"][0] for r in records[0])  # nested timings are recorded ...
    assert comparable(records[0]) == comparable(records[1])  # ... and ignored when comparing runs


def test_manifest_records_provenance(cli, tmp_path):
    proc = cli("harness.eval", *BASE, "--workers", "0", "--out", str(tmp_path))
    run_dir = run_dir_of(proc)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["config"]["policy"] == "greedy"  # the suite default, resolved
    assert manifest["git"]["sha"] is None or len(manifest["git"]["sha"]) == 40
    assert manifest["packages"]["numpy"] and manifest["seeds"]["run_seed"] == 0
    assert len(manifest["seeds"]["episodes"]) == 12
    assert sorted(p.name for p in (run_dir / "videos").iterdir()) == [f"task0{i}_ep000.mp4" for i in range(3)]


def test_crashing_worker_is_recorded_and_replaced(cli, tmp_path):
    proc = cli("harness.eval", *BASE, "--policy", "crashing", "--workers", "2", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    records = {r["key"]: r for r in _records(run_dir_of(proc))}
    assert len(records) == 12
    crashed = [k for k, r in records.items() if r["error"]]
    assert sorted(crashed) == ["0:1", "1:1", "2:1"]
    assert all("worker crashed" in records[k]["error"] and not records[k]["success"] for k in crashed)
    assert sum(r["error"] is None for r in records.values()) == 9


def test_resume_after_sigkill_equals_uninterrupted_run(cli, tmp_path):
    args = [*BASE, "--episodes-per-task", "6", "--workers", "1"]
    full = cli("harness.eval", *args, "--out", str(tmp_path / "a"), env={"TOY_STEP_SLEEP": "0"})
    reference = run_dir_of(full)
    env = {**os.environ, "HARNESS_PLUGINS": "tests.plugins", "TOY_STEP_SLEEP": "0.01"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness.eval", *args, "--out", str(tmp_path / "b")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    runs = tmp_path / "b" / "toy_reach"
    deadline = time.time() + 120
    while time.time() < deadline:
        files = list(runs.glob("*/episodes.jsonl")) if runs.exists() else []
        if files and 3 <= len(files[0].read_text().splitlines()) < 18:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the whole process group: parent and its worker
    proc.wait()
    run_dir = files[0].parent
    partial = len(_records(run_dir))
    assert 3 <= partial < 18, "the kill should land mid-run"
    resumed = cli("harness.eval", "--resume", str(run_dir), "--workers", "2", "--no-progress")
    assert resumed.returncode == 0, resumed.stderr
    assert run_dir_of(resumed) == run_dir
    assert comparable(_records(run_dir)) == comparable(_records(reference))
    assert (run_dir / "summary.json").read_text() == (reference / "summary.json").read_text()


@pytest.mark.parametrize(
    "args,message",
    [
        (["--suite", "nope"], "unknown suite 'nope'"),
        (["--suite", "toy_reach", "--tasks", "9"], "out of range"),
        (["--suite", "toy_reach", "--policy", "nope"], "unknown policy 'nope'"),
        (["--suite", "toy_reach", "--planner", "nope"], "unknown planner 'nope'"),
        (["--suite", "toy_reach", "--policy", "replay", "--checkpoint", "/nonexistent/x.npz"], "not found"),
        (["--resume", "/nonexistent/run"], "run dir not found"),
        (["--suite", "toy_reach", "--episodes", "2"], "unrecognized arguments: --episodes"),  # no prefix matching
        (["--suite", "toy_reach", "--episode-timeout", "5", "--workers", "0"], "needs --workers >= 1"),
        (["--suite", "toy_reach", "--episode-timeout", "0"], "must be > 0"),
    ],
)
def test_bad_input_is_one_line_and_nonzero(cli, tmp_path, args, message):
    proc = cli("harness.eval", *args, "--out", str(tmp_path))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in proc.stderr


def test_bad_policy_outputs_are_errors_in_a_finished_run(cli, tmp_path):
    proc = cli("harness.eval", *BASE, "--policy", "faulty_nan", "--workers", "0", "--out", str(tmp_path))
    assert proc.returncode == 0
    summary = json.loads((run_dir_of(proc) / "summary.json").read_text())
    assert summary["overall"]["errors"] == 12 and summary["overall"]["successes"] == 0
    assert "non-finite" in proc.stderr


def test_hung_episode_times_out_and_the_run_goes_on(cli, tmp_path):
    plugins = {"HARNESS_PLUGINS": "tests.plugins,tests.hang_plugin"}
    args = [*BASE, "--tasks", "0", "--policy", "hanging", "--workers", "1", "--episode-timeout", "3"]
    proc = cli("harness.eval", *args, "--out", str(tmp_path), env=plugins, timeout=180)
    assert proc.returncode == 0, proc.stderr
    records = {r["key"]: r for r in _records(run_dir_of(proc))}
    assert sorted(records) == ["0:0", "0:1", "0:2", "0:3"]
    assert records["0:1"]["error"] == "timeout after 3 s" and not records["0:1"]["success"]
    assert all(records[k]["error"] is None for k in ("0:0", "0:2", "0:3"))
    summary = json.loads((run_dir_of(proc) / "summary.json").read_text())
    assert summary["overall"]["errors"] == 1
    assert json.loads((run_dir_of(proc) / "manifest.json").read_text())["config"]["episode_timeout"] == 3.0


def test_videos_start_at_the_first_episode_of_the_batch(cli, tmp_path):
    args = [*BASE, "--tasks", "0,1", "--episodes-per-task", "2", "--first-episode", "4", "--workers", "0"]
    proc = cli("harness.eval", *args, "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    run_dir = run_dir_of(proc)
    videos = ["task00_ep004.mp4", "task01_ep004.mp4"]
    assert sorted(p.name for p in (run_dir / "videos").iterdir()) == videos
    assert [r.get("video") for r in comparable(_records(run_dir))] == [videos[0], None, videos[1], None]
