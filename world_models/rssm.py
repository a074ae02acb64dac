"""A DreamerV3-style recurrent state-space model (RSSM), sized for this machine: the world model LAWM
(paper 003) pretrains a policy through.

Structure as DreamerV3 / the LAWM code (``dreamerv3/networks.py``; ../shared/docs/reference/latent-actions.md §4.2):
- deterministic state h: h_k = GRU(h_{k-1}, MLP([z_{k-1}, a_{k-1}])), learned initial state h_0 = tanh(W);
- stochastic state z: ``stoch`` categorical variables of ``classes`` classes, 1 % uniform mix (``unimix``),
  one-hot samples with a straight-through gradient; prior logits = MLP(h_k), posterior = MLP([h_k, embed(x_k)]);
- image encoder / decoder: strided convolutions; reconstruction = squared error summed over pixels ([0, 1] range);
- KL: ``dyn`` = KL(sg(post) || prior), ``rep`` = KL(post || sg(prior)), each clipped below at ``free_nats``;
  loss = recon + dyn_scale * dyn + rep_scale * rep, averaged over batch and time.

Frame / action alignment (the paper's, not the released code's; reference §4.5 item 2): frames x_0..x_n and
actions a_0..a_{n-1}; frame 0 starts the sequence (is_first: initial state, zero action), and a_k drives
x_k -> x_{k+1}. ``open_loop`` > 0 adds a flagged deviation (reference §4.2): the prior-only rollout from the
first posterior through a_0..a_{n-1} is decoded too, so the reconstruction depends on the actions directly.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from harness.errors import HarnessError


@dataclass(frozen=True)
class RssmConfig:
    """RSSM sizes (DreamerV3's "1m"-like profile by default) and loss weights (DreamerV3 defaults)."""

    action_dim: int = 7
    image_size: int = 64
    deter: int = 256
    hidden: int = 128
    stoch: int = 8
    classes: int = 8
    depth: int = 16  # channels of the first conv layer (doubling per layer)
    unimix: float = 0.01
    free_nats: float = 1.0
    dyn_scale: float = 0.5
    rep_scale: float = 0.1
    open_loop: float = 0.0  # weight of the decoded prior-only rollout (0: DreamerV3 / LAWM)

    def validate(self) -> None:
        if self.image_size < 16 or self.image_size & (self.image_size - 1):
            raise HarnessError(f"rssm: image_size must be a power of two >= 16, got {self.image_size}")
        if min(self.action_dim, self.deter, self.hidden, self.stoch, self.classes, self.depth) < 1:
            raise HarnessError("rssm: action_dim, deter, hidden, stoch, classes and depth must be >= 1")
        if not 0 <= self.unimix < 1 or self.free_nats < 0 or self.open_loop < 0:
            raise HarnessError("rssm: unimix must be in [0, 1), free_nats and open_loop >= 0")


def _mlp(cin: int, cout: int, hidden: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(cin, hidden), nn.LayerNorm(hidden), nn.SiLU(), nn.Linear(hidden, cout))


def conv_widths(image_size: int, depth: int) -> list[int]:
    """Output channels of the encoder's stride-2 convs from image_size down to 4x4: depth, 2 depth, 4 depth, ...
    (DreamerV3's doubling; 64 px -> [d, 2d, 4d, 8d])."""
    n = max(1, (image_size // 4).bit_length() - 1)
    return [depth * 2**i for i in range(n)]


class ImageEncoder(nn.Module):
    """float [N, 3, S, S] in [0, 1] -> embedding [N, E] (stride-2 convs down to 4x4)."""

    def __init__(self, image_size: int, depth: int):
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        for cout in conv_widths(image_size, depth):
            layers += [nn.Conv2d(cin, cout, 4, 2, 1), nn.GroupNorm(1, cout), nn.SiLU()]
            cin = cout
        self.net = nn.Sequential(*layers, nn.Flatten())
        self.out_dim = cin * 16

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x - 0.5)


class ImageDecoder(nn.Module):
    """features [N, Dfeat] -> mean image [N, 3, S, S] (transposed convs up from 4x4)."""

    def __init__(self, feat_dim: int, image_size: int, depth: int):
        super().__init__()
        widths = conv_widths(image_size, depth)[::-1]  # the encoder's, mirrored
        self.start = widths[0]
        self.proj = nn.Linear(feat_dim, self.start * 16)
        layers: list[nn.Module] = []
        for i, cin in enumerate(widths):
            last = i == len(widths) - 1
            cout = 3 if last else widths[i + 1]
            layers.append(nn.ConvTranspose2d(cin, cout, 4, 2, 1))
            if not last:
                layers += [nn.GroupNorm(1, cout), nn.SiLU()]
        self.net = nn.Sequential(*layers)

    def forward(self, feat: torch.Tensor) -> torch.Tensor:
        return self.net(self.proj(feat).view(-1, self.start, 4, 4)) + 0.5


class RSSM(nn.Module):
    """frames [B, n+1, 3, S, S] in [0, 1] + actions [B, n, A] -> world-model loss (see the module docstring)."""

    def __init__(self, cfg: RssmConfig):
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        z_dim = cfg.stoch * cfg.classes
        self.encoder = ImageEncoder(cfg.image_size, cfg.depth)
        self.decoder = ImageDecoder(cfg.deter + z_dim, cfg.image_size, cfg.depth)
        self.img_in = nn.Sequential(nn.Linear(z_dim + cfg.action_dim, cfg.hidden), nn.LayerNorm(cfg.hidden), nn.SiLU())
        self.gru = nn.GRUCell(cfg.hidden, cfg.deter)
        self.prior_head = _mlp(cfg.deter, z_dim, cfg.hidden)
        self.post_head = _mlp(cfg.deter + self.encoder.out_dim, z_dim, cfg.hidden)
        self.initial = nn.Parameter(torch.zeros(cfg.deter))  # h_0 = tanh(initial), DreamerV3 "learned"

    def _probs(self, logits: torch.Tensor) -> torch.Tensor:
        """logits [..., stoch * classes] -> unimixed probabilities [..., stoch, classes]."""
        probs = logits.view(*logits.shape[:-1], self.cfg.stoch, self.cfg.classes).softmax(-1)
        return (1 - self.cfg.unimix) * probs + self.cfg.unimix / self.cfg.classes

    def _sample(self, probs: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """probs [B, stoch, classes] -> one-hot sample with a straight-through gradient, flattened [B, z_dim]."""
        flat = probs.detach().reshape(-1, self.cfg.classes).cpu()
        index = torch.multinomial(flat, 1, generator=generator).to(probs.device)
        hard = F.one_hot(index.view(probs.shape[:-1]), self.cfg.classes).to(probs.dtype)
        return (hard + probs - probs.detach()).flatten(-2)

    def _kl(self, post: torch.Tensor, prior: torch.Tensor) -> torch.Tensor:
        """KL(post || prior) summed over the categorical variables: [B, stoch, classes] x2 -> [B]."""
        return (post * (post.log() - prior.log())).sum((-1, -2))

    def kl_terms(self, dyn: torch.Tensor, rep: torch.Tensor) -> torch.Tensor:
        """Per-element KL loss: dyn_scale * max(dyn, free) + rep_scale * max(rep, free), each element [B, T] clipped
        on its own (DreamerV3), so an element under free bits gives no gradient."""
        free = self.cfg.free_nats
        return self.cfg.dyn_scale * dyn.clamp(min=free) + self.cfg.rep_scale * rep.clamp(min=free)

    def initial_state(self, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(h_0 [B, deter], z_0 [B, z_dim]): the learned initial deterministic state and its prior's mode."""
        h = torch.tanh(self.initial).expand(batch, -1)
        probs = self._probs(self.prior_head(h))
        z = F.one_hot(probs.argmax(-1), self.cfg.classes).to(h.dtype).flatten(-2)
        return h, z

    def img_step(self, h: torch.Tensor, z: torch.Tensor, action: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One prior step: (h [B, deter], z [B, z_dim], a [B, A]) -> (h' [B, deter], prior [B, stoch, classes])."""
        h = self.gru(self.img_in(torch.cat([z, action], -1)), h)
        return h, self._probs(self.prior_head(h))

    def loss(
        self, frames: torch.Tensor, actions: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """frames float [B, n+1, 3, S, S] in [0, 1], actions [B, n, A] -> (scalar loss, logs)."""
        b, steps = frames.shape[:2]
        if actions.shape[:2] != (b, steps - 1) or actions.shape[-1] != self.cfg.action_dim:
            raise HarnessError(f"rssm: {steps} frames need actions [B, {steps - 1}, {self.cfg.action_dim}], "
                               f"got {tuple(actions.shape)}")  # fmt: skip
        embed = self.encoder(frames.flatten(0, 1)).view(b, steps, -1)
        h, z = self.initial_state(b)
        zero = torch.zeros(b, self.cfg.action_dim, device=frames.device, dtype=frames.dtype)
        feats, dyn, rep = [], [], []
        first_h = first_z = None
        for k in range(steps):
            h, prior = self.img_step(h, z, zero if k == 0 else actions[:, k - 1])  # is_first: zero action at k = 0
            post = self._probs(self.post_head(torch.cat([h, embed[:, k]], -1)))
            z = self._sample(post, generator)
            dyn.append(self._kl(post.detach(), prior))
            rep.append(self._kl(post, prior.detach()))
            feats.append(torch.cat([h, z], -1))
            if k == 0:
                first_h, first_z = h, z
        recon = self.decoder(torch.stack(feats, 1).flatten(0, 1)).view_as(frames)
        recon_loss = ((recon - frames) ** 2).sum((-1, -2, -3)).mean()
        dyn_t, rep_t = torch.stack(dyn, 1), torch.stack(rep, 1)  # [B, n+1]
        kl_loss = self.kl_terms(dyn_t, rep_t).mean()
        loss = recon_loss + kl_loss
        # dyn and rep are the same KL value (they differ only in where the gradient stops): logged once
        logs = {"recon": float(recon_loss.detach()), "kl": float(dyn_t.detach().mean())}
        if self.cfg.open_loop > 0 and steps > 1:
            assert first_h is not None and first_z is not None
            open_loss = ((self.imagine(first_h, first_z, actions, generator) - frames[:, 1:]) ** 2).sum((-1, -2, -3))
            loss = loss + self.cfg.open_loop * open_loss.mean()
            logs["open_loop_recon"] = float(open_loss.detach().mean())
        return loss, logs

    def imagine(
        self, h: torch.Tensor, z: torch.Tensor, actions: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Prior-only rollout from (h [B, deter], z [B, z_dim]) through actions [B, n, A] -> frames [B, n, 3, S, S]."""
        feats = []
        for k in range(actions.shape[1]):
            h, prior = self.img_step(h, z, actions[:, k])
            z = self._sample(prior, generator)
            feats.append(torch.cat([h, z], -1))
        size = self.cfg.image_size
        return self.decoder(torch.stack(feats, 1).flatten(0, 1)).view(h.shape[0], -1, 3, size, size)
