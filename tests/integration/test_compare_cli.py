"""``python -m harness.compare`` end to end on the real SIMPLER suite (a few steps): same episodes for every
planner, expert subgoal images, per-decision compute logs, paired tests, json + png outputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli

pytestmark = pytest.mark.sim


def test_compare_three_planners_on_simpler(tmp_path):
    proc = run_cli(
        "harness.compare",
        "--suite", "simpler_bridge", "--tasks", "0", "--episodes-per-task", "2", "--policy", "random16",
        "--planners", "vla_random,vla_mean,wm_topk", "--world-model", "mean_colour", "--wm-checkpoint", "none",
        "--n-samples", "6", "--top-k", "2", "--subgoal-every", "5", "--max-steps", "10", "--workers", "0",
        "--out", str(tmp_path), "--no-progress",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = Path(proc.stdout.strip().splitlines()[-1].removeprefix("compare: "))
    data = json.loads((out / "compare.json").read_text())
    assert (out / "compare.png").stat().st_size > 1000
    assert set(data["runs"]) == {"vla_random", "vla_mean", "wm_topk"}
    episodes = {}
    for planner, run_dir in data["runs"].items():
        lines = (Path(run_dir) / "episodes.jsonl").read_text().splitlines()
        records = [json.loads(line) for line in lines]
        assert len(records) == 2 and all(r["error"] is None for r in records), records
        episodes[planner] = {r["key"]: (r["seed"], r["init_index"]) for r in records}
        for r in records:
            assert r["steps"] == 10 and len(r["plan_log"]) == r["decisions"] == 2  # p = 5 of 16-step chunks
            assert r["metrics"]["goal_frames"] >= 1 and r["metrics"]["delta_f"] is not None
        manifest = json.loads((Path(run_dir) / "manifest.json").read_text())
        assert manifest["privileged"], "goal images from the expert must be declared privileged"
    assert episodes["vla_random"] == episodes["vla_mean"] == episodes["wm_topk"]
    logs = [json.loads(line) for line in (Path(data["runs"]["wm_topk"]) / "episodes.jsonl").read_text().splitlines()]
    decision = logs[0]["plan_log"][0]
    assert decision["n"] == 6 and decision["k"] == 2 and decision["wm_calls"] == 1 and len(decision["chosen"]) == 2
    overall = data["report"]["overall"]
    assert overall["planners"]["wm_topk"]["success"]["n"] == 2
    assert {(t["a"], t["b"]) for t in overall["paired"]} == {
        ("vla_random", "vla_mean"), ("vla_random", "wm_topk"), ("vla_mean", "wm_topk")
    }  # fmt: skip
    assert "McNemar" in proc.stdout and "Holm p =" in proc.stdout

    merged = run_cli("harness.compare", "--merge", str(out), "--out", str(tmp_path / "merged"))
    assert merged.returncode == 0, merged.stderr[-2000:]
    again = json.loads(
        (Path(merged.stdout.strip().splitlines()[-1].removeprefix("compare: ")) / "compare.json").read_text()
    )
    assert again["report"]["overall"]["planners"]["wm_topk"]["success"]["n"] == 2
    twice = run_cli("harness.compare", "--merge", str(out), str(out), "--out", str(tmp_path / "merged"))
    assert twice.returncode == 2 and "appears in two merged runs" in twice.stderr


def test_compare_rejects_wm_topk_without_world_model(tmp_path):
    proc = run_cli(
        "harness.compare", "--suite", "simpler_bridge", "--planners", "vla_mean,wm_topk", "--policy", "random16",
        "--out", str(tmp_path),
    )  # fmt: skip
    assert proc.returncode == 2 and "--world-model" in proc.stderr and "Traceback" not in proc.stderr
    cases = ((["--compute-matched"], "needs vla_mean and wm_topk"), (["--matched-samples", "8"], "needs --compute"))
    for flags, message in cases:
        bad = run_cli("harness.compare", "--suite", "libero_object", "--planners", "vla_random,wm_topk", *flags,
                      "--out", str(tmp_path))  # fmt: skip
        assert bad.returncode == 2 and message in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


def test_compare_runs_out_of_the_box_with_the_suites_shipped_world_model(tmp_path):
    """No --policy, --world-model or --subgoal-every: the suite's shipped BAKU and LAC-WM and its compare
    defaults (given flags win); every planner scores delta_f with that one world model."""
    proc = run_cli(
        "harness.compare", "--suite", "libero_object", "--planners", "vla_mean,wm_topk", "--episodes-per-task", "1",
        "--n-samples", "4", "--top-k", "2", "--max-steps", "10", "--workers", "0", "--out", str(tmp_path),
        "--no-progress", "--compute-matched",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    filled = next(line for line in proc.stderr.splitlines() if "defaults for flags not given" in line)
    assert "--tasks 0" in filled and "--subgoal-every 10" in filled and "--world-model lac_wm" in filled
    assert "--episodes-per-task" not in filled and "--n-samples" not in filled
    out = Path(proc.stdout.strip().splitlines()[-1].removeprefix("compare: "))
    data = json.loads((out / "compare.json").read_text())
    assert set(data["runs"]) == {"vla_mean", "wm_topk", "vla_mean_matched"}
    matched = data["compute_matched"]
    assert matched["vla_mean_n"] == 4 and matched["n_samples"] >= 4 and matched["wm_topk_s"] > 0
    for planner, run_dir in data["runs"].items():
        config = json.loads((Path(run_dir) / "manifest.json").read_text())["config"]
        if planner == "vla_mean_matched":
            assert config["planner"] == "vla_mean" and config["n_samples"] == matched["n_samples"]
        assert config["policy"] == "baku" and config["world_model"] == "lac_wm", planner
        assert config["wm_checkpoint"].endswith("world_models/checkpoints/libero_object/lac_wm")
        assert config["subgoal_every"] == 10 and config["tasks"] == "0"
        record = json.loads((Path(run_dir) / "episodes.jsonl").read_text().splitlines()[0])
        assert record["error"] is None and record["decisions"] == 1 and record["metrics"]["delta_f"] is not None
