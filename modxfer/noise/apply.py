"""Applying a noise setting to texts, examples and datasets while keeping labels valid.

Which fields are perturbed, per head type:
  classification   text_a and text_b (when not None).
  multiple_choice  context and every choice. `question` is left unchanged: in COPA/XCOPA it is
                   the template keyword "cause"/"effect" that picks the prompt, not target-language
                   input, and noising it would test the template rather than the model.
  tagging          inside each token only, with noise that stays within a word (typo, keyboard,
                   homoglyph, diacritics, codeswitch, clean). Token count is unchanged and no token
                   becomes empty or gains whitespace (such a token keeps its original form). Word
                   and whitespace noise would merge or split tokens and break tag alignment, so
                   they are not applicable: is_applicable() says False and perturb_example returns
                   the example unchanged with a one-time warning.
  extractive_qa    the question, and the context outside the answer spans; answer texts are kept
                   verbatim and answer_start is remapped so context[start:start+len(text)] == text.
  retrieval        the query side only; the index (English side, candidate pool) stays clean:
                   Tatoeba pairs: ``source`` (the non-English sentence).
                   BUCC sentences: ``text`` of ``side == "source"`` rows (the non-English corpus); gold pairs are
                   by id, so they stay valid.
                   LAReQA questions: ``question``.
                   Mewsli-X mentions: ``context`` outside the mention, which is kept verbatim with
                   ``mention_start`` remapped so context[start:start+len(mention_text)] == mention_text.

Every field gets its own random stream keyed by (seed, example id, field, canonical spec), so
results do not depend on batch order, worker count or machine.
"""
from __future__ import annotations

import hashlib
import warnings
from typing import Any

from ..errors import ConfigError, DataError
from .keyboard import NoiseFallbackWarning
from .registry import Perturbation
from .rng import stable_rng
from .spec import NoiseSpec, build, parse_spec

HEAD_TYPES = ("classification", "multiple_choice", "tagging", "extractive_qa", "retrieval")
_SKIP_WARNED: set[tuple[str, str]] = set()


def _perturb(p: Perturbation, spec: NoiseSpec, text: str, seed: int, example_id: Any, lang: str | None,
             field: str) -> str:
    if not text or spec.name == "clean":
        return text
    return p.apply(text, stable_rng(seed, example_id, field, str(spec)), lang)


def perturb_text(text: str, spec: str | NoiseSpec, *, seed: int, example_id: Any, lang: str | None = None,
                 field: str = "text") -> str:
    if not isinstance(text, str):
        raise DataError(f"perturb_text needs a string, got {type(text).__name__}",
                        "pass the text field itself (None fields are skipped by perturb_example)")
    spec = parse_spec(spec)
    return _perturb(build(spec), spec, text, seed, example_id, lang, field)


def is_applicable(spec: str | NoiseSpec, head_type: str) -> bool:
    """False where perturb_example would leave examples unchanged (word noise on tagging)."""
    _check_head(head_type)
    return head_type != "tagging" or build(parse_spec(spec)).within_token


def applies_to_language(spec: str | NoiseSpec, lang: str | None) -> bool:
    """False where a setting has nothing to do in a language: code-switching replaces words with their English
    translation, so English text has no code-switched form (a sweep plans no such cell)."""
    name = parse_spec(spec).name
    return not (name == "codeswitch" and lang is not None and lang.lower().replace("_", "-").split("-")[0] == "en")


def _check_head(head_type: str) -> None:
    if head_type not in HEAD_TYPES:
        raise ConfigError(f"unknown head type '{head_type}' for noise", f"use one of: {', '.join(HEAD_TYPES)}")


def _require(example: dict, keys: tuple[str, ...], head_type: str) -> None:
    missing = [k for k in keys if k not in example]
    if missing:
        raise DataError(f"{head_type} example lacks field(s) {', '.join(missing)} (has {', '.join(example)})",
                        f"{head_type} examples need: {', '.join(keys)}")


def _protected_regions(context: str, answers: dict, example_id: Any) -> list[tuple[int, int]]:
    spans = []
    for text, start in zip(answers.get("text", []), answers.get("answer_start", [])):
        if start < 0 or context[start:start + len(text)] != text:
            raise DataError(f"example {example_id}: answer {text!r} is not at answer_start {start} of its context",
                            "fix the answer offsets in the data (they index characters of the context)")
        spans.append((start, start + len(text)))
    merged: list[list[int]] = []
    for s, e in sorted(spans):
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    return [(s, e) for s, e in merged]


def _perturb_qa(p, spec, ex, seed, eid, lang) -> dict:
    context, answers = ex["context"], ex["answers"]
    regions = _protected_regions(context, answers, eid)
    pieces, new_starts, cursor = [], {}, 0
    pos = 0
    for k, (s, e) in enumerate(regions + [(len(context), len(context))]):
        outside = _perturb(p, spec, context[cursor:s], seed, eid, lang, f"context[{k}]")
        pieces.append(outside)
        pos += len(outside)
        if s < e:
            new_starts[s] = pos
            pieces.append(context[s:e])
            pos += e - s
        cursor = e
    region_of = {}
    for s, e in regions:
        region_of.update({start: s for start in range(s, e)})
    starts = [new_starts[region_of[st]] + (st - region_of[st]) for st in answers.get("answer_start", [])]
    out = dict(ex)
    out["context"] = "".join(pieces)
    out["answers"] = {**answers, "text": list(answers.get("text", [])), "answer_start": starts}
    out["question"] = _perturb(p, spec, ex["question"], seed, eid, lang, "question")
    return out


def _perturb_token(p, spec, token, seed, eid, lang, i) -> str:
    new = _perturb(p, spec, token, seed, eid, lang, f"tokens[{i}]")
    return new if new and not any(ch.isspace() for ch in new) else token


def perturb_example(example: dict, head_type: str, spec: str | NoiseSpec, *, seed: int, lang: str | None) -> dict:
    """A perturbed copy of `example`; labels, ids and untouched fields are carried over."""
    _check_head(head_type)
    spec = parse_spec(spec)
    p = build(spec)
    if "id" not in example:
        raise DataError(f"{head_type} example has no 'id' field",
                        "noise is seeded per example id; add an id column (perturb_dataset uses the row index)")
    eid = example["id"]
    out = dict(example)
    if spec.name == "clean":
        return out
    if head_type == "classification":
        _require(example, ("text_a",), head_type)
        out["text_a"] = _perturb(p, spec, example["text_a"], seed, eid, lang, "text_a")
        if example.get("text_b") is not None:
            out["text_b"] = _perturb(p, spec, example["text_b"], seed, eid, lang, "text_b")
    elif head_type == "multiple_choice":
        _require(example, ("context", "choices"), head_type)
        out["context"] = _perturb(p, spec, example["context"], seed, eid, lang, "context")
        out["choices"] = [_perturb(p, spec, c, seed, eid, lang, f"choices[{i}]")
                          for i, c in enumerate(example["choices"])]
    elif head_type == "tagging":
        _require(example, ("tokens",), head_type)
        if not p.within_token:
            key = (spec.name, head_type)
            if key not in _SKIP_WARNED:
                _SKIP_WARNED.add(key)
                warnings.warn(f"{spec.name} noise would merge or split tokens; tagging examples are left unchanged",
                              NoiseFallbackWarning, stacklevel=2)
            return out
        out["tokens"] = [_perturb_token(p, spec, t, seed, eid, lang, i) for i, t in enumerate(example["tokens"])]
    elif head_type == "extractive_qa":
        _require(example, ("context", "question", "answers"), head_type)
        out = _perturb_qa(p, spec, example, seed, eid, lang)
    else:
        out = _perturb_retrieval(p, spec, example, seed, eid, lang)
    return out


def _perturb_retrieval(p, spec, ex, seed, eid, lang) -> dict:
    out = dict(ex)
    if "source" in ex:  # Tatoeba
        out["source"] = _perturb(p, spec, ex["source"], seed, eid, lang, "source")
    elif "side" in ex:  # BUCC
        _require(ex, ("text",), "retrieval")
        if ex["side"] == "source":
            out["text"] = _perturb(p, spec, ex["text"], seed, eid, lang, "text")
    elif "question" in ex:  # LAReQA
        out["question"] = _perturb(p, spec, ex["question"], seed, eid, lang, "question")
    elif "mention_text" in ex:  # Mewsli-X: the mention is the label's anchor, kept like a QA answer span
        _require(ex, ("context", "mention_start"), "retrieval")
        as_qa = {"context": ex["context"], "question": "",
                 "answers": {"text": [ex["mention_text"]], "answer_start": [ex["mention_start"]]}}
        qa = _perturb_qa(p, spec, as_qa, seed, eid, lang)
        out["context"], out["mention_start"] = qa["context"], qa["answers"]["answer_start"][0]
    else:
        raise DataError(f"retrieval example {eid} has none of the query fields (source, side/text, question, "
                        f"mention_text); it has {', '.join(ex)}",
                        "pass rows as the task registry loads them (modxfer.get_task(name).load('test', lang))")
    return out


def perturb_dataset(ds, head_type: str, spec: str | NoiseSpec, *, seed: int, lang: str | None,
                    num_proc: int | None = None):
    """`ds.map` with perturb_example; rows without an "id" column are keyed by their row index.

    The cache fingerprint is derived from the input's fingerprint and the setting, so a cached
    result is reused only for the same data, head type, spec, seed and language.
    """
    _check_head(head_type)
    spec = parse_spec(spec)
    has_id = "id" in ds.column_names

    def fn(example, idx=None):
        if not has_id:
            example = {**example, "id": str(idx)}
        out = perturb_example(example, head_type, spec, seed=seed, lang=lang)
        if not has_id:
            del out["id"]
        return out

    kwargs: dict[str, Any] = {"with_indices": not has_id, "num_proc": num_proc,
                              "desc": f"noise {spec} ({lang or 'any'})"}
    base = getattr(ds, "_fingerprint", None)
    if base is not None and spec.name != "codeswitch":  # a registered lexicon is state the key cannot see
        key = f"{base}|{head_type}|{spec}|{seed}|{lang}|modxfer.noise/1"
        kwargs["new_fingerprint"] = hashlib.blake2b(key.encode(), digest_size=16).hexdigest()
    return ds.map(fn, **kwargs)
