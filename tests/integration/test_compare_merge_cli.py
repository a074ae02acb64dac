"""``harness.compare --merge`` pools only comparable batches; McNemar p-values come with Holm adjustment.
Runs on the instant toy suite (no simulator)."""

import json
from pathlib import Path

import pytest

from harness.compare import paired_tests

BASE = ["--suite", "toy_reach", "--tasks", "0,1", "--planners", "vla_random,vla_mean", "--goal", "none"]
BASE += ["--episodes-per-task", "2", "--workers", "0", "--no-progress", "--n-samples", "4", "--top-k", "2"]


def _compare(cli, out: Path, *extra: str) -> str:
    proc = cli("harness.compare", *BASE, "--out", str(out), *extra)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Holm p =" in proc.stdout
    return proc.stdout.strip().splitlines()[-1].removeprefix("compare: ")


def test_merge_pools_batches_and_refuses_other_configs(cli, tmp_path):
    first = _compare(cli, tmp_path / "a")
    later = _compare(cli, tmp_path / "b", "--first-episode", "2", "--episodes-per-task", "3")
    merged = cli("harness.compare", "--merge", first, later, "--out", str(tmp_path / "m"))
    assert merged.returncode == 0, merged.stderr
    report = json.loads((Path(merged.stdout.strip().splitlines()[-1][9:]) / "compare.json").read_text())["report"]
    assert report["overall"]["planners"]["vla_mean"]["success"]["n"] == 10

    cases = (
        ("--n-samples", "3", "planner_options"),
        ("--seed", "1", "seed (0 vs 1)"),
        ("--max-steps", "5", "max_steps"),
    )
    for flag, value, field in cases:
        other = _compare(cli, tmp_path / flag, "--first-episode", "2", flag, value)
        refused = cli("harness.compare", "--merge", first, other, "--out", str(tmp_path / "m"))
        assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1
        assert "not comparable" in refused.stderr and field in refused.stderr, refused.stderr


def test_paired_tests_report_holm_adjusted_p():
    def recs(successes):
        return {f"0:{i}": {"success": s} for i, s in enumerate(successes)}

    runs = {"a": recs([1, 1, 1, 1, 1, 1]), "b": recs([0, 0, 0, 0, 0, 0]), "c": recs([1, 1, 1, 1, 1, 0])}
    tests = paired_tests(runs, list(runs["a"]))
    raw = [t["p_value"] for t in tests]  # a-b: 6 vs 0 -> 2/64; a-c: 1 vs 0 -> 1; b-c: 0 vs 5 -> 2/32
    assert raw == pytest.approx([0.03125, 1.0, 0.0625])
    assert [t["p_holm"] for t in tests] == pytest.approx([0.09375, 1.0, 0.125])


def test_runs_pairs_two_policies_on_their_common_episodes_and_refuses_unpaired_runs(cli, tmp_path):
    """--runs: finished runs of different policies (the pretrained-vs-scratch case) paired by episode."""
    from harness.engine.results import RunStore
    from tests.conftest import run_dir_of

    def run(policy: str, *extra: str) -> str:
        proc = cli("harness.eval", "--suite", "toy_reach", "--tasks", "0,1", "--policy", policy, "--workers", "0",
                   "--no-progress", "--videos", "0", "--out", str(tmp_path / "runs"), *extra)  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-2000:]
        return str(run_dir_of(proc))

    greedy = run("greedy", "--episodes-per-task", "4")
    noop = run("noop", "--episodes-per-task", "3")
    paired = cli("harness.compare", "--runs", f"greedy={greedy}", f"noop={noop}", "--out", str(tmp_path / "c"))
    assert paired.returncode == 0, paired.stderr
    folder = Path(paired.stdout.strip().splitlines()[-1].removeprefix("compare: "))
    data = json.loads((folder / "compare.json").read_text())
    overall = data["report"]["overall"]
    assert overall["planners"]["greedy"]["success"]["n"] == 6  # the 2 x 3 episodes both runs have
    (test,) = overall["paired"]
    assert test["pairs"] == 6 and test["a"] == "greedy" and test["b"] == "noop"
    outcome = {
        name: {r["key"]: bool(r["success"]) for r in RunStore.open(Path(d)).episodes()}
        for name, d in (("greedy", greedy), ("noop", noop))
    }
    common = sorted(outcome["noop"])
    assert test["a_only"] == sum(outcome["greedy"][k] and not outcome["noop"][k] for k in common)
    assert test["b_only"] == sum(outcome["noop"][k] and not outcome["greedy"][k] for k in common)
    assert test["a_only"] > 0  # the greedy policy reaches, the no-op does not: the pairing sees a difference
    assert data["config"]["arms"]["noop"]["policy"] == "noop"

    other_seed = run("noop", "--episodes-per-task", "3", "--seed", "1")
    refused = cli("harness.compare", "--runs", f"greedy={greedy}", f"noop={other_seed}", "--out", str(tmp_path / "c"))
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1
    assert "not paired" in refused.stderr and "seed (0 vs 1)" in refused.stderr
    bad = cli("harness.compare", "--runs", f"greedy={greedy}", "--out", str(tmp_path / "c"))
    assert bad.returncode == 2 and "at least two" in bad.stderr
