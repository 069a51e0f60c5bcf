"""OpenAI Batch API output (and vLLM ``run_batch`` output): one row per generation.

Each line of a batch output (or error) file is
``{"id", "custom_id", "response": {"status_code", "request_id", "body"}, "error"}``
(https://platform.openai.com/docs/guides/batch, "Retrieve the results"; vLLM's
``python -m vllm.entrypoints.openai.run_batch`` writes the same schema). The body is a
``chat.completion`` (text ``choices[i].message.content``), a ``text_completion`` (text
``choices[i].text``) or a Responses-API ``response`` (the ``output_text`` parts of its
``output`` messages; one generation).

Rows (see :mod:`phasekit.ingest.frame`):

* every choice of a successful response is one row, ``sample`` = its ``index``;
* a failed request — ``error`` set, ``status_code`` other than 200, a body without
  choices — is ``n`` rows with ``failure`` the reason (``n`` from the request's body when the
  requests file is given, else 1, noted in ``meta``); a response with fewer choices than
  ``n`` gets failure rows for the missing ones;
* with ``options["requests"]`` (the batch input file(s): lines ``{"custom_id", "method",
  "url", "body"}``), ``prompt`` is the request's prompt (a single user message's content,
  else ``"role: content"`` lines; a completions ``prompt`` string) and every custom_id of
  the input without an output line is ``n`` rows with failure ``"no output line …"``.
  Without requests, ``prompt`` is the ``custom_id`` (``meta["prompt_from"]``).
  ``doc_id`` is always the ``custom_id``.

The batch's separate error file is read the same way, as another source. When an output
and its error file are read in one call, ``options["batch"]`` lists the files read together
(``open_samples`` passes its sources; those not in this format are left out) so that a
custom_id is "missing" only when it is in none of them, counted once (by the first file
in sorted order).

``model`` is the request's ``body.model`` when the requests are given (the same name for
a request's successes and failures), else the response's ``body.model``; a failed line
without requests takes the file's model when the file has exactly one (``meta`` says how
many). ``checkpoint`` is left None: fine-tune names such as
``ft:gpt-4o-mini:org::id:ckpt-step-100`` are split by ``name_pattern`` in the core.

``fields`` overrides: paths start at the output line (``text="response.body.choices.*.message.content"``,
``model="response.body.model"``), or at the request line with ``request.``
(``prompt="request.body.metadata.question_id"``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ...errors import SchemaError
from ..frame import SampleFrame
from ..jsonio import iter_jsonl
from ..paths import MISSING, get_path, get_samples

__all__ = ["FORMAT", "detect", "read", "read_requests"]

FORMAT = "openai-batch"

_HEAD_BYTES = 8192
_CUSTOM_ID = re.compile(rb'"custom_id"\s*:')
_RESPONSE = re.compile(rb'"response"\s*:')
_ROLES = ("model", "checkpoint", "step", "stage", "task", "prompt")


def detect(path: Path) -> bool:
    """A ``.jsonl`` whose first line has ``custom_id`` and ``response`` keys (first 8 KiB read)."""
    path = Path(path)
    if not path.is_file() or path.suffix.lower() not in (".jsonl", ".ndjson"):
        return False
    with open(path, "rb") as fh:
        head = fh.read(_HEAD_BYTES)
    first = head.lstrip().split(b"\n", 1)[0]
    return first.startswith(b"{") and bool(_CUSTOM_ID.search(first)) and bool(_RESPONSE.search(first))


# --------------------------------------------------------------------------- requests

def _request_paths(requests: Any) -> list[Path]:
    if requests is None:
        return []
    if isinstance(requests, str | Path):
        return [Path(requests)]
    if isinstance(requests, Sequence):
        return [Path(r) for r in requests]
    raise SchemaError(f"requests= must be a path or a list of paths, not {type(requests).__name__}",
                      where="open_samples(requests=...)", fix="pass the batch input file(s)")


def read_requests(requests: Any) -> dict[str, tuple[dict, str]]:
    """custom_id → (request line, where) from the batch input file(s); duplicates are an error."""
    out: dict[str, tuple[dict, str]] = {}
    for path in _request_paths(requests):
        if not path.is_file():
            raise SchemaError("the requests file does not exist", where=str(path),
                              fix="pass the batch input file you uploaded (requests=...)")
        for lineno, rec in iter_jsonl(path):
            where = f"{path}, line {lineno}"
            cid = rec.get("custom_id") if isinstance(rec, dict) else None
            if not isinstance(cid, str) or not isinstance(rec.get("body"), dict):
                raise SchemaError("a request line without a string custom_id and a body object", where=where,
                                  fix="requests= takes the batch input file: lines {custom_id, method, url, body}")
            if cid in out:
                raise SchemaError(f"custom_id {cid!r} appears twice in the requests", where=where,
                                  fix=f"custom_ids must be unique (first at {out[cid][1]})")
            out[cid] = (rec, where)
    return out


def _text_of(content: Any) -> Any:
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and "text" in p)
    return content


def _prompt_text(body: dict, where: str) -> str:
    """A request's prompt: one user message's content, else ``role: content`` lines; or ``prompt``."""
    if isinstance(body.get("messages"), list):
        msgs = body["messages"]
        if len(msgs) == 1 and isinstance(msgs[0], dict) and msgs[0].get("role") == "user":
            return str(_text_of(msgs[0].get("content")))
        return "\n".join(f"{m.get('role')}: {_text_of(m.get('content'))}" for m in msgs if isinstance(m, dict))
    prompt = body.get("prompt", body.get("input"))
    if isinstance(prompt, list):
        if len(prompt) == 1:
            prompt = prompt[0]
        elif prompt and all(isinstance(t, int) for t in prompt):
            return " ".join(map(str, prompt))
        else:
            raise SchemaError("a completions request with several prompts", where=where,
                              fix="send one prompt per request (choices cannot be matched to prompts)")
    if isinstance(prompt, str):
        return prompt
    raise SchemaError("the request body has neither messages nor a prompt", where=where,
                      fix="pass prompt='request.body.<field>' to name the prompt")


# --------------------------------------------------------------------------- responses

def _failure_of(line: dict) -> str | None:
    """Why a line holds no generation (None when it is a successful response)."""
    err = line.get("error")
    if err:
        if isinstance(err, dict):
            return f"request failed: {err.get('code') or 'error'}: {err.get('message')}"
        return f"request failed: {err}"
    resp = line.get("response")
    if not isinstance(resp, dict):
        return "request failed: no response"
    status = resp.get("status_code")
    if status != 200:
        body = resp.get("body")
        msg = ((body or {}).get("error") or {}).get("message") if isinstance(body, dict) else body
        return f"request failed: HTTP {status}: {msg}"
    return None


def _choice_texts(body: dict, where: str) -> dict[int, Any]:
    """index → text of a response body (chat, completions, or Responses API)."""
    if body.get("object") == "response":
        texts = [c.get("text") for item in body.get("output") or [] if item.get("type") == "message"
                 for c in item.get("content") or [] if c.get("type") == "output_text"]
        return {0: "".join(texts)} if texts else {}
    out = {}
    for pos, ch in enumerate(body.get("choices") or []):
        if not isinstance(ch, dict):
            raise SchemaError("a choice that is not an object", where=where, fix="check the file")
        i = ch.get("index", pos)
        text = (ch.get("message") or {}).get("content") if "message" in ch else ch.get("text")
        out[i] = _text_of(text)
    return out


def _line_rows(line: dict, where: str, n: int | None, text_path: str | None) -> list[dict]:
    """The rows of one output line: its choices, or n failure rows."""
    failure = _failure_of(line)
    count = n or 1
    if failure is not None:
        return [{"sample": i, "text": None, "failure": failure} for i in range(count)]
    body = line["response"].get("body")
    if not isinstance(body, dict):
        return [{"sample": i, "text": None, "failure": "request failed: empty body"} for i in range(count)]
    if text_path is not None:
        texts = dict(enumerate(get_samples(line, text_path, where=where)))
    else:
        texts = _choice_texts(body, where)
    if not texts:
        return [{"sample": i, "text": None, "failure": "response has no choices"} for i in range(count)]
    rows = []
    for i in sorted(set(texts) | set(range(n or 0))):
        text = texts.get(i, MISSING)
        if text is MISSING:
            rows.append({"sample": i, "text": None, "failure": f"choice {i} missing from the response"})
        elif text is None:
            rows.append({"sample": i, "text": None, "failure": "no text in the choice (refusal or tool call)"})
        else:
            rows.append({"sample": i, "text": text, "failure": None})
    return rows


# --------------------------------------------------------------------------- read

def _split_fields(path: Path, fields: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str], str | None]:
    """User fields → (output-line paths, request paths without ``request.``, text path)."""
    line: dict[str, str] = {}
    req: dict[str, str] = {}
    text_path = None
    for role, p in fields.items():
        if role == "text":
            text_path = p
        elif role in _ROLES:
            (req if p.startswith("request.") else line)[role] = p.removeprefix("request.")
        else:
            raise SchemaError(f"{role}= cannot be set for OpenAI batch output", where=f"{path} ({role}={p!r})",
                              fix=f"leave {role}= out: samples are the response's choices")
    return line, req, text_path


def _custom_ids(path: Path) -> set[str]:
    return {str(rec["custom_id"]) for _, rec in iter_jsonl(path) if isinstance(rec, dict) and "custom_id" in rec}


def _keys(line: dict, req: tuple[dict, str] | None, cid: str, where: str, line_fields: dict,
          req_fields: dict) -> dict[str, Any]:
    """The roles of one request: defaults, then the user's paths."""
    body = ((line.get("response") or {}).get("body") or {}) if line else {}
    rbody = req[0]["body"] if req else {}
    keys: dict[str, Any] = {"doc_id": cid, "checkpoint": None, "task": None,
                            "model": rbody.get("model") if req else body.get("model") if isinstance(body, dict)
                            else None,
                            "prompt": _prompt_text(rbody, req[1]) if req else cid}
    for role, p in line_fields.items():
        if line:
            v = get_path(line, p, where=where)
            keys[role] = None if v is MISSING else v
    for role, p in req_fields.items():
        if req is None:
            raise SchemaError(f"{role}='request.{p}' needs the requests file", where=where,
                              fix="pass requests= (the batch input file)")
        v = get_path(req[0], p, where=req[1])
        keys[role] = None if v is MISSING else v
    return keys


def _n_of(req: tuple[dict, str] | None) -> int | None:
    if req is None:
        return None
    n = req[0]["body"].get("n", 1)
    return n if isinstance(n, int) and n >= 1 else 1


def read(path: Path, *, fields: Mapping[str, str], options: Mapping[str, Any]) -> SampleFrame:
    """Every generation (and every failed request) of a batch output or error file."""
    path = Path(path)
    line_fields, req_fields, text_path = _split_fields(path, fields)
    requests = read_requests(options.get("requests"))
    rows: list[dict] = []
    seen: dict[str, str] = {}
    for lineno, line in iter_jsonl(path, fix="each line must be one batch output object"):
        where = f"{path}, line {lineno}"
        cid = line.get("custom_id") if isinstance(line, dict) else None
        if not isinstance(cid, str):
            raise SchemaError("a line without a string custom_id", where=where,
                              fix="this is not OpenAI batch output (lines {id, custom_id, response, error})")
        if cid in seen:
            raise SchemaError(f"custom_id {cid!r} appears twice", where=where, fix=f"first at {seen[cid]}")
        seen[cid] = where
        req = requests.get(cid)
        if requests and req is None:
            raise SchemaError(f"custom_id {cid!r} is in no request of the requests file(s)", where=where,
                              fix="pass the input file(s) of this batch as requests=")
        keys = _keys(line, req, cid, where, line_fields, req_fields)
        for r in _line_rows(line, where, _n_of(req), text_path):
            rows.append({**keys, **r, "custom_id": cid, "line": lineno})
    n_missing = _add_missing(rows, path, requests, seen, options, line_fields, req_fields)
    return _frame(path, rows, requests, n_missing, options)


def _add_missing(rows: list[dict], path: Path, requests: dict, seen: dict, options: Mapping[str, Any],
                 line_fields: dict, req_fields: dict) -> int:
    """Failure rows for requests with no output line (in this file, or in any file of the batch)."""
    if not requests:
        return 0
    others = {Path(p) for p in options.get("batch") or []} - {path}
    batch = sorted({p for p in others if detect(p)} | {path}, key=str)   # other formats left out
    if batch[0] != path:
        return 0
    present = set(seen)
    for other in batch[1:]:
        present |= _custom_ids(other)
    missing = [cid for cid in requests if cid not in present]
    names = ", ".join(str(p) for p in batch)
    for cid in missing:
        req = requests[cid]
        keys = _keys({}, req, cid, req[1], {}, req_fields)
        for i in range(_n_of(req) or 1):
            rows.append({**keys, "sample": i, "text": None, "custom_id": cid, "line": None,
                         "failure": f"no output line for this custom_id in {names}"})
    return len(missing)


def _frame(path: Path, rows: list[dict], requests: dict, n_missing: int,
           options: Mapping[str, Any]) -> SampleFrame:
    cols = ["model", "checkpoint", "task", "prompt", "doc_id", "custom_id", "sample", "text", "failure",
            "line", "file"]
    frame = pd.DataFrame(rows, columns=cols[:-1])
    frame["file"] = str(path)
    meta: dict[str, Any] = {"detected": FORMAT, "n_rows": len(frame), "n_missing_requests": n_missing,
                            "requests": [str(p) for p in _request_paths(options.get("requests"))],
                            "prompt_from": "request prompt (joined on custom_id)" if requests
                            else "custom_id (no requests file given)",
                            "model_from": "request body.model" if requests else "response body.model",
                            "checkpoint_from": None}
    if not requests:
        meta["n_from_requests"] = False       # a failed request counts as one generation
        models = set(frame["model"].dropna())
        blank = frame["model"].isna()
        if len(models) == 1 and blank.any():
            frame.loc[blank, "model"] = next(iter(models))
            meta["model_filled_for_failed_rows"] = int(blank.sum())
    for col in ("text", "failure", "model"):
        frame[col] = frame[col].astype(object).where(frame[col].notna(), None)
    frame["line"] = pd.Series([None if v is None or v != v else int(v) for v in frame["line"]],
                              index=frame.index, dtype=object)
    meta["n_failed"] = int(frame["failure"].notna().sum())
    return SampleFrame(frame, FORMAT, meta)
