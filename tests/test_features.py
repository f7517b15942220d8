"""Tagging features: each predicted tag lands on its own word, whatever the tokenizer does to the words before it."""

from types import SimpleNamespace

import torch

from modxfer.model.features import featurize
from modxfer.model.modeling import backbone, decode
from modxfer.tasks import get_task


def test_a_word_without_subwords_does_not_shift_the_tags_after_it():
    # A tokenizer may give a word no sub-word of its own (a normaliser that drops it); here word 1 has none.
    task = get_task("panx")
    b, o = task.labels.index("B-LOC"), task.labels.index("O")
    feat = {"input_ids": [0, 10, 11, 12, 13, 2], "labels": [-100, b, b, o, b, -100], "word_starts": [1, 2, 3, 4],
            "word_index": [0, 2, 3, 4], "n_words": 5}
    logits = torch.full((1, 6, len(task.labels)), -5.0)
    for pos, lab in enumerate(feat["labels"]):
        if lab != -100:
            logits[0, pos, lab] = 5.0
    (tags,) = decode(task, SimpleNamespace(logits=logits), [feat])
    assert tags == ["B-LOC", task.labels[0], "B-LOC", "O", "B-LOC"]


def test_features_record_the_word_of_each_start(tiny_base):
    task = get_task("panx")
    row = {"id": "x:1", "tokens": ["Paris", "und", "Berlin"], "tags": ["B-LOC", "O", "B-LOC"]}
    (feat,) = featurize(task, [row], backbone(tiny_base).tokenizer, 64)
    assert feat["word_index"] == [0, 1, 2] and len(feat["word_starts"]) == 3


def test_truncated_words_get_the_first_label(tiny_base):
    task = get_task("panx")
    tok = backbone(tiny_base).tokenizer
    row = {"id": "x:2", "tokens": ["Paris"] * 40, "tags": ["B-LOC"] * 40}
    (feat,) = featurize(task, [row], tok, 16)
    logits = torch.zeros((1, len(feat["input_ids"]), len(task.labels)))
    logits[..., task.labels.index("B-LOC")] = 1.0
    (tags,) = decode(task, SimpleNamespace(logits=logits), [feat])
    kept = len(feat["word_starts"])
    assert 0 < kept < 40 and tags == ["B-LOC"] * kept + [task.labels[0]] * (40 - kept)
