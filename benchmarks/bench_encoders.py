"""Encoding 1 million short chat answers: phasekit's integer rule vs the obvious alternatives.

Run: ``python benchmarks/bench_encoders.py [n]`` (default n = 1,000,000).

The answers are drawn (Zipf-like, as answer spaces repeat heavily) from a pool of distinct
templated answers: plain numbers, ranges restated, markdown, reasoning blocks, words, lists.
Compared in the same run:

* ``encode_texts`` (each distinct text parsed once, then array indexing);
* the old first-integer rule, ``re.search(r"[-+]?\\d+")`` in a loop (fast, but it misreads
  "Between 1 and 10, I pick 3." as 1);
* ``Encoder.parse`` called on every text, without the cache (timed on a slice, scaled);
* the worst case for the cache: every text distinct (timed on a slice, scaled).
"""

from __future__ import annotations

import re
import sys
import time

import numpy as np

from phasekit.ingest.encoders import build_encoder, encode_texts

TEMPLATES = ["{k}", " {k}", "{k}.", "**{k}**", "Between 1 and 10, I pick {k}.", "I choose {w}.",
             "<think>The user wants a number between 1 and 10; maybe {j}.</think>\n\n{k}",
             "Sure! Here's a random number from 1 to 10: {k}", "{k} or {j}", "{k}.5", "Answer: {k}",
             "{w}", "My favourite number between 1 and 10 is {k}, since {k} is lucky."]
WORDS = "zero one two three four five six seven eight nine ten eleven".split()


def answer_pool(rng: np.random.Generator, n_distinct: int) -> list[str]:
    pool = []
    while len(pool) < n_distinct:
        k, j = int(rng.integers(0, 12)), int(rng.integers(0, 12))
        t = TEMPLATES[int(rng.integers(len(TEMPLATES)))]
        pool.append(t.format(k=k, j=j, w=WORDS[k]) + " " * int(rng.integers(0, 3)))
    return pool


def timed(fn, *args):
    t0 = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t0, out


def main(n: int | None = None, *, smoke: bool = False, ci: bool = False) -> dict:
    """Encode ``n`` answers (default 1e6; ``ci``: 2e5; ``smoke``: 2e4); returns the timings."""
    n = n if n is not None else (20_000 if smoke else (200_000 if ci else 1_000_000))
    rng = np.random.default_rng(0)
    pool = answer_pool(rng, 2000)
    weights = 1.0 / np.arange(1, len(pool) + 1)
    texts = [pool[i] for i in rng.choice(len(pool), size=n, p=weights / weights.sum())]
    enc = build_encoder("integer", states=range(1, 11))

    t_cached, out = timed(encode_texts, texts, enc)
    first_int = re.compile(r"[-+]?\d+")
    t_old, _ = timed(lambda ts: [m.group() if (m := first_int.search(t)) else None for t in ts], texts)
    m = min(n, 50_000)
    t_uncached, _ = timed(lambda ts: [enc.parse(t) for t in ts], texts[:m])
    distinct = [f"{t} #{i}x" for i, t in enumerate(texts[:m])]  # '#12x': glued digits are no number
    t_distinct, _ = timed(encode_texts, distinct, enc)

    per_m = 1_000_000 / n
    print(f"{n:,} answers, {len(set(texts)):,} distinct; parsed {int((out.codes >= 0).sum()):,}, "
          f"unparsed {out.unparsed_counts()}")
    print(f"encode_texts (cached by distinct text): {t_cached * per_m:7.2f} s per million")
    print(f"first-integer regex loop (old rule):    {t_old * per_m:7.2f} s per million "
          f"(ratio encode_texts/old = {t_cached / t_old:.2f})")
    print(f"Encoder.parse on every text, no cache:  {t_uncached * 1e6 / m:7.2f} s per million "
          f"(scaled from {m:,}; cache speed-up x{t_uncached * n / m / t_cached:.1f})")
    print(f"encode_texts, every text distinct:      {t_distinct * 1e6 / m:7.2f} s per million "
          f"(scaled from {m:,})")
    return {"rows": [{"method": "encode_texts (cached)", "s_per_million": t_cached * per_m,
                      "ratio_to_first_integer_loop": t_cached / t_old},
                     {"method": "first-integer regex loop", "s_per_million": t_old * per_m,
                      "ratio_to_first_integer_loop": 1.0},
                     {"method": "Encoder.parse, no cache", "s_per_million": t_uncached * 1e6 / m,
                      "ratio_to_first_integer_loop": t_uncached * n / m / t_old},
                     {"method": "encode_texts, all distinct", "s_per_million": t_distinct * 1e6 / m,
                      "ratio_to_first_integer_loop": t_distinct * n / m / t_old}]}


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
