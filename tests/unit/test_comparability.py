import hashlib
from types import SimpleNamespace

from harness.analysis.comparability import (
    checkpoint_hash,
    identity_from_manifest,
    identity_mismatches,
    run_identity,
    sample_differences,
)

SUITE = SimpleNamespace(name="toy_reach", headline="success_once")
TASKS = [
    SimpleNamespace(task_id=0, name="reach_0", max_steps=40),
    SimpleNamespace(task_id=2, name="reach_2", max_steps=60),
]
CONFIG = {
    "suite": "toy_reach",
    "policy": "greedy",
    "checkpoint": None,
    "planner": "direct",
    "n_samples": 64,
    "top_k": 5,
    "subgoal_every": 8,
    "world_model": None,
    "wm_checkpoint": None,
    "goal": "none",
    "seed": 0,
    "max_steps": None,
    "episodes_per_task": 50,
    "first_episode": 0,
    "out_of_range": "clip",
}


def test_identity_resolves_max_steps_and_ignores_unknown_keys():
    ident = run_identity(CONFIG, SUITE, TASKS)
    assert ident["tasks"] == {"0": {"name": "reach_0", "max_steps": 40}, "2": {"name": "reach_2", "max_steps": 60}}
    assert ident["checkpoint"] is None and ident["headline"] == "success_once"
    assert ident["planner_options"] == {"n_samples": 64, "top_k": 5, "subgoal_every": 8}
    assert run_identity({**CONFIG, "max_steps": 10}, SUITE, TASKS)["tasks"]["2"]["max_steps"] == 10
    newer = run_identity({**CONFIG, "episode_timeout": 300, "workers": 4, "videos": 2}, SUITE, TASKS)
    assert newer == ident and identity_mismatches(ident, newer) == []
    on_ray = {**CONFIG, "backend": "ray", "ray_address": "head:6379", "ray_gpus_per_worker": 0.5}
    assert run_identity(on_ray, SUITE, TASKS) == ident  # a Ray run is the same experiment as a local one


def test_checkpoint_hash_of_folder_and_file(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for folder, weights in ((a, b"w1"), (b, b"w1")):
        folder.mkdir()
        (folder / "model.safetensors").write_bytes(weights)
        (folder / "config.json").write_text("{}")
        (folder / "loss.png").write_bytes(folder.name.encode())  # not part of the identity
    assert checkpoint_hash(str(a)) == checkpoint_hash(str(b)) is not None
    (b / "model.safetensors").write_bytes(b"w2")
    assert checkpoint_hash(str(a)) != checkpoint_hash(str(b))
    single = tmp_path / "policy.pt"
    single.write_bytes(b"abc")
    expected = hashlib.sha256(b"policy.pt\0abc").hexdigest()
    assert checkpoint_hash(str(single)) == expected
    assert checkpoint_hash(None) is None and checkpoint_hash(str(tmp_path / "missing")) is None


def test_unreadable_checkpoint_folder_hashes_to_none(tmp_path, monkeypatch):
    (tmp_path / "model.safetensors").write_bytes(b"w")

    def refuse(*args, **kwargs):
        raise PermissionError("denied")

    monkeypatch.setattr("pathlib.Path.open", refuse)
    assert checkpoint_hash(str(tmp_path)) is None


def test_same_checkpoint_content_elsewhere_matches_other_content_does_not(tmp_path):
    for name, weights in (("a", b"w"), ("b", b"w"), ("c", b"x")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "model.safetensors").write_bytes(weights)
    ident = {k: run_identity({**CONFIG, "policy": "diffusion", "checkpoint": str(tmp_path / k)}, SUITE, TASKS)
             for k in "abc"}  # fmt: skip
    assert identity_mismatches(ident["a"], ident["b"]) == []
    assert [m.split(" ")[0] for m in identity_mismatches(ident["a"], ident["c"])] == ["checkpoint"]


def test_mismatches_name_fields_and_samples_are_separate():
    base = run_identity(CONFIG, SUITE, TASKS)
    other = run_identity({**CONFIG, "goal": "subgoals", "top_k": 3, "seed": 4, "first_episode": 50}, SUITE, TASKS)
    assert [m.split(" ")[0] for m in identity_mismatches(base, other)] == ["planner_options", "goal"]
    assert sample_differences(base, other) == ["seed (0 vs 4)", "first_episode (0 vs 50)"]
    headline = run_identity(CONFIG, SimpleNamespace(name="toy_reach", headline="success_at_end"), TASKS)
    assert identity_mismatches(base, headline)[0].startswith("headline")


def test_identity_from_manifest_equals_the_run_identity():
    manifest = {
        "config": {**CONFIG, "max_steps": 10},
        "suite": {
            "name": "toy_reach",
            "headline": "success_once",
            "tasks": [{"task_id": t.task_id, "name": t.name, "instruction": "x", "max_steps": 10} for t in TASKS],
        },
    }
    assert identity_from_manifest(manifest) == run_identity({**CONFIG, "max_steps": 10}, SUITE, TASKS)
