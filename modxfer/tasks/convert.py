"""Converters for the offline profile: Hub rows -> the files the shared data directory holds (dev sets standing in
for training data). Each takes (sources, data directory, language) and returns the files it wrote."""

from __future__ import annotations

import csv
import io
import json
from typing import Callable

from .formats import conll, jsonl, nli_label, squad_json, tsv, write
from .loaders import NER, UPOS


def _xnli(src, root, lang):
    rows = src.load("facebook/xnli", lang, "validation")
    return [write(root, f"xnli/dev-{lang}.tsv", tsv((r["premise"], r["hypothesis"], nli_label(r["label"])) for r in rows))]


def _pawsx(src, root, lang):
    rows = src.load("google-research-datasets/paws-x", lang, "validation")
    return [write(root, f"pawsx/dev-{lang}.tsv", tsv((r["sentence1"], r["sentence2"], r["label"]) for r in rows))]


def _xcopa(src, root, lang):
    if lang == "en":
        out = []
        for split, name in (("train", "train-en"), ("validation", "val-en")):
            rows = src.load("aps/super_glue", "copa", split)
            keep = ("premise", "choice1", "choice2", "question", "label", "idx")
            out.append(write(root, f"xcopa/en_copa/{name}.jsonl", jsonl({k: r[k] for k in keep} for r in rows)))
        return out
    rows = src.load("cambridgeltl/xcopa", lang, "test")
    keep = ("premise", "choice1", "choice2", "question", "label", "idx")
    return [write(root, f"xcopa/{lang}/test.{lang}.jsonl", jsonl({k: r[k] for k in keep} for r in rows))]


def _panx(src, root, lang):
    split, name = ("train", "train-en") if lang == "train-en" else ("validation", f"dev-{lang}")
    rows = src.load("google/xtreme", f"PAN-X.{'en' if lang == 'train-en' else lang}", split)
    return [write(root, f"panx/{name}.tsv", conll(rows, NER))]


def _udpos(src, root, lang):
    from .. import languages

    split, name = ("train", "train-en") if lang == "train-en" else ("validation", f"dev-{lang}")
    code = "en" if lang == "train-en" else lang
    rows = src.load("google/xtreme", f"udpos.{languages.get(code).name}", split)
    return [write(root, f"udpos/{name}.tsv", conll(rows, UPOS, tags="pos_tags"))]


def _mlqa(src, root, lang):
    rows = src.load("facebook/mlqa", f"mlqa.{lang}.{lang}", "validation")
    return [write(root, f"mlqa/dev-context-{lang}-question-{lang}.json", squad_json(rows))]


def _tatoeba(src, root, lang):
    rows = list(src.load("google/xtreme", f"tatoeba.{lang}", "validation"))
    base = f"tatoeba/tatoeba.{lang}-eng"
    return [write(root, f"{base}.{lang}", "".join(r["source_sentence"].strip() + "\n" for r in rows)),
            write(root, f"{base}.eng", "".join(r["target_sentence"].strip() + "\n" for r in rows))]


def _mnli(src, root, lang):
    rows = src.load("nyu-mll/glue", "mnli", "validation_matched")
    return [write(root, "en_intermediate/mnli/dev_matched.jsonl",
                   jsonl({"premise": r["premise"], "hypothesis": r["hypothesis"], "label": nli_label(r["label"])} for r in rows))]


def _snli(src, root, lang):
    rows = src.load("stanfordnlp/snli", None, "validation")
    return [write(root, "en_intermediate/snli/dev.jsonl",
                   jsonl({"premise": r["premise"], "hypothesis": r["hypothesis"], "label": nli_label(r["label"])} for r in rows))]


def _anli(src, root, lang):
    test = []
    for rnd in ("r1", "r2", "r3"):
        test += [{"premise": r["premise"], "hypothesis": r["hypothesis"], "label": nli_label(r["label"]),
                  "tag": f"{rnd}_test"} for r in src.load("facebook/anli", None, f"test_{rnd}")]
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["context", "statement", "gold_label"])
    for r in src.load("facebook/anli", None, "dev_r1"):
        w.writerow([r["premise"], r["hypothesis"], "enc"[r["label"]]])
    return [write(root, "en_intermediate/anli/test_r1r2r3.jsonl", jsonl(test)),
            write(root, "en_intermediate/anli/ANLI_analysis_r1_dev.csv", buf.getvalue())]


def _qqp(src, root, lang):
    rows = src.load("nyu-mll/glue", "qqp", "validation")
    obj = {str(i): {"text_a": r["question1"], "text_b": r["question2"], "label": str(r["label"])} for i, r in enumerate(rows)}
    return [write(root, "en_intermediate/qqp/glue_pretrain_dev.json", json.dumps(obj, ensure_ascii=False, indent=1))]


def _cosmosqa(src, root, lang):
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["id", "context", "question", "answer0", "answer1", "answer2", "answer3", "label"])
    for r in src.load("allenai/cosmos_qa", None, "validation"):
        w.writerow([r["id"], r["context"], r["question"], r["answer0"], r["answer1"], r["answer2"], r["answer3"], r["label"]])
    return [write(root, "en_intermediate/cosmosqa/valid.csv", buf.getvalue())]


def _siqa(src, root, lang):
    rows = src.load("allenai/social_i_qa", None, "validation")
    return [write(root, "en_intermediate/siqa/socialIQa_v1.4_dev.jsonl", jsonl(
        {"context": r["context"], "question": r["question"], "answerA": r["answerA"], "answerB": r["answerB"],
         "answerC": r["answerC"], "correct": "ABC"[int(r["label"]) - 1]} for r in rows))]


def _csqa(src, root, lang):
    rows = src.load("tau/commonsense_qa", None, "validation")
    return [write(root, "en_intermediate/commonsenseqa/dev_rand_split.hf_format.jsonl", jsonl(
        {"id": r["id"], "question": r["question"], "choices": {"label": list(r["choices"]["label"]), "text": list(r["choices"]["text"])},
         "answerKey": r["answerKey"]} for r in rows))]


def squad_rows(src, root, lang):
    rows = src.load("google/xquad", "xquad.en", "validation")
    return [write(root, "xquad/xquad.en.json", squad_json(rows))]


def _hellaswag(src, root, lang):
    rows = src.load("Rowan/hellaswag", None, "validation")
    return [write(root, "en_intermediate/hellaswag/validation.jsonl", jsonl(
        {"ctx": r["ctx"], "activity_label": r["activity_label"], "endings": list(r["endings"]), "label": int(r["label"])}
        for r in rows))]


CONVERTERS: dict[str, Callable] = {
    "xnli": _xnli, "pawsx": _pawsx, "xcopa": _xcopa, "panx": _panx, "udpos": _udpos, "mlqa": _mlqa,
    "tatoeba": _tatoeba, "mnli": _mnli, "snli": _snli, "anli": _anli, "qqp": _qqp, "cosmosqa": _cosmosqa,
    "siqa": _siqa, "csqa": _csqa, "squad": squad_rows, "hellaswag": _hellaswag,
    "udpos-en": _udpos, "panx-en": _panx,
}
# What each fetch writes besides per-language test files (the English training data the registry partitions).
ENGLISH_FILES = {"panx": ["train-en"], "udpos": ["train-en"], "xcopa": ["en"], "panx-en": ["train-en"],
                 "udpos-en": ["train-en"]}


