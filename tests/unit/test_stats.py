import math

import pytest

from harness.stats import newcombe_difference_interval, non_inferiority, wilson_interval


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
