"""Converters for the paper profile (``modxfer data fetch NAME --profile paper``): full training splits, official dev
splits and XTREME-R test splits, written in the layout ``paper.py`` reads. Each takes (sources, data directory,
language) and returns the files it wrote; tasks without an entry here are fetched as in the offline profile."""

from __future__ import annotations

import csv
import io
from typing import Callable

from .formats import conll, jsonl, nli_label, squad_json, tsv, write
from .loaders import NER, UPOS
from .paper import MNLI_DEV, MNLI_TRAIN, SQUAD_TRAIN

EN = "en_intermediate"


def _nli(rows):
    return jsonl({"premise": r["premise"], "hypothesis": r["hypothesis"], "label": nli_label(r["label"])} for r in rows)


def _mnli(src, root, lang):
    return [write(root, MNLI_TRAIN, _nli(src.load("nyu-mll/glue", "mnli", "train"))),
            write(root, MNLI_DEV, _nli(src.load("nyu-mll/glue", "mnli", "validation_matched")))]


def _snli(src, root, lang):
    return [write(root, f"{EN}/snli/{name}.jsonl", _nli(src.load("stanfordnlp/snli", None, split)))
            for split, name in (("train", "train"), ("validation", "dev"))]


def _anli(src, root, lang):
    out = []
    for split, name in (("train", "train"), ("dev", "dev")):
        rows = [{"premise": r["premise"], "hypothesis": r["hypothesis"], "label": nli_label(r["label"]), "tag": f"{rnd}_{split}"}
                for rnd in ("r1", "r2", "r3") for r in src.load("facebook/anli", None, f"{split}_{rnd}")]
        out.append(write(root, f"{EN}/anli/{name}_r1r2r3.jsonl", jsonl(rows)))
    return out


def _qqp(src, root, lang):
    return [write(root, f"{EN}/qqp/{name}.jsonl", jsonl(
        {"text_a": r["question1"], "text_b": r["question2"], "label": str(r["label"])}
        for r in src.load("nyu-mll/glue", "qqp", split))) for split, name in (("train", "train"), ("validation", "dev"))]


def _cosmosqa(src, root, lang):
    out = []
    for split, name in (("train", "train"), ("validation", "valid")):
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(["id", "context", "question", "answer0", "answer1", "answer2", "answer3", "label"])
        for r in src.load("allenai/cosmos_qa", None, split):
            w.writerow([r["id"], r["context"], r["question"], r["answer0"], r["answer1"], r["answer2"], r["answer3"],
                        r["label"]])
        out.append(write(root, f"{EN}/cosmosqa/{name}.csv", buf.getvalue()))
    return out


def _siqa(src, root, lang):
    return [write(root, f"{EN}/siqa/socialIQa_v1.4_{name}.jsonl", jsonl(
        {"context": r["context"], "question": r["question"], "answerA": r["answerA"], "answerB": r["answerB"],
         "answerC": r["answerC"], "correct": "ABC"[int(r["label"]) - 1]} for r in src.load("allenai/social_i_qa", None, split)))
        for split, name in (("train", "trn"), ("validation", "dev"))]


def _csqa(src, root, lang):
    return [write(root, f"{EN}/commonsenseqa/{name}_rand_split.hf_format.jsonl", jsonl(
        {"id": r["id"], "question": r["question"], "answerKey": r["answerKey"],
         "choices": {"label": list(r["choices"]["label"]), "text": list(r["choices"]["text"])}}
        for r in src.load("tau/commonsense_qa", None, split))) for split, name in (("train", "train"), ("validation", "dev"))]


def _hellaswag(src, root, lang):
    return [write(root, f"{EN}/hellaswag/{split}.jsonl", jsonl(
        {"ctx": r["ctx"], "activity_label": r["activity_label"], "endings": list(r["endings"]), "label": int(r["label"])}
        for r in src.load("Rowan/hellaswag", None, split))) for split in ("train", "validation")]


def squad_rows(src, root, lang):
    return [write(root, SQUAD_TRAIN, squad_json(src.load("rajpurkar/squad", None, "train")))]


def _tagging(name: str, labels, hub_config: Callable[[str], str], tags: str):
    def convert(src, root, lang):
        if lang == "en-files":  # the English training and model-selection data
            return [write(root, f"{name}/{out}-en.tsv", conll(src.load("google/xtreme", hub_config("en"), split), labels, tags=tags))
                    for split, out in (("train", "train"), ("validation", "dev"))]
        return [write(root, f"{name}/test-{lang}.tsv", conll(src.load("google/xtreme", hub_config(lang), "test"), labels, tags=tags))]
    return convert


def _udpos_config(lang: str) -> str:
    from .. import languages

    return f"udpos.{languages.get(lang).name}"


def _xnli(src, root, lang):
    if lang == "en-files":
        rows = src.load("facebook/xnli", "en", "validation")
        return _mnli(src, root, None) + [write(root, "xnli/dev-en.tsv", tsv(
            (r["premise"], r["hypothesis"], nli_label(r["label"])) for r in rows))]
    rows = src.load("facebook/xnli", lang, "test")
    return [write(root, f"xnli/test-{lang}.tsv", tsv((r["premise"], r["hypothesis"], nli_label(r["label"])) for r in rows))]


def _pawsx(src, root, lang):
    def one(split, name, code):
        rows = src.load("google-research-datasets/paws-x", code, split)
        return write(root, f"pawsx/{name}-{code}.tsv", tsv((r["sentence1"], r["sentence2"], r["label"]) for r in rows))
    if lang == "en-files":
        return [one("train", "train", "en"), one("validation", "dev", "en")]
    return [one("test", "test", lang)]


def _mlqa(src, root, lang):
    if lang == "en-files":
        return squad_rows(src, root, None)
    rows = src.load("facebook/mlqa", f"mlqa.{lang}.{lang}", "test")
    return [write(root, f"mlqa/test-context-{lang}-question-{lang}.json", squad_json(rows))]


PAPER_CONVERTERS: dict[str, Callable] = {
    "mnli": _mnli, "snli": _snli, "anli": _anli, "qqp": _qqp, "cosmosqa": _cosmosqa, "siqa": _siqa, "csqa": _csqa,
    "hellaswag": _hellaswag, "squad": squad_rows, "xnli": _xnli, "pawsx": _pawsx, "mlqa": _mlqa,
    "udpos": _tagging("udpos", UPOS, _udpos_config, "pos_tags"), "panx": _tagging("panx", NER, lambda l: f"PAN-X.{l}", "ner_tags"),
}
PAPER_CONVERTERS["udpos-en"], PAPER_CONVERTERS["panx-en"] = PAPER_CONVERTERS["udpos"], PAPER_CONVERTERS["panx"]
# Targets whose English training/model-selection files come with every fetch (the converter is called with "en-files").
PAPER_ENGLISH = {"xnli", "pawsx", "mlqa", "udpos", "panx", "udpos-en", "panx-en"}
