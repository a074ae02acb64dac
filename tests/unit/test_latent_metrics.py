"""IGOR's latent predictiveness metric: ~1 for shuffled latents, well below 1 where latents encode the action."""

from __future__ import annotations

import json

import numpy as np
import pytest

from harness.errors import HarnessError
from world_models.latent_metrics import EXTRACTORS, grouped, knn_action_std, main, pair_actions


def _synthetic(m: int = 1200, seed: int = 0):
    rng = np.random.default_rng(seed)
    actions = rng.normal(size=(m, 7))
    episodes = np.repeat(np.arange(m // 20), 20)
    steps = np.tile(np.arange(20), m // 20)
    return actions, episodes, steps, rng


def test_latents_that_encode_the_action_score_well_below_one_and_shuffled_ones_near_one():
    actions, episodes, steps, rng = _synthetic()
    latents = actions + 0.05 * rng.normal(size=actions.shape)
    good = knn_action_std(latents, actions, episodes, steps, [4, 32])
    shuffled = knn_action_std(latents[rng.permutation(len(latents))], actions, episodes, steps, [4, 32])
    assert all(v < 0.6 for v in grouped(good[4]).values())  # 7-D actions, 1200 pairs: 0.42 measured
    assert all(grouped(good[k])[g] < grouped(shuffled[k])[g] for k in (4, 32) for g in ("movement", "gripper"))
    assert all(0.8 < v < 1.1 for v in grouped(shuffled[32]).values())
    assert set(grouped(good[4])) == {"movement", "rotation", "gripper"}


def test_same_episode_neighbours_within_the_window_are_excluded():
    actions, episodes, steps, _ = _synthetic(400)
    # latents identical within each episode: without the exclusion every neighbour would be a same-episode frame
    latents = episodes[:, None].astype(float) * np.ones((1, 3))
    with_window = knn_action_std(latents, actions, episodes, steps, [2], window=100)
    assert np.isfinite(with_window[2]).all()
    with pytest.raises(HarnessError, match="every N must be"):
        knn_action_std(latents, actions, episodes, steps, [1])


def test_pair_actions_sum_the_arm_and_keep_the_last_gripper_command():
    acts = np.array([[1.0, 0, 0, 0, 0, 0, -1], [2.0, 0, 0, 0, 0, 0, 1], [3.0, 0, 0, 0, 0, 0, 1]])
    out = pair_actions(acts, 2)
    assert out.shape == (1, 7) and out[0, 0] == 3.0 and out[0, -1] == 1.0


def _train_tiny(model: str, demos, tmp_path) -> tuple[str, int]:
    """(checkpoint folder, frame gap) of a tiny ``model`` trained 2 steps through ``harness.train``."""
    from harness.train import main as train_main
    from tests.tiny_data import TINY_IGOR_LAM, TINY_LAQ

    common = ["--data", str(demos), "--steps", "2", "--batch-size", "8", "--no-progress"]
    if model == "lac_wm":  # LAC-WM's IDM reads the tokens of a frozen frame encoder: train one first
        ae = tmp_path / "frame_ae"
        assert train_main(["--component", "world_model", "--name", "frame_ae", "--out", str(ae), "--set",
                           "image_size=32", "--set", "widths=[8,8,8]", *common]) == 0  # fmt: skip
        sets = {"encoder": ae, "segment": 2, "idm_depth": 1, "fdm_depth": 1, "heads": 2}
    else:
        sets = {**{"laq": TINY_LAQ, "igor_lam": TINY_IGOR_LAM}[model], "frame_gap": 2}
    args = [a for k, v in sets.items() for a in ("--set", f"{k}={v}")]
    ckpt = tmp_path / model
    assert train_main(["--component", "world_model", "--name", model, "--out", str(ckpt), *args, *common]) == 0
    return str(ckpt), 2


@pytest.mark.parametrize("model", sorted(EXTRACTORS))
def test_cli_on_a_tiny_latent_action_model(model, tmp_path, capsys):
    from tests.tiny_data import write_tiny_demos

    demos = write_tiny_demos(tmp_path / "demos.hdf5", n=8, T=16, size=32)
    ckpt, gap = _train_tiny(model, demos, tmp_path)
    out = tmp_path / "metric"
    continuous_only = model == "lac_wm"
    for quantized in ([], ["--quantized"]):
        code = main(["knn-std", "--model", model, "--checkpoint", ckpt, "--data", str(demos), "--ks", "2,4",
                     "--out", str(out), *quantized])  # fmt: skip
        if quantized and continuous_only:
            assert code == 2 and "no codebook" in capsys.readouterr().err
            continue
        assert code == 0
        report = json.loads((out / "knn_std.json").read_text())
        assert report["pairs"] == 8 * (16 - gap) and set(report["results"]) == {model, "shuffled latents"}
    assert (out / "knn_std.png").is_file()
    capsys.readouterr()
    assert main(["knn-std", "--model", model, "--checkpoint", str(tmp_path / "nope"), "--data", str(demos)]) == 2
    assert "folder not found" in capsys.readouterr().err
