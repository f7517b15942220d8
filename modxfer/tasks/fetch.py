"""``modxfer data fetch``: write a task's data from the Hugging Face Hub in the layout the registry reads.

Each converter takes rows in the Hub dataset's schema and writes the same files the offline data directory holds,
so fetched data goes through exactly the loaders (and partitions) that the tests exercise on local files.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Callable, Iterable

from ..errors import DataError, ModxferError
from ..io import atomic_write_text
from .registry import NER, NLI_LABELS, UPOS, get_task

# load(path, config, split) -> iterable of row dicts in the Hub schema
Loader = Callable[[str, str | None, str], Iterable[dict]]


def hub_loader(path: str, config: str | None, split: str) -> Iterable[dict]:
    import datasets

    try:
        return datasets.load_dataset(path, config, split=split)
    except Exception as e:  # network, unknown config, gated dataset: all end the same way for the user
        raise DataError(f"could not download {path} ({config or 'default'}, {split}) from the Hugging Face Hub: "
                        f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}",
                        "check the network and the dataset name, or place the files in the data directory by hand") from None


def _jsonl(rows: Iterable[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def _tsv(rows: Iterable[Iterable]) -> str:
    return "".join("\t".join(str(x).replace("\t", " ").replace("\n", " ") for x in r) + "\n" for r in rows)


def _conll(rows: Iterable[dict], names: tuple[str, ...], tokens="tokens", tags="ner_tags") -> str:
    out = []
    for r in rows:
        for tok, tag in zip(r[tokens], r[tags]):
            out.append(f"{tok}\t{names[tag] if isinstance(tag, int) else tag}\n")
        out.append("\n")
    return "".join(out)


def _squad_json(rows: Iterable[dict]) -> str:
    articles: dict[str, dict[str, list]] = {}
    for r in rows:
        paras = articles.setdefault(r.get("title", ""), {})
        paras.setdefault(r["context"], []).append({
            "id": r["id"], "question": r["question"],
            "answers": [{"text": t, "answer_start": int(s)} for t, s in zip(r["answers"]["text"], r["answers"]["answer_start"])]})
    data = [{"title": t, "paragraphs": [{"context": c, "qas": q} for c, q in p.items()]} for t, p in articles.items()]
    return json.dumps({"version": "1.1", "data": data}, ensure_ascii=False)


def _nli_label(v) -> str:
    return NLI_LABELS[v] if isinstance(v, int) and v >= 0 else ("-" if isinstance(v, int) else str(v))


def _write(root: Path, rel: str, text: str) -> Path:
    return atomic_write_text(root / rel, text)


def _xnli(load, root, lang):
    rows = load("facebook/xnli", lang, "validation")
    return [_write(root, f"xnli/dev-{lang}.tsv", _tsv((r["premise"], r["hypothesis"], _nli_label(r["label"])) for r in rows))]


def _pawsx(load, root, lang):
    rows = load("google-research-datasets/paws-x", lang, "validation")
    return [_write(root, f"pawsx/dev-{lang}.tsv", _tsv((r["sentence1"], r["sentence2"], r["label"]) for r in rows))]


def _xcopa(load, root, lang):
    if lang == "en":
        out = []
        for split, name in (("train", "train-en"), ("validation", "val-en")):
            rows = load("aps/super_glue", "copa", split)
            keep = ("premise", "choice1", "choice2", "question", "label", "idx")
            out.append(_write(root, f"xcopa/en_copa/{name}.jsonl", _jsonl({k: r[k] for k in keep} for r in rows)))
        return out
    rows = load("cambridgeltl/xcopa", lang, "test")
    keep = ("premise", "choice1", "choice2", "question", "label", "idx")
    return [_write(root, f"xcopa/{lang}/test.{lang}.jsonl", _jsonl({k: r[k] for k in keep} for r in rows))]


def _panx(load, root, lang):
    split, name = ("train", "train-en") if lang == "train-en" else ("validation", f"dev-{lang}")
    rows = load("google/xtreme", f"PAN-X.{'en' if lang == 'train-en' else lang}", split)
    return [_write(root, f"panx/{name}.tsv", _conll(rows, NER))]


def _udpos(load, root, lang):
    from .. import languages

    split, name = ("train", "train-en") if lang == "train-en" else ("validation", f"dev-{lang}")
    code = "en" if lang == "train-en" else lang
    rows = load("google/xtreme", f"udpos.{languages.get(code).name}", split)
    return [_write(root, f"udpos/{name}.tsv", _conll(rows, UPOS, tags="pos_tags"))]


def _mlqa(load, root, lang):
    rows = load("facebook/mlqa", f"mlqa.{lang}.{lang}", "validation")
    return [_write(root, f"mlqa/dev-context-{lang}-question-{lang}.json", _squad_json(rows))]


def _tatoeba(load, root, lang):
    rows = list(load("google/xtreme", f"tatoeba.{lang}", "validation"))
    base = f"tatoeba/tatoeba.{lang}-eng"
    return [_write(root, f"{base}.{lang}", "".join(r["source_sentence"].strip() + "\n" for r in rows)),
            _write(root, f"{base}.eng", "".join(r["target_sentence"].strip() + "\n" for r in rows))]


def _mnli(load, root, lang):
    rows = load("nyu-mll/glue", "mnli", "validation_matched")
    return [_write(root, "en_intermediate/mnli/dev_matched.jsonl",
                   _jsonl({"premise": r["premise"], "hypothesis": r["hypothesis"], "label": _nli_label(r["label"])} for r in rows))]


def _snli(load, root, lang):
    rows = load("stanfordnlp/snli", None, "validation")
    return [_write(root, "en_intermediate/snli/dev.jsonl",
                   _jsonl({"premise": r["premise"], "hypothesis": r["hypothesis"], "label": _nli_label(r["label"])} for r in rows))]


def _anli(load, root, lang):
    test = []
    for rnd in ("r1", "r2", "r3"):
        test += [{"premise": r["premise"], "hypothesis": r["hypothesis"], "label": _nli_label(r["label"]),
                  "tag": f"{rnd}_test"} for r in load("facebook/anli", None, f"test_{rnd}")]
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["context", "statement", "gold_label"])
    for r in load("facebook/anli", None, "dev_r1"):
        w.writerow([r["premise"], r["hypothesis"], "enc"[r["label"]]])
    return [_write(root, "en_intermediate/anli/test_r1r2r3.jsonl", _jsonl(test)),
            _write(root, "en_intermediate/anli/ANLI_analysis_r1_dev.csv", buf.getvalue())]


def _qqp(load, root, lang):
    rows = load("nyu-mll/glue", "qqp", "validation")
    obj = {str(i): {"text_a": r["question1"], "text_b": r["question2"], "label": str(r["label"])} for i, r in enumerate(rows)}
    return [_write(root, "en_intermediate/qqp/glue_pretrain_dev.json", json.dumps(obj, ensure_ascii=False, indent=1))]


def _cosmosqa(load, root, lang):
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["id", "context", "question", "answer0", "answer1", "answer2", "answer3", "label"])
    for r in load("allenai/cosmos_qa", None, "validation"):
        w.writerow([r["id"], r["context"], r["question"], r["answer0"], r["answer1"], r["answer2"], r["answer3"], r["label"]])
    return [_write(root, "en_intermediate/cosmosqa/valid.csv", buf.getvalue())]


def _siqa(load, root, lang):
    rows = load("allenai/social_i_qa", None, "validation")
    return [_write(root, "en_intermediate/siqa/socialIQa_v1.4_dev.jsonl", _jsonl(
        {"context": r["context"], "question": r["question"], "answerA": r["answerA"], "answerB": r["answerB"],
         "answerC": r["answerC"], "correct": "ABC"[int(r["label"]) - 1]} for r in rows))]


def _csqa(load, root, lang):
    rows = load("tau/commonsense_qa", None, "validation")
    return [_write(root, "en_intermediate/commonsenseqa/dev_rand_split.hf_format.jsonl", _jsonl(
        {"id": r["id"], "question": r["question"], "choices": {"label": list(r["choices"]["label"]), "text": list(r["choices"]["text"])},
         "answerKey": r["answerKey"]} for r in rows))]


def _squad(load, root, lang):
    rows = load("google/xquad", "xquad.en", "validation")
    return [_write(root, "xquad/xquad.en.json", _squad_json(rows))]


def _hellaswag(load, root, lang):
    rows = load("Rowan/hellaswag", None, "validation")
    return [_write(root, "en_intermediate/hellaswag/validation.jsonl", _jsonl(
        {"ctx": r["ctx"], "activity_label": r["activity_label"], "endings": list(r["endings"]), "label": int(r["label"])}
        for r in rows))]


CONVERTERS: dict[str, Callable] = {
    "xnli": _xnli, "pawsx": _pawsx, "xcopa": _xcopa, "panx": _panx, "udpos": _udpos, "mlqa": _mlqa,
    "tatoeba": _tatoeba, "mnli": _mnli, "snli": _snli, "anli": _anli, "qqp": _qqp, "cosmosqa": _cosmosqa,
    "siqa": _siqa, "csqa": _csqa, "squad": _squad, "hellaswag": _hellaswag,
    "udpos-en": _udpos, "panx-en": _panx,
}
# What each fetch writes besides per-language test files (the English training data the registry partitions).
ENGLISH_FILES = {"panx": ["train-en"], "udpos": ["train-en"], "xcopa": ["en"], "panx-en": ["train-en"],
                 "udpos-en": ["train-en"]}


def fetch(task_name: str, data_dir: str | Path, languages: Iterable[str] = (), load: Loader = hub_loader) -> list[Path]:
    """Download ``task_name`` (and, for targets, the given languages) into ``data_dir``; returns files written."""
    task = get_task(task_name)
    if task.name not in CONVERTERS:
        raise ModxferError(f"task {task.name!r} cannot be fetched: {task.description}",
                           "obtain the data under its license and place it in the data directory")
    convert = CONVERTERS[task.name]
    root = Path(data_dir)
    langs = list(languages)
    if task.role == "target" and task.name not in ("udpos", "panx", "xcopa") and not langs:
        raise ModxferError(f"say which languages of {task.name!r} to fetch", "pass --languages de,fr,... ")
    written: list[Path] = []
    for extra in ENGLISH_FILES.get(task.name, []):
        written += convert(load, root, extra)
    for lang in (langs if task.role == "target" else [None]):
        if lang is None and task.name in ENGLISH_FILES:
            continue
        written += convert(load, root, lang)
    return written
