"""Split loaders for the offline profile and the helpers every profile's loaders share.

A loader takes (data directory, language) and returns rows in modxfer's column schema for the task's head; each row's
``id`` names its file and position. Partitions of files that serve two roles are documented in ``registry.py``.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import DataError
from . import readers
from .partition import split_keys

NLI_LABELS = ("entailment", "neutral", "contradiction")
UPOS = ("ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON", "PROPN", "PUNCT",
        "SCONJ", "SYM", "VERB", "X")
NER = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC")
VALIDATION_FRACTION = 0.1
COPA_QUESTION = {"cause": "What was the cause?", "effect": "What happened as a result?"}


# ---------------------------------------------------------------- partition helpers
def keep(rows: list[dict], salt: str, fractions: dict[str, float], part: str, key=lambda i, r: i) -> list[dict]:
    keys = [key(i, r) for i, r in enumerate(rows)]
    chosen = split_keys(keys, salt, fractions)[part]
    return [r for k, r in zip(keys, rows) if k in chosen]


def train_val(rows: list[dict], salt: str, split: str, key=lambda i, r: i) -> list[dict]:
    part = {"train": "train", "validation": "validation"}[split]
    return keep(rows, f"{salt}:val", {"validation": VALIDATION_FRACTION, "train": 1 - VALIDATION_FRACTION}, part, key)


def label_index(labels: tuple[str, ...], value, path: Path, line) -> int:
    try:
        return labels.index(str(value))
    except ValueError:
        raise DataError(
            f"malformed data in {path}:{line}: label {value!r} is not one of {', '.join(labels)}",
            "use an unmodified copy of the file (see the data README)",
        ) from None


def choice_label(value, n: int, path: Path, line) -> int:
    """A multiple-choice answer index in [0, n): a JSON integer or its decimal text (CSV); never a boolean (`true`
    would be 1), a float, or an index past the choices (XCOPA has two: label 5 would score nothing, silently)."""
    ok = (isinstance(value, int) and not isinstance(value, bool)) or (
        isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 3)
    if ok and 0 <= int(value) < n:
        return int(value)
    raise DataError(f"malformed data in {path}:{line}: label {str(value)[:40]!r} is not a choice index "
                    f"({', '.join(map(str, range(n)))})", "use an unmodified copy of the file (see the data README)")


# ---------------------------------------------------------------- classification
def nli_jsonl(root: Path, rel: str, label_map: dict | None = None) -> list[dict]:
    path = root / rel
    rows = []
    for r in readers.read_jsonl(path):
        if r.get("label") == "-":  # SNLI's no-consensus pairs are dropped, as in the official splits
            continue
        for k in ("premise", "hypothesis", "label"):
            if k not in r:
                raise DataError(f"malformed data in {path}:{r['_line']}: missing field {k!r}",
                                "use an unmodified copy of the file (see the data README)")
        lab = label_map.get(r["label"], r["label"]) if label_map else r["label"]
        rows.append({"id": f"{rel}:{r['_line']}", "text_a": r["premise"], "text_b": r["hypothesis"],
                     "label": label_index(NLI_LABELS, lab, path, r["_line"])})
    return rows


def pair_tsv(root: Path, rel: str, labels: tuple[str, ...], id_rel: str | None = None) -> list[dict]:
    path = root / rel
    return [
        {"id": f"{id_rel or rel}:{i}", "text_a": a, "text_b": b, "label": label_index(labels, lab, path, line)}
        for i, (line, (a, b, lab)) in enumerate(readers.read_tsv(path, 3, "sentence1, sentence2, label"))
    ]


def mnli_part(part: str, split: str, root: Path, lang: str) -> list[dict]:
    rows = nli_jsonl(root, "en_intermediate/mnli/dev_matched.jsonl")
    rows = keep(rows, "mnli-dev-matched", {"mnli": 0.5, "xnli": 0.5}, part)
    return train_val(rows, f"mnli-{part}", split)


def simple_train_val(reader, salt: str, split: str, root: Path, lang: str) -> list[dict]:
    return train_val(reader(root), salt, split)


def anli_dev(root: Path, lang: str) -> list[dict]:
    rel = "en_intermediate/anli/ANLI_analysis_r1_dev.csv"
    path = root / rel
    short = {"e": "entailment", "n": "neutral", "c": "contradiction"}
    return [
        {"id": f"{rel}:{r['_line']}", "text_a": r["context"], "text_b": r["statement"],
         "label": label_index(NLI_LABELS, short.get(r["gold_label"], r["gold_label"]), path, r["_line"])}
        for r in readers.read_csv(path, ["context", "statement", "gold_label"])
    ]


def qqp(root: Path) -> list[dict]:
    rel = "en_intermediate/qqp/glue_pretrain_dev.json"
    path = root / rel
    data = readers.read_json(path)
    if not isinstance(data, dict):
        raise DataError(f"malformed data in {path}: expected an object of pairs", "use an unmodified copy")
    rows = []
    for key, r in data.items():
        try:
            rows.append({"id": f"{rel}:{key}", "text_a": r["text_a"], "text_b": r["text_b"],
                         "label": label_index(("0", "1"), r["label"], path, key)})
        except (KeyError, TypeError):
            raise DataError(f"malformed data in {path}: pair {key!r} lacks text_a/text_b/label",
                            "use an unmodified copy of the file") from None
    return rows


def pawsx(split: str, root: Path, lang: str) -> list[dict]:
    src_lang = "en" if split != "test" else lang
    rows = pair_tsv(root, f"pawsx/dev-{src_lang}.tsv", ("0", "1"), id_rel="pawsx/dev-*.tsv")
    if len(rows) != 2000 and split == "test":
        en = len(readers.read_tsv(root / "pawsx/dev-en.tsv", 3, "sentence1, sentence2, label"))
        if len(rows) != en:
            raise DataError(f"pawsx/dev-{lang}.tsv has {len(rows)} rows but dev-en.tsv has {en}; the files must be "
                            "line-parallel", "use unmodified copies of the PAWS-X dev files")
    return keep(rows, "pawsx-dev", {"train": 0.45, "validation": 0.05, "test": 0.5}, split)


# ---------------------------------------------------------------- multiple choice
def copa(root: Path, rel: str) -> list[dict]:
    path = root / rel
    out = []
    for r in readers.read_jsonl(path):
        try:
            out.append({"id": f"{rel}:{r['_line']}", "context": r["premise"], "question": COPA_QUESTION[r["question"]],
                        "choices": [r["choice1"], r["choice2"]],
                        "label": choice_label(r["label"], 2, path, r["_line"])})
        except (KeyError, ValueError, TypeError) as e:
            raise DataError(f"malformed data in {path}:{r['_line']}: bad or missing field ({e})",
                            "use an unmodified copy of the file (see the data README)") from None
    return out


COPA_VALIDATION_FRACTION = 0.25


def copa_train(split: str, root: Path, lang: str) -> list[dict]:
    """English COPA train, 75/25 by hash rank into XCOPA's training and validation data (COPA has no other labelled
    English dev set: val-en scores the English test row, test-en is unlabelled)."""
    rows = copa(root, "xcopa/en_copa/train-en.jsonl")
    return keep(rows, "xcopa-en-copa-train", {"validation": COPA_VALIDATION_FRACTION,
                                              "train": 1 - COPA_VALIDATION_FRACTION}, split)


def xcopa_test(root: Path, lang: str) -> list[dict]:
    if lang == "en":
        return copa(root, "xcopa/en_copa/val-en.jsonl")
    return copa(root, f"xcopa/{lang}/test.{lang}.jsonl")


def siqa(root: Path, rel: str = "en_intermediate/siqa/socialIQa_v1.4_dev.jsonl") -> list[dict]:
    path = root / rel
    out = []
    for r in readers.read_jsonl(path):
        try:
            out.append({"id": f"{rel}:{r['_line']}", "context": r["context"], "question": r["question"],
                        "choices": [r["answerA"], r["answerB"], r["answerC"]], "label": "ABC".index(r["correct"])})
        except (KeyError, ValueError, TypeError) as e:
            raise DataError(f"malformed data in {path}:{r['_line']}: bad or missing field ({e})",
                            "use an unmodified copy of the file (see the data README)") from None
    return out


def csqa(root: Path, rel: str = "en_intermediate/commonsenseqa/dev_rand_split.hf_format.jsonl") -> list[dict]:
    path = root / rel
    out = []
    for r in readers.read_jsonl(path):
        try:
            labels = list(r["choices"]["label"])
            out.append({"id": f"{rel}:{r['_line']}", "context": "", "question": r["question"],
                        "choices": list(r["choices"]["text"]), "label": labels.index(r["answerKey"])})
        except (KeyError, ValueError, TypeError) as e:
            raise DataError(f"malformed data in {path}:{r['_line']}: bad or missing field ({e})",
                            "use an unmodified copy of the file (see the data README)") from None
    return out


def cosmosqa(root: Path, rel: str = "en_intermediate/cosmosqa/valid.csv") -> list[dict]:
    path = root / rel
    out = []
    for r in readers.read_csv(path, ["context", "question", "answer0", "answer1", "answer2", "answer3", "label"]):
        try:
            out.append({"id": f"{rel}:{r['_line']}", "context": r["context"], "question": r["question"],
                        "choices": [r[f"answer{k}"] for k in range(4)],
                        "label": choice_label(r["label"], 4, path, r["_line"])})
        except (KeyError, TypeError) as e:
            raise DataError(f"malformed data in {path}:{r['_line']}: bad or missing field ({e})",
                            "use an unmodified copy of the file (see the data README)") from None
    return out


# ---------------------------------------------------------------- tagging
def conll(root: Path, rel: str, labels: tuple[str, ...], id_rel: str | None = None) -> list[dict]:
    path = root / rel
    out = []
    for line, tokens, tags in readers.read_conll(path):
        bad = sorted(set(tags) - set(labels))
        if bad:
            raise DataError(f"malformed data in {path}:{line}: tag(s) {', '.join(bad)} not in {', '.join(labels)}",
                            "use an unmodified copy of the file (see the data README)")
        out.append({"id": f"{id_rel or rel}:{line}", "tokens": tokens, "tags": tags})
    return out


def tagging_train(name: str, labels, part: str, split: str, root: Path, lang: str) -> list[dict]:
    rows = conll(root, f"{name}/train-en.tsv", labels)
    rows = keep(rows, f"{name}-train-en", {"intermediate": 0.5, "target": 0.5}, part)
    return train_val(rows, f"{name}-{part}", split)


# ---------------------------------------------------------------- extractive QA
def xquad_part(part: str, split: str, root: Path, lang: str) -> list[dict]:
    rel = "xquad/xquad.en.json"
    rows = readers.read_squad(root / rel)
    rows = keep(rows, "xquad-en-articles", {"squad": 0.5, "qa-target": 0.5}, part, key=lambda i, r: r["title"])
    for r in rows:
        r["id"] = f"{rel}:{r['id']}"
    return train_val(rows, f"xquad-{part}", split)


def mlqa_test(root: Path, lang: str) -> list[dict]:
    rel = f"mlqa/dev-context-{lang}-question-{lang}.json"
    return readers.read_squad(root / rel)


# ---------------------------------------------------------------- retrieval
def tatoeba(split: str, root: Path, lang: str) -> list[dict]:
    base = f"tatoeba/tatoeba.{lang}-eng"
    src = readers.read_lines(root / f"{base}.{lang}")
    tgt = readers.read_lines(root / f"{base}.eng")
    if len(src) != len(tgt):
        raise DataError(f"{base}.{lang} has {len(src)} lines but {base}.eng has {len(tgt)}; line i must translate line i",
                        "use unmodified copies of both Tatoeba files")
    rows = [{"id": f"{base}:{i + 1}", "source": s, "target": t} for i, (s, t) in enumerate(zip(src, tgt))]
    return keep(rows, f"tatoeba-{lang}", {"lexicon": 0.2, "test": 0.8}, split)


# ---------------------------------------------------------------- fetched only
def hellaswag_file(root: Path, rel: str) -> list[dict]:
    path = root / rel
    rows = []
    for r in readers.read_jsonl(path):
        try:
            rows.append({"id": f"{rel}:{r['_line']}", "context": r["ctx"], "question": "", "choices": list(r["endings"]),
                         "label": choice_label(r["label"], len(r["endings"]), path, r["_line"])})
        except (KeyError, ValueError, TypeError) as e:
            raise DataError(f"malformed data in {path}:{r['_line']}: bad or missing field ({e})",
                            "re-create it with `modxfer data fetch hellaswag`") from None
    return rows


def hellaswag(split: str, root: Path, lang: str) -> list[dict]:
    return train_val(hellaswag_file(root, "en_intermediate/hellaswag/validation.jsonl"), "hellaswag", split)


