"""Statistics and comparability of runs: intervals, paired tests, run identities, report tables."""
