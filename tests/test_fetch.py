"""The Hub conversion, tested offline: rows in each Hub dataset's schema (rebuilt here from the local files) go
through ``fetch`` and come back through the registry identical to the local data."""

import json

import pytest

from modxfer.tasks import get_task
from modxfer.tasks.fetch import fetch
from modxfer.tasks.registry import NER, NLI_LABELS
from modxfer.tasks import readers


def _hub_rows(data_dir):
    """load(path, config, split) serving local files in the Hub schema of each dataset."""

    def load(path, config, split):
        if path == "facebook/xnli":
            return [{"premise": a, "hypothesis": b, "label": NLI_LABELS.index(l)}
                    for _, (a, b, l) in readers.read_tsv(data_dir / f"xnli/dev-{config}.tsv", 3, "")]
        if path == "google-research-datasets/paws-x":
            return [{"sentence1": a, "sentence2": b, "label": int(l)}
                    for _, (a, b, l) in readers.read_tsv(data_dir / f"pawsx/dev-{config}.tsv", 3, "")]
        if path == "google/xtreme" and config.startswith("PAN-X."):
            lang = config.split(".")[1]
            name = "train-en" if split == "train" else f"dev-{lang}"
            return [{"tokens": t, "ner_tags": [NER.index(x) for x in g]}
                    for _, t, g in readers.read_conll(data_dir / f"panx/{name}.tsv")]
        if path == "facebook/mlqa":
            lang = config.split(".")[1]
            return readers.read_squad(data_dir / f"mlqa/dev-context-{lang}-question-{lang}.json")
        if path == "google/xtreme" and config.startswith("tatoeba."):
            lang = config.split(".")[1]
            src = readers.read_lines(data_dir / f"tatoeba/tatoeba.{lang}-eng.{lang}")
            tgt = readers.read_lines(data_dir / f"tatoeba/tatoeba.{lang}-eng.eng")
            return [{"source_sentence": s, "target_sentence": t} for s, t in zip(src, tgt)]
        if path == "nyu-mll/glue" and config == "mnli":
            return [{"premise": r["premise"], "hypothesis": r["hypothesis"], "label": NLI_LABELS.index(r["label"])}
                    for r in readers.read_jsonl(data_dir / "en_intermediate/mnli/dev_matched.jsonl")]
        if path == "allenai/social_i_qa":
            return [{**{k: r[k] for k in ("context", "question", "answerA", "answerB", "answerC")},
                     "label": str("ABC".index(r["correct"]) + 1)}
                    for r in readers.read_jsonl(data_dir / "en_intermediate/siqa/socialIQa_v1.4_dev.jsonl")]
        if path == "cambridgeltl/xcopa":
            return readers.read_jsonl(data_dir / f"xcopa/{config}/test.{config}.jsonl")
        if path == "aps/super_glue":
            name = "train-en" if split == "train" else "val-en"
            return readers.read_jsonl(data_dir / f"xcopa/en_copa/{name}.jsonl")
        raise AssertionError(f"unexpected Hub request {path} {config} {split}")

    return load


@pytest.mark.parametrize("task,langs,check", [
    ("xnli", ["de", "zh"], [("test", "de"), ("test", "zh")]),
    ("pawsx", ["en", "ja"], [("test", "ja"), ("train", "en")]),
    ("panx", ["de"], [("test", "de"), ("train", "en")]),
    ("mlqa", ["zh"], [("test", "zh")]),
    ("tatoeba", ["deu"], [("test", "deu"), ("lexicon", "deu")]),
    ("mnli", [], [("train", "en"), ("validation", "en")]),
    ("siqa", [], [("train", "en")]),
    ("xcopa", ["it"], [("test", "it"), ("train", "en"), ("test", "en")]),
])
def test_fetch_writes_what_the_registry_reads(data_dir, tmp_path, task, langs, check):
    written = fetch(task, tmp_path, langs, load=_hub_rows(data_dir))
    assert written and all(p.is_file() for p in written)
    t = get_task(task)
    for split, lang in check:
        ours = t.rows(split, lang, data_dir=tmp_path)
        theirs = t.rows(split, lang, data_dir=data_dir)
        strip = (lambda r: {k: v for k, v in r.items() if k != "id"}) if task == "mlqa" else (lambda r: r)
        assert [strip(r) for r in ours] == [strip(r) for r in theirs], (task, split, lang)


def test_fetch_errors(tmp_path):
    from modxfer.errors import ModxferError

    with pytest.raises(ModxferError, match="cannot be fetched"):
        fetch("ccg", tmp_path)
    with pytest.raises(ModxferError, match="say which languages"):
        fetch("xnli", tmp_path, [], load=lambda *a: [])


def test_hellaswag_loads_once_fetched(tmp_path, data_dir):
    rows = [{"ctx": f"A man {i} is", "activity_label": "x", "endings": ["a", "b", "c", "d"], "label": i % 4}
            for i in range(20)]
    fetch("hellaswag", tmp_path, load=lambda *a: rows)
    t = get_task("hellaswag")
    assert t.available(tmp_path) and not t.available(data_dir)
    got = t.rows("train", data_dir=tmp_path) + t.rows("validation", data_dir=tmp_path)
    assert sorted(r["context"] for r in got) == sorted(r["ctx"] for r in rows)
    assert all(len(r["choices"]) == 4 for r in got)
