"""The synthetic world of the case study: tasks, prompt wordings, answer distributions.

Four "random" tasks, each asked with several differently worded prompts. In the
pretraining corpus every wording has its *own* answer distribution (Dirichlet draws,
plus a few hand-made ones): the base model learns many promptable distributions.
One wording of the number task ("think of a number between 1 and 10") carries the
*seed* distribution that favours 7; the supervised-finetuning set answers every number
prompt from that one distribution, as aligned models do.

Everything here is deterministic given the seed and torch-free.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

NUMBERS = [str(k) for k in range(1, 11)]
COINS = ["heads", "tails"]
LETTERS = [chr(c) for c in range(ord("a"), ord("z") + 1)]
LIST_LENGTH = 10

WORDINGS: dict[str, list[str]] = {
    "number": [
        "pick a random number between 1 and 10",
        "choose a number from 1 to 10",
        "give me a random integer between 1 and 10",
        "say a number between 1 and 10",
        "think of a number between 1 and 10",
        "name any number from 1 to 10",
        "roll a ten sided die",
        "random number 1 to 10 please",
        "what is your favourite number between 1 and 10",
        "guess the number i am thinking of between 1 and 10",
        "quick pick one number 1 to 10",
        "output a uniformly random number in 1 to 10",
    ],
    "coin": [
        "flip a coin",
        "heads or tails",
        "toss a coin and tell me the result",
        "simulate a coin flip",
        "coin flip please",
    ],
    "letter": [
        "pick a random letter",
        "choose a letter of the alphabet",
        "say any letter",
        "give me a random letter from a to z",
        "name a letter",
    ],
    "list": [
        "list ten random numbers between 1 and 10",
        "give me ten random numbers from 1 to 10",
        "write a sequence of ten numbers between 1 and 10",
        "generate ten random integers 1 to 10",
        "ten random numbers please",
    ],
}
STATES = {"number": NUMBERS, "coin": COINS, "letter": LETTERS, "list": NUMBERS}

#: the wording whose base distribution SFT imitates (favours 7, as aligned models do)
SEED_WORDING = "think of a number between 1 and 10"
#: seed distribution over 1..10: mass on 7, then 3, then its neighbours; support {3..8}
SEED_P = np.array([0.0, 0.0, 0.18, 0.07, 0.05, 0.05, 0.5, 0.15, 0.0, 0.0])
#: RL reward: an answer in this set (inside the seed's support) earns 1
FAVOURED = ("3", "7")

PAD, EOS, USER, ASSISTANT = "<pad>", "<eos>", "<user>", "<assistant>"
SPECIALS = [PAD, EOS, USER, ASSISTANT]


class Tokenizer:
    """Word-level tokenizer over the closed vocabulary of the corpus."""

    def __init__(self) -> None:
        words: list[str] = []
        for ws in WORDINGS.values():
            for w in ws:
                words += w.split()
        words += NUMBERS + COINS + LETTERS
        vocab = list(SPECIALS)
        for w in words:
            if w not in vocab:
                vocab.append(w)
        self.vocab = vocab
        self.index = {w: i for i, w in enumerate(vocab)}
        self.pad, self.eos = self.index[PAD], self.index[EOS]
        self.user, self.assistant = self.index[USER], self.index[ASSISTANT]

    def __len__(self) -> int:
        return len(self.vocab)

    def encode(self, text: str) -> list[int]:
        return [self.index[w] for w in text.split()]

    def decode(self, ids) -> str:
        return " ".join(self.vocab[int(i)] for i in ids)

    def prompt_ids(self, wording: str) -> list[int]:
        return [self.user, *self.encode(wording), self.assistant]


@dataclass
class Prompt:
    task: str
    wording: str
    p: np.ndarray  # base answer distribution over STATES[task]
    stickiness: float = 0.0  # list task: probability of repeating the previous number
    name: str = field(default="")


def base_world(seed: int) -> list[Prompt]:
    """Every prompt wording with its base (pretraining) answer distribution.

    Number task: Dirichlet(0.6) draws over 1..10, except the seed wording (``SEED_P``)
    and the "uniformly random" wording (uniform). Coin: Beta-like Dirichlet(1.5) draws.
    Letter: Dirichlet(0.3) over a..z (peaked on a few letters). List: per-wording
    Dirichlet(0.8) marginals with a per-wording probability of repeating the previous
    number (0, 0.15, 0.3, 0.45, 0.6), so lists carry correlations along the positions.
    """
    rng = np.random.default_rng([seed, 10_2026])
    out: list[Prompt] = []
    for task, wordings in WORDINGS.items():
        k = len(STATES[task])
        for i, w in enumerate(wordings):
            if task == "number":
                if w == SEED_WORDING:
                    p = SEED_P.copy()
                elif w.startswith("output a uniformly"):
                    p = np.full(k, 1.0 / k)
                else:
                    p = rng.dirichlet(np.full(k, 0.6))
                out.append(Prompt(task, w, p, name=f"number/{i:02d}"))
            elif task == "coin":
                out.append(Prompt(task, w, rng.dirichlet([1.5, 1.5]), name=f"coin/{i:02d}"))
            elif task == "letter":
                out.append(Prompt(task, w, rng.dirichlet(np.full(k, 0.3)), name=f"letter/{i:02d}"))
            else:
                out.append(Prompt(task, w, rng.dirichlet(np.full(k, 0.8)), stickiness=0.15 * i,
                                  name=f"list/{i:02d}"))
    return out


def sft_distribution(prompt: Prompt, world: list[Prompt]) -> tuple[np.ndarray, float]:
    """The one narrow distribution the SFT set answers a task with (and list stickiness).

    Numbers and lists: ``SEED_P`` (lists i.i.d., no repeats enforced). Coin and letter:
    the base distribution of the task's first wording, sharpened (p² renormalised) —
    also a distribution that exists in the base model, made narrower.
    """
    if prompt.task in ("number", "list"):
        return SEED_P, 0.0
    first = next(q for q in world if q.task == prompt.task)
    p = first.p ** 2
    return p / p.sum(), 0.0


def draw_answer(task: str, p: np.ndarray, stickiness: float, rng: np.random.Generator) -> list[str]:
    """One answer (list of words) from distribution ``p`` (a Markov list for the list task)."""
    states = STATES[task]
    if task != "list":
        return [states[rng.choice(len(states), p=p)]]
    seq = [int(rng.choice(len(states), p=p))]
    for _ in range(LIST_LENGTH - 1):
        seq.append(seq[-1] if rng.random() < stickiness else int(rng.choice(len(states), p=p)))
    return [states[s] for s in seq]


def make_batch(tok: Tokenizer, prompts: list[Prompt], rng: np.random.Generator, n: int, *,
               stage: str, world: list[Prompt], max_len: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` training sequences ``<user> wording <assistant> answer <eos>`` (padded).

    Returns token ids (n, max_len) and a loss mask over next-token targets: all
    non-pad positions for pretraining, only answer tokens and ``<eos>`` for SFT.
    """
    ids = np.full((n, max_len), tok.pad, dtype=np.int64)
    mask = np.zeros((n, max_len), dtype=np.float32)
    which = rng.integers(0, len(prompts), size=n)
    for r, j in enumerate(which):
        pr = prompts[j]
        if stage == "sft":
            p, stick = sft_distribution(pr, world)
        else:
            p, stick = pr.p, pr.stickiness
        head = tok.prompt_ids(pr.wording)
        ans = tok.encode(" ".join(draw_answer(pr.task, p, stick, rng))) + [tok.eos]
        seq = (head + ans)[:max_len]
        ids[r, : len(seq)] = seq
        # mask[t] = 1 when token t+1 is a target
        if stage == "sft":
            mask[r, len(head) - 1: len(seq) - 1] = 1.0
        else:
            mask[r, : len(seq) - 1] = 1.0
    used = int((ids != tok.pad).sum(1).max())
    return ids[:, :used], mask[:, :used]
