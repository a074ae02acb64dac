"""Binomial statistics: Wilson intervals, Newcombe difference intervals, non-inferiority tests, Holm."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from scipy.stats import norm


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion; (0, 1) when n == 0."""
    if n < 0 or successes < 0 or successes > n:
        raise ValueError(f"invalid binomial counts: {successes}/{n}")
    if n == 0:
        return 0.0, 1.0
    z = float(norm.ppf(0.5 + confidence / 2))
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    lower = 0.0 if successes == 0 else max(0.0, centre - half)  # exact ends, free of rounding residue
    upper = 1.0 if successes == n else min(1.0, centre + half)
    return lower, upper


def newcombe_difference_interval(
    s_a: int, n_a: int, s_b: int, n_b: int, confidence: float = 0.95
) -> tuple[float, float]:
    """Newcombe's hybrid score interval (method 10) for p_a - p_b from two independent samples."""
    p_a, p_b = s_a / n_a, s_b / n_b
    l_a, u_a = wilson_interval(s_a, n_a, confidence)
    l_b, u_b = wilson_interval(s_b, n_b, confidence)
    d = p_a - p_b
    lower = d - math.sqrt((p_a - l_a) ** 2 + (u_b - p_b) ** 2)
    upper = d + math.sqrt((u_a - p_a) ** 2 + (p_b - l_b) ** 2)
    return max(-1.0, lower), min(1.0, upper)


def newcombe_paired_interval(
    both: int, a_only: int, b_only: int, neither: int, confidence: float = 0.95
) -> tuple[float, float]:
    """Newcombe's square-and-add interval (1998b, method 10, with its continuity-corrected phi) for
    p_a - p_b from paired binary outcomes: ``both`` / ``neither`` = episodes where both / neither arm succeeded,
    ``a_only`` / ``b_only`` the discordant pairs. (-1, 1) when there are no pairs."""
    n = both + a_only + b_only + neither
    if min(both, a_only, b_only, neither) < 0:
        raise ValueError("paired counts must be >= 0")
    if n == 0:
        return -1.0, 1.0
    p_a, p_b = (both + a_only) / n, (both + b_only) / n
    l_a, u_a = wilson_interval(both + a_only, n, confidence)
    l_b, u_b = wilson_interval(both + b_only, n, confidence)
    margins = (both + a_only) * (b_only + neither) * (both + b_only) * (a_only + neither)
    phi = 0.0
    if margins > 0:
        cross = both * neither - a_only * b_only
        corrected = cross - n / 2 if cross > n / 2 else (cross if cross < 0 else 0.0)
        phi = corrected / math.sqrt(margins)
    d = p_a - p_b
    lower = d - math.sqrt(max(0.0, (p_a - l_a) ** 2 - 2 * phi * (p_a - l_a) * (u_b - p_b) + (u_b - p_b) ** 2))
    upper = d + math.sqrt(max(0.0, (p_b - l_b) ** 2 - 2 * phi * (p_b - l_b) * (u_a - p_a) + (u_a - p_a) ** 2))
    return max(-1.0, lower), min(1.0, upper)


@dataclass(frozen=True)
class NonInferiority:
    """Outcome of comparing a run against a baseline for one task (or overall).

    verdict: "non-inferior" (lower bound of p_run - p_base above -margin), "regression"
    (upper bound below -margin: significantly worse by more than the margin) or "inconclusive".
    """

    diff: float
    lower: float
    upper: float
    margin: float
    verdict: str


def _verdict(diff: float, lower: float, upper: float, margin: float) -> NonInferiority:
    if upper < -margin:
        verdict = "regression"
    elif lower > -margin:
        verdict = "non-inferior"
    else:
        verdict = "inconclusive"
    return NonInferiority(diff, lower, upper, margin, verdict)


def non_inferiority(
    s_run: int, n_run: int, s_base: int, n_base: int, margin: float = 0.05, alpha: float = 0.05
) -> NonInferiority:
    """One-sided tests at level ``alpha`` on d = p_run - p_base with Newcombe's interval.

    Non-inferiority is shown when the (1 - 2*alpha) two-sided lower bound exceeds -margin;
    a regression is declared when the upper bound falls below -margin.
    """
    if n_run == 0 or n_base == 0:
        return NonInferiority(float("nan"), -1.0, 1.0, margin, "inconclusive")
    lower, upper = newcombe_difference_interval(s_run, n_run, s_base, n_base, 1 - 2 * alpha)
    return _verdict(s_run / n_run - s_base / n_base, lower, upper, margin)


def task_mean_difference_interval(
    run: Sequence[tuple[int, int]], base: Sequence[tuple[int, int]], confidence: float = 0.95
) -> tuple[float, float, float]:
    """(D, lower, upper) for D = mean_k p_run,k - mean_k p_base,k: every task weighs 1/K, whatever its n.

    MOVER with Wilson limits for a linear combination of independent proportions (Zou & Donner 2008;
    Zou, Huang & Zhang 2009, Comput. Stat. Data Anal. 53:1080): with weights c_i = +-1/K,
    lower = D - sqrt(sum c_i^2 (p_i - l_i)^2) over the run's terms and (u_i - p_i)^2 over the baseline's,
    upper symmetrically. One task gives exactly Newcombe's method 10. ``run`` / ``base``: (successes, n)
    per task, in the same task order.
    """
    if len(run) != len(base) or not run:
        raise ValueError("need the same non-empty list of tasks for run and baseline")
    w2 = 1.0 / len(run) ** 2
    diff, low_sq, up_sq = 0.0, 0.0, 0.0
    for (s_r, n_r), (s_b, n_b) in zip(run, base, strict=True):
        p_r, p_b = s_r / n_r, s_b / n_b
        l_r, u_r = wilson_interval(s_r, n_r, confidence)
        l_b, u_b = wilson_interval(s_b, n_b, confidence)
        diff += (p_r - p_b) / len(run)
        low_sq += w2 * ((p_r - l_r) ** 2 + (u_b - p_b) ** 2)
        up_sq += w2 * ((u_r - p_r) ** 2 + (p_b - l_b) ** 2)
    return diff, max(-1.0, diff - math.sqrt(low_sq)), min(1.0, diff + math.sqrt(up_sq))


def non_inferiority_task_mean(
    run: Sequence[tuple[int, int]], base: Sequence[tuple[int, int]], margin: float = 0.05, alpha: float = 0.05
) -> NonInferiority:
    """``non_inferiority`` on the task-averaged success rate (``task_mean_difference_interval``)."""
    if any(n == 0 for _, n in [*run, *base]):
        return NonInferiority(float("nan"), -1.0, 1.0, margin, "inconclusive")
    diff, lower, upper = task_mean_difference_interval(run, base, 1 - 2 * alpha)
    return _verdict(diff, lower, upper, margin)


def holm_adjust(p_values: Sequence[float]) -> list[float]:
    """Holm step-down adjusted p-values (same order as given): family-wise error <= alpha when
    every adjusted p <= alpha is called significant."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar test on paired binary outcomes.

    ``b``: pairs where A succeeded and B failed; ``c``: A failed and B succeeded. Under H0 (equal success
    probability) the b discordant pairs out of b + c are Binomial(b + c, 1/2). Returns the p-value
    (1.0 when there are no discordant pairs).
    """
    n = b + c
    if n == 0:
        return 1.0
    from scipy.stats import binomtest

    return float(binomtest(min(b, c), n, 0.5, alternative="two-sided").pvalue)
