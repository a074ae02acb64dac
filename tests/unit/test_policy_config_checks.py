"""Policy config checks that must fail at validation time, not after training."""

from __future__ import annotations

import pytest

from harness.errors import HarnessError
from policies.diffusion.config import DiffusionConfig


def test_diffusion_rejects_meanstd_because_samples_are_clipped():
    DiffusionConfig(action_norm="minmax").validate()
    with pytest.raises(HarnessError, match="action_norm=minmax") as info:
        DiffusionConfig(action_norm="meanstd").validate()
    assert "\n" not in str(info.value)
