"""A small pre-LayerNorm causal transformer (GPT-style; Radford et al. 2019) in torch."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class Block(nn.Module):
    def __init__(self, d: int, heads: int, ctx: int) -> None:
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.ff = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))
        self.heads = heads
        self.register_buffer("causal", torch.tril(torch.ones(ctx, ctx, dtype=torch.bool)), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(d, dim=-1)
        h = self.heads
        q, k, v = (z.view(b, t, h, d // h).transpose(1, 2) for z in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(d // h)
        att = att.masked_fill(~self.causal[:t, :t], float("-inf")).softmax(-1)
        y = (att @ v).transpose(1, 2).reshape(b, t, d)
        x = x + self.proj(y)
        return x + self.ff(self.ln2(x))


class TinyLM(nn.Module):
    """Token + position embeddings, ``layers`` blocks, tied output head."""

    def __init__(self, vocab: int, *, d: int = 96, heads: int = 4, layers: int = 3, ctx: int = 32) -> None:
        super().__init__()
        self.ctx = ctx
        self.tok = nn.Embedding(vocab, d)
        self.pos = nn.Embedding(ctx, d)
        self.blocks = nn.ModuleList(Block(d, heads, ctx) for _ in range(layers))
        self.ln = nn.LayerNorm(d)
        self.apply(self._init)

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, nn.Linear | nn.Embedding):
            nn.init.normal_(m.weight, std=0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        t = ids.shape[1]
        x = self.tok(ids) + self.pos(torch.arange(t, device=ids.device))
        for blk in self.blocks:
            x = blk(x)
        return self.ln(x) @ self.tok.weight.T

    def n_params(self) -> int:
        return sum(p.numel() for p in self.parameters())


def lm_loss(model: TinyLM, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean next-token cross-entropy over the masked target positions."""
    logits = model(ids[:, :-1])
    nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1), reduction="none")
    m = mask[:, :-1].reshape(-1)
    return (nll * m).sum() / m.sum()


def sample(model: TinyLM, prompt_ids: torch.Tensor, max_new: int, eos: int, generator: torch.Generator,
           temperature: float = 1.0, with_logprob: bool = False):
    """Ancestral sampling at ``temperature`` from a batch of equal-length prompts.

    Returns the generated ids (b, max_new) with positions after ``<eos>`` set to -1
    (the ``<eos>`` itself kept), and, when ``with_logprob``, the summed log-probability
    of each sequence's generated tokens (differentiable, for REINFORCE).
    """
    ids = prompt_ids
    b = ids.shape[0]
    done = torch.zeros(b, dtype=torch.bool)
    out = torch.full((b, max_new), -1, dtype=torch.long)
    logp = torch.zeros(b)
    for t in range(max_new):
        logits = model(ids[:, -model.ctx:])[:, -1, :] / temperature
        lp = torch.log_softmax(logits, dim=-1)
        nxt = torch.multinomial(lp.detach().exp(), 1, generator=generator).squeeze(1)
        if with_logprob:
            logp = logp + torch.where(done, torch.zeros(b), lp.gather(1, nxt[:, None]).squeeze(1))
        out[:, t] = torch.where(done, torch.full_like(nxt, -1), nxt)
        done = done | (nxt == eos)
        ids = torch.cat([ids, nxt[:, None]], dim=1)
        if bool(done.all()):
            break
    return (out, logp) if with_logprob else out
