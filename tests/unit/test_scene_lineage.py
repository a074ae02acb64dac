"""A checkpoint's recorded training scenes include those of every checkpoint it builds on."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import ClassVar

from harness.engine.scenes import UNKNOWN, training_scenes


def _parent(folder, scenes):  # type: ignore[no-untyped-def]
    folder.mkdir()
    data = {} if scenes is None else {"scenes": scenes}
    (folder / "config.json").write_text(json.dumps({"component": "world_model", "name": "x", "data": data}))
    return str(folder)


def test_frozen_vision_encoder_and_declared_parents_pass_on_their_scenes(tmp_path):
    enc_dir = _parent(tmp_path / "enc", ["put_carrot_on_plate#eval3"])
    lam_dir = _parent(tmp_path / "lam", ["t#train1"])
    old_dir = _parent(tmp_path / "old", None)

    @dataclass(frozen=True)
    class Cfg:
        PARENT_CHECKPOINTS: ClassVar[tuple[str, ...]] = ("lam", "foundation")
        vision: str = f"ckpt:{enc_dir}"
        lam: str = lam_dir
        foundation: str = old_dir

    scenes = training_scenes([], Cfg())
    assert "put_carrot_on_plate#eval3" in scenes  # the frozen encoder's frames (an evaluation scene here) count
    assert "t#train1" in scenes
    assert f"{old_dir}#{UNKNOWN}" in scenes  # a parent without a record: possibly overlapping
    assert training_scenes([], Cfg(vision="conv", lam="", foundation="")) == []
