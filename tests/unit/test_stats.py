import math

import pytest

from harness.analysis.stats import (
    holm_adjust,
    newcombe_difference_interval,
    non_inferiority,
    non_inferiority_task_mean,
    task_mean_difference_interval,
    wilson_interval,
)


@pytest.mark.parametrize(
    "s,n,expected",
    [  # reference values: Newcombe (1998), Statistics in Medicine 17:857, Table I (Wilson score, no CC)
        (81, 263, (0.2553, 0.3662)),
        (15, 148, (0.0624, 0.1605)),
        (0, 20, (0.0, 0.1611)),
        (1, 29, (0.0061, 0.1718)),
    ],
)
def test_wilson_matches_published_values(s, n, expected):
    lo, hi = wilson_interval(s, n)
    assert lo == pytest.approx(expected[0], abs=5e-4)
    assert hi == pytest.approx(expected[1], abs=5e-4)


def test_wilson_edge_cases():
    assert wilson_interval(0, 0) == (0.0, 1.0)
    lo, hi = wilson_interval(10, 10)
    assert hi == pytest.approx(1.0) and 0.6 < lo < 0.75
    with pytest.raises(ValueError):
        wilson_interval(3, 2)


def test_newcombe_difference_matches_published_example():
    # Newcombe (1998) Stat Med 17:873, Table II example (a): 56/70 vs 48/80 -> method 10: 0.0524, 0.3339
    lo, hi = newcombe_difference_interval(56, 70, 48, 80)
    assert lo == pytest.approx(0.0524, abs=5e-4)
    assert hi == pytest.approx(0.3339, abs=5e-4)


def test_non_inferiority_verdicts():
    assert non_inferiority(190, 200, 185, 200).verdict == "non-inferior"
    assert non_inferiority(45, 50, 45, 50).verdict == "inconclusive"  # +-12 points: cannot exclude -5
    assert non_inferiority(10, 50, 45, 50).verdict == "regression"
    assert non_inferiority(4, 5, 5, 5).verdict == "inconclusive"  # too few episodes to say
    result = non_inferiority(10, 50, 45, 50)
    assert result.diff == pytest.approx(-0.7)
    assert result.lower < result.diff < result.upper < -result.margin
    assert math.isnan(non_inferiority(0, 0, 5, 10).diff)


def test_task_mean_interval_with_one_task_is_newcombe():
    diff, lo, hi = task_mean_difference_interval([(56, 70)], [(48, 80)])
    assert diff == pytest.approx(0.2)
    assert (lo, hi) == pytest.approx((0.0524, 0.3339), abs=5e-4)  # Newcombe (1998) example (a), method 10


def test_task_mean_interval_matches_hand_computation():
    """Run 81/263 and 0/20, baseline 15/148 and 1/29, weights 1/2. Wilson limits from Newcombe (1998) Table I:
    81/263 (0.2553, 0.3662), 15/148 (0.0624, 0.1605), 0/20 (0, 0.1611), 1/29 (0.0061, 0.1718).
    D = (81/263 - 15/148 + 0 - 1/29) / 2 = 0.08608
    lower = D - sqrt(((0.30798-0.2553)^2 + (0.1605-0.10135)^2 + 0^2 + (0.1718-0.03448)^2) / 4) = 0.00681
    upper = D + sqrt(((0.3662-0.30798)^2 + (0.10135-0.0624)^2 + 0.1611^2 + (0.03448-0.0061)^2) / 4) = 0.17505
    """
    diff, lo, hi = task_mean_difference_interval([(81, 263), (0, 20)], [(15, 148), (1, 29)])
    assert diff == pytest.approx(0.08608, abs=1e-4)
    assert lo == pytest.approx(0.00681, abs=5e-4)
    assert hi == pytest.approx(0.17505, abs=5e-4)


def test_task_mean_ignores_how_many_episodes_each_task_had():
    """Same per-task rates, very different n per task: the task mean is the same estimate (Simpson-proof)."""
    a = non_inferiority_task_mean([(9, 10), (10, 100)], [(90, 100), (1, 10)])
    assert a.diff == pytest.approx(0.0)
    assert a.lower < 0 < a.upper
    assert math.isnan(non_inferiority_task_mean([(0, 0)], [(1, 2)]).diff)
    with pytest.raises(ValueError):
        task_mean_difference_interval([(1, 2)], [])


def test_holm_matches_hand_computed_values():
    # sorted 0.01, 0.03, 0.04 -> 3*0.01, max(0.03, 2*0.03), max(0.06, 1*0.04); returned in the given order
    assert holm_adjust([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm_adjust([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    assert holm_adjust([]) == []


def test_newcombe_paired_interval():
    from harness.analysis.stats import mcnemar_exact, newcombe_difference_interval, newcombe_paired_interval

    lo, hi = newcombe_paired_interval(4, 3, 1, 12)
    assert -1 <= lo < (3 - 1) / 20 < hi <= 1
    assert newcombe_paired_interval(4, 1, 3, 12) == pytest.approx((-hi, -lo))  # swapping the arms negates it
    # no correlation left after the continuity correction (ad - bc = n / 2): the unpaired square-and-add interval
    assert newcombe_paired_interval(3, 2, 2, 3) == pytest.approx(newcombe_difference_interval(5, 10, 5, 10))
    # concordant pairs (positive correlation) narrow it against treating the arms as independent samples
    paired = newcombe_paired_interval(10, 3, 0, 10)
    unpaired = newcombe_difference_interval(13, 23, 10, 23)
    assert paired[1] - paired[0] < unpaired[1] - unpaired[0]
    # ten discordant pairs all one way: McNemar rejects and the interval excludes 0
    assert mcnemar_exact(10, 0) < 0.05 and newcombe_paired_interval(0, 10, 0, 10)[0] > 0
    assert newcombe_paired_interval(0, 0, 0, 0) == (-1.0, 1.0)
