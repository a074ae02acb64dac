"""Vector quantizers shared by the latent-action models.

``NSVQ``: noise-substitution vector quantization (Vali & Bäckström, 2022), as LAPA's latent action quantizer
uses it: in training the output is ``x + (||x - e_k|| / ||v|| + eps) * v`` with ``v ~ N(0, I)`` (no VQ or
commitment loss: the codebook learns through the distance term only); at inference the hard code ``e_k``.
Dead codes are replaced on LAPA's published early schedule, with one fix (see ``replace_dead``): a replaced
code is a *jittered* copy of a used one, so it can split that code's assignments instead of duplicating it.

``VectorQuantizer``: the VQ-VAE quantizer IGOR's latent action model uses (straight-through estimator,
codebook + beta-weighted commitment loss), with dead-code restart from batch vectors.
"""

from __future__ import annotations

import torch
from torch import nn

EPS = 1e-12


def lapa_replacement_due(step: int) -> bool:
    """LAPA's schedule (``laq_model/latent_action_quantization.py``, commit c45efa2): steps 10..90 every 10,
    100..900 every 100, 1000..4500 every 500; never at step 0 or from step 5000 on."""
    if step <= 0:
        return False
    return (step % 10 == 0 and step < 100) or (step % 100 == 0 and step < 1000) or (step % 500 == 0 and step < 5000)


def jittered_rows(x: torch.Tensor, n: int, jitter: float, generator: torch.Generator | None) -> torch.Tensor:
    """n random rows of x [M, D] plus Gaussian noise of ``jitter`` x their RMS: [n, D] (restarted codes that are
    live, on the data, and distinct)."""
    pick = torch.randint(len(x), (n,), generator=generator).to(x.device)
    rows = x.detach()[pick]
    scale = jitter * rows.pow(2).mean().sqrt().clamp(min=EPS)
    return rows + scale * torch.randn(rows.shape, generator=generator).to(rows)


def perplexity(indices: torch.Tensor, codebook_size: int) -> float:
    """exp(entropy) of the code histogram of ``indices`` (any shape): 1 = one code, K = uniform use."""
    counts = torch.bincount(indices.flatten(), minlength=codebook_size).float()
    p = counts / counts.sum().clamp(min=1)
    return float(torch.exp(-(p * torch.log(p.clamp(min=1e-12))).sum()))


class NSVQ(nn.Module):
    """Codebook [K, D]. ``forward(x [M, D]) -> (quantized [M, D], indices [M])``."""

    def __init__(self, codebook_size: int, dim: int, discard_threshold: float = 0.1, jitter: float = 1e-2):
        super().__init__()
        self.codebook = nn.Parameter(torch.randn(codebook_size, dim))
        self.discard_threshold = discard_threshold
        self.jitter = jitter
        # usage since the last replacement: plain tensor, not a buffer (not saved, not averaged by EMA)
        self.usage = torch.zeros(codebook_size)

    @property
    def codebook_size(self) -> int:
        return int(self.codebook.shape[0])

    def nearest(self, x: torch.Tensor) -> torch.Tensor:
        """x [M, D] -> indices [M] of the nearest codes (squared Euclidean distance)."""
        return torch.cdist(x, self.codebook).argmin(dim=1)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        indices = self.nearest(x.detach())
        hard = self.codebook[indices]
        if not self.training:
            return hard, indices
        self.usage = self.usage.to(x.device)
        self.usage += torch.bincount(indices, minlength=self.codebook_size).to(self.usage)
        noise = torch.randn(x.shape, generator=generator, device="cpu").to(x)
        error = (x - hard).norm(dim=1, keepdim=True)
        return x + (error / (noise.norm(dim=1, keepdim=True) + EPS)) * noise, indices

    def quantization_error(self, x: torch.Tensor) -> torch.Tensor:
        """||x - e_k|| per row: [M]."""
        return (x - self.codebook[self.nearest(x)]).norm(dim=1)

    @torch.no_grad()
    def replace_dead(
        self, batch_size: int, generator: torch.Generator | None = None, candidates: torch.Tensor | None = None
    ) -> int:
        """LAPA's rule: a code used fewer than ``discard_threshold * batch_size`` times since the last call is
        overwritten with a randomly chosen used code. LAPA adds 1e-12 noise, below float32 resolution, so the copy
        is exact and can never win an argmin tie (the lower index wins): replacement then only moves dead codes
        onto live ones. Here the copy gets Gaussian jitter of ``jitter`` x the codebook's RMS, so no two codes are
        equal and a crowded code can split. ``candidates`` [M, D] (this batch's latents): a dead code restarts on
        a random one of them instead (plus the same jitter), where the data is, not where the codes already are.
        Counters reset. Returns the number of codes replaced."""
        used = self.usage / max(batch_size, 1) >= self.discard_threshold
        dead = (~used).nonzero().flatten()
        n_dead = int(dead.numel())
        if n_dead and candidates is not None and len(candidates):
            rows = jittered_rows(candidates.to(self.codebook), n_dead, self.jitter, generator)
            self.codebook[dead.to(self.codebook.device)] = rows
        elif n_dead and bool(used.any()):
            live = used.nonzero().flatten()
            pick = live[torch.randint(len(live), (n_dead,), generator=generator)].to(self.codebook.device)
            scale = self.jitter * self.codebook.pow(2).mean().sqrt()
            noise = torch.randn((n_dead, self.codebook.shape[1]), generator=generator).to(self.codebook)
            self.codebook[dead.to(self.codebook.device)] = self.codebook[pick] + scale * noise
        elif n_dead:  # nothing used at all: jitter everything
            noise = torch.randn(self.codebook.shape, generator=generator).to(self.codebook)
            self.codebook.add_(self.jitter * noise)
        self.usage.zero_()
        return n_dead


def _zero_idle_if_missing(module: nn.Module, state: dict, prefix: str, *args: object) -> None:
    """Load-state pre-hook: checkpoints from before ``idle`` was saved get zero counters."""
    if prefix + "codebook" in state and prefix + "idle" not in state:
        state[prefix + "idle"] = torch.zeros(state[prefix + "codebook"].shape[0], dtype=torch.long)


class VectorQuantizer(nn.Module):
    """VQ-VAE quantizer as villa-X's IGOR LAM (taming-transformers' ``VectorQuantizer2``, ``legacy=False``):
    codebook [K, D] initialised U(-1/K, 1/K); ``forward(x [M, D]) -> (z_q [M, D], indices [M], loss)`` with the
    straight-through output z_q = x + sg(e - x) and loss = beta * ||sg(e) - x||^2 (commitment) + ||e - sg(x)||^2
    (codebook), each a mean over elements.

    Dead-code restart (not in villa-X; UniVLA / JAFAR's robustness fix): ``restart_dead(x)`` moves every code no
    training batch selected for ``dead_after`` forward calls onto a random row of ``x`` (this batch's encoder
    outputs) plus Gaussian noise of ``jitter`` x their RMS, so restarted codes are live and distinct."""

    idle: torch.Tensor

    def __init__(self, codebook_size: int, dim: int, beta: float = 0.25, dead_after: int = 100, jitter: float = 1e-2):
        super().__init__()
        self.codebook = nn.Parameter(torch.empty(codebook_size, dim).uniform_(-1 / codebook_size, 1 / codebook_size))
        self.beta, self.dead_after, self.jitter = beta, dead_after, jitter
        # forward calls since each code was last selected: a buffer, so a resumed run restarts the same codes when
        # an uninterrupted one would (checkpoints saved before it was one load with zeros)
        self.register_buffer("idle", torch.zeros(codebook_size, dtype=torch.long))
        self.register_load_state_dict_pre_hook(_zero_idle_if_missing)

    @property
    def codebook_size(self) -> int:
        return int(self.codebook.shape[0])

    def nearest(self, x: torch.Tensor) -> torch.Tensor:
        """x [M, D] -> indices [M] of the nearest codes."""
        return torch.cdist(x, self.codebook).argmin(dim=1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        indices = self.nearest(x.detach())
        e = self.codebook[indices]
        loss = self.beta * (x - e.detach()).pow(2).mean() + (e - x.detach()).pow(2).mean()
        if self.training:
            self.idle += 1
            self.idle[indices] = 0
        return x + (e - x).detach(), indices, loss

    @torch.no_grad()
    def restart_dead(self, x: torch.Tensor, generator: torch.Generator | None = None) -> int:
        """Restart codes idle for ``dead_after`` calls from rows of x [M, D]; returns how many."""
        dead = (self.idle >= self.dead_after).nonzero().flatten()
        n = int(dead.numel())
        if n and len(x):
            self.codebook[dead.to(self.codebook.device)] = jittered_rows(x, n, self.jitter, generator)
            self.idle[dead] = 0
        return n
