"""Readers and split loaders for the XTREME-R targets fetched online: XQuAD, TyDiQA-GoldP, BUCC, LAReQA, Mewsli-X.

Data layout under the data directory (what ``modxfer data fetch NAME`` writes; XTREME's own layout where it has one):

- ``xquad/xquad.XX.json``: SQuAD JSON, one file per language (deepmind/xquad); evaluation only.
- ``tydiqa/train-en.json``, ``tydiqa/dev-XX.json``: TyDiQA-GoldP in SQuAD JSON; the English training set and the
  per-language dev sets XTREME evaluates on.
- ``bucc2018/XX-en.{dev,test}.{XX,en,gold}``: BUCC 2018 as XTREME renames it (``sample`` -> ``dev``, ``training`` ->
  ``test``); the ``XX``/``en`` files hold ``id<TAB>sentence`` per line (the two monolingual corpora, mostly not
  parallel), ``gold`` holds ``XX-id<TAB>en-id`` per gold pair.
- ``lareqa/xquad-r/XX.json``: XQuAD-R (google-research-datasets/lareqa): SQuAD JSON whose paragraphs carry
  ``sentence_breaks``; all 11 languages make up the candidate pool.
- ``mewslix/candidate_set_entities.jsonl`` (one entity per line: entity_id, title, description, sentence_spans, ...)
  and ``mewslix/wikinews_mentions/{dev,test}-XX.jsonl`` (one context with its mentions per line), XTREME's layout.

Row schemas (head ``retrieval``; ``calibration`` and ``candidates`` are read clean, never perturbed):

- BUCC ``test``/``calibration``: one row per sentence, ``{id, side: "source"|"target", text, gold: [partner ids]}``
  (gold on the source side only).
- LAReQA ``test``: one row per question ``{id, question, xling_id}``; ``candidates``: one row per sentence of every
  language ``{id, lang, sentence, context, xling_ids}`` (the questions the sentence answers).
- Mewsli-X ``test``: one row per mention ``{id, context, mention_start, mention_text, entity_id}`` where ``context`` is
  the sentence holding the mention (XTREME's one-sentence window); ``candidates``: ``{id: entity_id, text}``.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from ..errors import DataError
from . import readers
from .loaders import train_val

XQUAD_LANGUAGES = ("en", "es", "de", "el", "ru", "tr", "ar", "vi", "th", "zh", "hi", "ro")
TYDIQA_LANGUAGES = ("en", "ar", "bn", "fi", "id", "ko", "ru", "sw", "te")
BUCC_LANGUAGES = ("de", "fr", "ru", "zh")
LAREQA_LANGUAGES = ("ar", "de", "el", "en", "es", "hi", "ru", "th", "tr", "vi", "zh")
MEWSLIX_LANGUAGES = ("ar", "de", "en", "es", "fa", "ja", "pl", "ro", "ta", "tr", "uk")
BUCC_SPLIT_FILES = {"calibration": "dev", "test": "test"}  # XTREME's names: BUCC sample and training sets


def _bad(path: Path, where, what: str, task: str) -> DataError:
    return DataError(f"malformed data in {path}{':' + str(where) if where is not None else ''}: {what}",
                     f"re-create it with `modxfer data fetch {task}`")


# ---------------------------------------------------------------- QA
def xquad_test(root: Path, lang: str) -> list[dict]:
    return readers.read_squad(root / f"xquad/xquad.{lang}.json")


def tydiqa_train(split: str, root: Path, lang: str) -> list[dict]:
    """TyDiQA-GoldP English train, 90/10 by passage title into train and validation."""
    rel = "tydiqa/train-en.json"
    rows = readers.read_squad(root / rel)
    for r in rows:
        r["id"] = f"{rel}:{r['id']}"
    return train_val(rows, "tydiqa-train-en", split, key=lambda i, r: r["title"] or r["context"])


def tydiqa_test(root: Path, lang: str) -> list[dict]:
    return readers.read_squad(root / f"tydiqa/dev-{lang}.json")


# ---------------------------------------------------------------- BUCC
def _bucc_sentences(path: Path) -> list[tuple[str, str]]:
    out = []
    for i, line in enumerate(readers.read_lines(path), 1):
        if not line:
            continue
        fields = line.split("\t")
        if len(fields) < 2:
            raise _bad(path, i, "expected 'id<TAB>sentence'", "bucc")
        out.append((fields[0], fields[1]))  # XTREME reads the second field only (cut -f2)
    return out


def bucc(split: str, root: Path, lang: str) -> list[dict]:
    prefix = f"bucc2018/{lang}-en.{BUCC_SPLIT_FILES[split]}"
    src = _bucc_sentences(root / f"{prefix}.{lang}")
    tgt = _bucc_sentences(root / f"{prefix}.en")
    gold: dict[str, list[str]] = {}
    src_ids, tgt_ids = {s for s, _ in src}, {t for t, _ in tgt}
    for i, line in enumerate(readers.read_lines(root / f"{prefix}.gold"), 1):
        if not line.strip():
            continue
        pair = line.strip().split("\t")
        if len(pair) != 2 or pair[0] not in src_ids or pair[1] not in tgt_ids:
            raise _bad(root / f"{prefix}.gold", i, "expected 'source-id<TAB>target-id' naming sentences of the corpora",
                       "bucc")
        gold.setdefault(pair[0], []).append(pair[1])
    if len(src_ids) != len(src) or len(tgt_ids) != len(tgt):
        raise _bad(root / prefix, None, "sentence ids repeat within a corpus", "bucc")
    return ([{"id": i, "side": "source", "text": t, "gold": gold.get(i, [])} for i, t in src]
            + [{"id": i, "side": "target", "text": t, "gold": []} for i, t in tgt])


# ---------------------------------------------------------------- LAReQA (XQuAD-R)
@lru_cache(maxsize=32)
def _xquad_r(path: str, mtime: float, lang: str) -> tuple[list[dict], list[dict]]:
    """Questions and candidate sentences of one XQuAD-R file, as XTREME's utils_lareqa.load_data builds them."""
    p = Path(path)
    data = readers.read_json(p)
    questions: list[dict] = []
    candidates: dict[str, dict] = {}
    n_par = 0
    try:
        for article in data["data"]:
            for par in article["paragraphs"]:
                n_par += 1
                context = par["context"]
                breaks = [(int(s), int(e)) for s, e in par["sentence_breaks"]]
                sentences = [context[s:e] for s, e in breaks]
                # a paragraph's sentences join the pool with its first kept question (none kept: not in the pool)
                cands = [{"id": f"{lang}_{n_par}_{pos}", "lang": lang, "sentence": sent, "context": context,
                          "xling_ids": []} for pos, sent in enumerate(sentences)]
                for qa in par["qas"]:
                    if len(qa["answers"]) != 1:
                        raise _bad(p, None, f"question {qa.get('id')} must have exactly one answer", "lareqa")
                    start = int(qa["answers"][0]["answer_start"])
                    # the answer's enclosing sentence; XTREME skips (with a warning) answers no sentence holds
                    answer = next((context[s:e] for s, e in breaks if s <= start < e), None)
                    if answer is None:
                        continue
                    questions.append({"id": f"{qa['id']}_{lang}", "question": qa["question"], "xling_id": qa["id"]})
                    for c in cands:
                        candidates.setdefault(c["id"], c)
                    for pos, sent in enumerate(sentences):
                        if sent == answer:
                            cands[pos]["xling_ids"].append(qa["id"])
    except (KeyError, TypeError, ValueError) as e:
        raise _bad(p, None, f"not XQuAD-R JSON (paragraphs need context, qas and sentence_breaks): {e}", "lareqa") from None
    return questions, list(candidates.values())


def _lareqa_file(root: Path, lang: str) -> tuple[list[dict], list[dict]]:
    path = root / f"lareqa/xquad-r/{lang}.json"
    if not path.is_file():
        raise DataError(f"missing data file {path}", "online, run `modxfer data fetch lareqa --languages all`")
    return _xquad_r(str(path), os.path.getmtime(path), lang)


def lareqa_test(root: Path, lang: str) -> list[dict]:
    return [dict(q) for q in _lareqa_file(root, lang)[0]]


def lareqa_candidates(root: Path, lang: str) -> list[dict]:
    """The pool every question is ranked against: the sentences of all 11 XQuAD-R languages (LAReQA's definition)."""
    missing = [l for l in LAREQA_LANGUAGES if not (root / f"lareqa/xquad-r/{l}.json").is_file()]
    if missing:
        raise DataError(f"LAReQA ranks against the sentences of all {len(LAREQA_LANGUAGES)} XQuAD-R languages; "
                        f"missing: {', '.join(missing)}", "online, run `modxfer data fetch lareqa --languages all`")
    return [dict(c, xling_ids=list(c["xling_ids"])) for l in LAREQA_LANGUAGES for c in _lareqa_file(root, l)[1]]


# ---------------------------------------------------------------- Mewsli-X
def _span(obj, path, line) -> tuple[int, int]:
    try:
        start, end = int(obj["start"]), int(obj["end"])
    except (KeyError, TypeError, ValueError):
        raise _bad(path, line, f"span {obj!r} lacks integer start/end", "mewslix") from None
    if not 0 <= start < end:
        raise _bad(path, line, f"span {obj!r} is empty or negative", "mewslix")
    return start, end


def mewslix_mentions(split_file: str, root: Path, lang: str) -> list[dict]:
    """One row per mention, with the sentence holding it (XTREME's ``truncate(window_size=0)``)."""
    rel = f"mewslix/wikinews_mentions/{split_file}-{lang}.jsonl"
    path = root / rel
    rows = []
    for doc in readers.read_jsonl(path):
        line = doc["_line"]
        try:
            ctx, mentions = doc["context"], doc["mentions"]
            text, spans = ctx["text"], [_span(s, path, line) for s in ctx["sentence_spans"]]
            for m in mentions:
                ms = m["mention_span"]
                start, end = _span(ms, path, line)
                if text[start:end] != ms["text"]:
                    raise _bad(path, line, f"mention {m['example_id']}: {ms['text']!r} is not at {start}:{end}", "mewslix")
                focus = next(((s, e) for s, e in spans if s <= start < e and s < end <= e), None)
                if focus is None:
                    raise _bad(path, line, f"mention {m['example_id']} crosses a sentence boundary", "mewslix")
                if not m["entity_id"]:
                    raise DataError(f"{path} has no gold entity for mention {m['example_id']} (XTREME's preprocessing "
                                    "removes Mewsli-X test labels)", "use the unprocessed Mewsli-X files "
                                    "(`modxfer data fetch mewslix`), or the offline profile, which evaluates dev")
                rows.append({"id": str(m["example_id"]), "context": text[focus[0]:focus[1]],
                             "mention_start": start - focus[0], "mention_text": ms["text"],
                             "entity_id": str(m["entity_id"])})
        except (KeyError, TypeError) as e:
            raise _bad(path, line, f"not a Mewsli-X context with mentions ({e})", "mewslix") from None
    return rows


@lru_cache(maxsize=2)
def _entities(path: str, mtime: float) -> tuple[dict, ...]:
    p = Path(path)
    out = []
    for e in readers.read_jsonl(p):
        try:
            desc = e["description"]
            sentences = " ".join(desc[s:t] for s, t in (_span(x, p, e["_line"]) for x in e["sentence_spans"]))
            out.append({"id": str(e["entity_id"]),
                        # XTREME's preprocess_entity_description
                        "text": " ".join(sentences.splitlines()).replace("  ", " ").strip()})
        except (KeyError, TypeError) as err:
            raise _bad(p, e["_line"], f"not a Mewsli-X entity ({err})", "mewslix") from None
    return tuple(out)


def mewslix_candidates(root: Path, lang: str) -> list[dict]:
    """Mewsli-X's candidate set (about a million WikiData entities, the same for every language)."""
    path = root / "mewslix/candidate_set_entities.jsonl"
    if not path.is_file():
        raise DataError(f"missing data file {path}", "online, run `modxfer data fetch mewslix --languages all`")
    return list(_entities(str(path), os.path.getmtime(path)))
