"""Tokenized model inputs per head type. Features are plain lists (cheap to cache, no tensors until collate)."""

from __future__ import annotations

from typing import Any

from ..tasks import Task

QA_MAX_LENGTH = 384
QA_STRIDE = 128


def featurize(task: Task, rows: list[dict], tokenizer, max_length: int = 128, *, train: bool = False) -> list[dict]:
    """Tokenize rows for ``task``'s head. Extractive QA may give several features per row (``example`` indexes rows)."""
    head = task.head
    if head == "classification":
        return _pairs(rows, tokenizer, max_length)
    if head == "multiple_choice":
        return _choices(rows, tokenizer, max_length)
    if head == "tagging":
        return _tagging(rows, tokenizer, max_length, task.labels)
    if head == "extractive_qa":
        # Question + context windows need more room than sentence pairs, within what the encoder can take.
        return _qa(rows, tokenizer, min(max(max_length, QA_MAX_LENGTH), tokenizer.model_max_length), train=train)
    if head == "retrieval":
        return [{"input_ids": ids} for ids in tokenizer([r["source"] for r in rows], truncation=True,
                                                         max_length=max_length)["input_ids"]]
    raise ValueError(head)


def length(feature: dict) -> int:
    ids = feature["input_ids"]
    return max(len(c) for c in ids) * len(ids) if ids and isinstance(ids[0], list) else len(ids)


def _pairs(rows, tokenizer, max_length):
    a = [r["text_a"] for r in rows]
    b = [r["text_b"] for r in rows]
    has_b = any(x is not None for x in b)
    enc = tokenizer(a, [x or "" for x in b] if has_b else None, truncation=True, max_length=max_length)
    return [{"input_ids": ids, "labels": int(r["label"])} for ids, r in zip(enc["input_ids"], rows)]


def _choices(rows, tokenizer, max_length):
    firsts, seconds = [], []
    for r in rows:
        stem = " ".join(x for x in (r["context"], r["question"]) if x)
        firsts += [stem] * len(r["choices"])
        seconds += list(r["choices"])
    enc = tokenizer(firsts, seconds, truncation="only_first", max_length=max_length)["input_ids"]
    out, k = [], 0
    for r in rows:
        n = len(r["choices"])
        out.append({"input_ids": enc[k:k + n], "labels": int(r["label"])})
        k += n
    return out


def _tagging(rows, tokenizer, max_length, labels):
    index = {t: i for i, t in enumerate(labels)}
    enc = tokenizer([r["tokens"] for r in rows], is_split_into_words=True, truncation=True, max_length=max_length)
    out = []
    for i, r in enumerate(rows):
        word_ids = enc.word_ids(i)
        lab, starts, words, prev = [], [], [], None
        for pos, w in enumerate(word_ids):
            # The first sub-word of each word carries its tag (XTREME's convention); the rest are ignored.
            if w is not None and w != prev:
                lab.append(index[r["tags"][w]])
                starts.append(pos)
                words.append(w)
            else:
                lab.append(-100)
            prev = w
        # word_index: which word each start belongs to. A word with no sub-words (e.g. U+200B) or cut off by
        # truncation has none, and must not shift the words after it.
        out.append({"input_ids": enc["input_ids"][i], "labels": lab, "word_starts": starts, "word_index": words,
                    "n_words": len(r["tokens"])})
    return out


def _qa(rows, tokenizer, max_length, *, train: bool) -> list[dict[str, Any]]:
    enc = tokenizer([r["question"].lstrip() for r in rows], [r["context"] for r in rows], truncation="only_second",
                    max_length=max_length, stride=min(QA_STRIDE, max_length // 2), return_overflowing_tokens=True,
                    return_offsets_mapping=True, padding=False)
    out = []
    for j, ids in enumerate(enc["input_ids"]):
        ex = enc["overflow_to_sample_mapping"][j]
        seq = enc.sequence_ids(j)
        offsets = [o if s == 1 else None for o, s in zip(enc["offset_mapping"][j], seq)]
        feat = {"input_ids": ids, "example": ex, "offsets": offsets}
        if train:
            r = rows[ex]
            start_char = r["answers"]["answer_start"][0]
            end_char = start_char + len(r["answers"]["text"][0])
            ctx = [k for k, s in enumerate(seq) if s == 1]
            s_tok = e_tok = 0  # answer not inside this window: point at <s>, as in the SQuAD recipe
            if offsets[ctx[0]][0] <= start_char and offsets[ctx[-1]][1] >= end_char:
                s_tok = next(k for k in ctx if offsets[k][1] > start_char)
                e_tok = next(k for k in reversed(ctx) if offsets[k][0] < end_char)
            feat["start_positions"], feat["end_positions"] = s_tok, e_tok
        out.append(feat)
    return out
