"""One normaliser (constant dims sit at 0 with unit scale, exact inverse) and one split rule by demo, shared by
the policy dataset, the frame autoencoder and the world-model segments (statistics from training demos only)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from harness.data.normalize import NormStats, compute_stats, meanstd_normalizer, minmax_normalizer


def _actions_with_constant_dim(seed: int = 0) -> np.ndarray:
    """[50, 3]: dims 0 and 2 vary, dim 1 is exactly 0 (like LIBERO's rotation dims)."""
    a = np.random.default_rng(seed).normal(size=(50, 3))
    a[:, 1] = 0.0
    return a


@pytest.mark.parametrize("mode", ["minmax", "meanstd"])
def test_constant_dim_sits_at_zero_with_unit_scale(mode):
    a = _actions_with_constant_dim()
    stats = compute_stats([a], [a])
    assert np.array_equal(stats.normalize_action(a, mode)[:, 1], np.zeros(50))
    tiny = np.array([[0.0, 4.3e-7, 0.0]])  # policy noise on a dim that was exactly 0 in training
    assert abs(stats.normalize_action(tiny, mode)[0, 1] - 4.3e-7) < 1e-12, "constant dim amplified"
    assert np.allclose(stats.normalize_proprio(tiny)[0, 1], 4.3e-7)


def test_minmax_maps_range_to_unit_interval_and_meanstd_standardises():
    a = _actions_with_constant_dim()
    stats = compute_stats([a], [a])
    mm = stats.normalize_action(a, "minmax")
    assert np.allclose(mm[:, [0, 2]].min(0), -1) and np.allclose(mm[:, [0, 2]].max(0), 1)
    ms = stats.normalize_action(a, "meanstd")
    assert np.allclose(ms[:, [0, 2]].mean(0), 0, atol=1e-12) and np.allclose(ms[:, [0, 2]].std(0), 1)


@pytest.mark.parametrize("mode", ["minmax", "meanstd"])
def test_unnormalize_inverts_normalize(mode):
    a = _actions_with_constant_dim()
    stats = compute_stats([a], [a])
    y = np.random.default_rng(1).uniform(-1.5, 1.5, size=(20, 3))
    assert np.allclose(stats.normalize_action(stats.unnormalize_action(y, mode), mode), y, rtol=0, atol=1e-12)
    assert np.allclose(stats.unnormalize_action(stats.normalize_action(a, mode), mode), a, rtol=0, atol=1e-12)


def test_normalizers_use_the_same_eps_rule():
    lo, hi = np.array([0.0, 1.0]), np.array([0.0, 3.0])
    mm = minmax_normalizer(lo, hi)
    assert mm.scale.tolist() == [1.0, 1.0] and mm.center.tolist() == [0.0, 2.0]
    ms = meanstd_normalizer([5.0, 1.0], [0.0, 2.0])
    assert ms.scale.tolist() == [1.0, 2.0] and ms.normalize(np.array([5.0, 3.0])).tolist() == [0.0, 1.0]


def test_stats_json_round_trip_and_old_files_with_std_plus_eps(tmp_path):
    a = _actions_with_constant_dim()
    stats = compute_stats([a], [a])
    path = tmp_path / "stats.json"
    path.write_text(json.dumps(stats.to_json()))
    loaded = NormStats.from_json(json.loads(path.read_text()))
    assert np.array_equal(loaded.normalize_action(a), stats.normalize_action(a))
    old = NormStats.from_json({**stats.to_json(), "action_std": (stats.action_std + 1e-6).tolist()})
    assert np.array_equal(old.normalize_action(a)[:, 1], np.zeros(50))  # 0 + 1e-6 is still "constant"
    assert abs(old.unnormalize_action(np.array([[0.0, 0.5, 0.0]]))[0, 1] - 0.5) < 1e-12
