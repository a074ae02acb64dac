"""eval writes the run identity into summary.json, and regress uses it (instant toy suite, no simulator)."""

import json

from tests.conftest import run_dir_of

BASE = ["--suite", "toy_reach", "--tasks", "0,1", "--episodes-per-task", "3", "--videos", "0", "--no-progress"]


def _eval(cli, tmp_path, *extra):
    proc = cli("harness.eval", *BASE, "--workers", "0", "--out", str(tmp_path), *extra)
    assert proc.returncode == 0, proc.stderr
    return run_dir_of(proc)


def test_summary_carries_the_identity_and_regress_compares_it(cli, tmp_path):
    base = _eval(cli, tmp_path)
    config = json.loads((base / "summary.json").read_text())["config"]
    assert config["policy"] == "greedy" and config["planner"] == "direct" and config["checkpoint"] is None
    assert config["tasks"] == {"0": {"name": "reach_0", "max_steps": 40}, "1": {"name": "reach_1", "max_steps": 40}}
    assert config["headline"] == "success_once" and config["seed"] == 0 and "workers" not in config

    same = _eval(cli, tmp_path, "--seed", "1")
    ok = cli("harness.regress", "--baseline", str(base), "--run", str(same))
    assert ok.returncode in (0, 1) and "seed (0 vs 1)" in ok.stderr

    short = _eval(cli, tmp_path, "--max-steps", "5")
    refused = cli("harness.regress", "--baseline", str(base), "--run", str(short))
    assert refused.returncode == 2 and "task 0 max_steps (40 vs 5)" in refused.stderr
