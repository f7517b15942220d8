"""The Hub conversion, tested offline: rows in each Hub dataset's schema (rebuilt here from the local files) go
through ``fetch`` and come back through the registry identical to the local data."""

import json

import pytest

from modxfer.tasks import get_task
from modxfer.tasks.fetch import fetch
from modxfer.tasks.registry import NER, NLI_LABELS, UPOS
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


# --------------------------------------------------------------------------- the XTREME-R targets fetched online

import io
import tarfile

import xtreme_r_files as F
from modxfer.errors import DataError, ModxferError
from modxfer.tasks.base import PROFILE_FILE, cached_rows, data_profile


def _tar(path, members: dict[str, bytes], mode: str):
    with tarfile.open(path, mode) as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


class _Sources:
    """Hub datasets and files in their real formats, built from a source directory of small files."""

    def __init__(self, src, tmp):
        self.src, self.tmp, self.urls = src, tmp, []

    def load(self, path, config, split):
        if path == "google/xquad":
            return readers.read_squad(self.src / f"xquad/xquad.{config.split('.')[1]}.json")
        if path == "rajpurkar/squad":
            return readers.read_squad(self.src / "squad/train-v1.1.json")
        if path == "google-research-datasets/tydiqa":
            files = ["train-en.json"] if split == "train" else ["dev-en.json", "dev-ar.json"]
            return [r for f in files for r in readers.read_squad(self.src / "tydiqa" / f)]
        raise AssertionError(f"unexpected Hub request {path} {config} {split}")

    def download(self, url):
        self.urls.append(url)
        if "bucc2018" in url:  # bucc2018-de-en.training-gold.tar.bz2: bucc2018/de-en/de-en.training.{de,en,gold}
            kind = "training" if "training" in url else "sample"
            ours = "test" if kind == "training" else "dev"
            members = {f"bucc2018/de-en/de-en.{kind}.{ext}": (self.src / f"bucc2018/de-en.{ours}.{ext}").read_bytes()
                       for ext in ("de", "en", "gold")}
            return _tar(self.tmp / url.rsplit("/", 1)[1], members, "w:bz2")
        if "lareqa" in url:
            return self.src / "lareqa/xquad-r" / url.rsplit("/", 1)[1]
        if url.endswith("candidate_entities.jsonl.tar.gz"):
            data = (self.src / "mewslix/candidate_set_entities.jsonl").read_bytes()
            return _tar(self.tmp / "cands.tar.gz", {"candidate_entities.jsonl": data}, "w:gz")
        if "/wikinews_mentions/" in url:  # .../wikinews_mentions/LANG/SPLIT.jsonl, one mention per line (unnested)
            lang, split = url.split("/")[-2], url.split("/")[-1].split(".")[0]
            out = self.tmp / f"{split}-{lang}.unnested.jsonl"
            lines = []
            for line in (self.src / f"mewslix/wikinews_mentions/{split}-{lang}.jsonl").read_text().splitlines():
                doc = json.loads(line)
                lines += [json.dumps({"context": doc["context"], "mention": m}) for m in doc["mentions"]]
            out.write_text("\n".join(lines) + "\n", encoding="utf-8")
            return out
        raise AssertionError(f"unexpected download {url}")


@pytest.fixture()
def source(tmp_path):
    src = tmp_path / "source"
    F.mark_paper(src)
    for write in (F.squad_train, F.xquad, F.tydiqa, F.bucc, F.lareqa, F.mewslix):
        write(src)
    return src


@pytest.mark.parametrize("task,langs,profile,check", [
    ("xquad", ["de", "en"], "paper", [("test", "de"), ("train", "en"), ("validation", "en")]),
    ("tydiqa", ["ar", "en"], None, [("test", "ar"), ("test", "en"), ("train", "en")]),
    ("bucc", ["de"], None, [("test", "de"), ("calibration", "de")]),
    ("lareqa", ["all"], "paper", [("test", "th"), ("candidates", "en")]),
    ("mewslix", ["de", "en"], None, [("test", "de"), ("candidates", "en")]),
])
def test_fetch_new_targets_round_trip(source, tmp_path, task, langs, profile, check):
    cached_rows.cache_clear()
    sources = _Sources(source, tmp_path)
    out = tmp_path / "out"
    written = fetch(task, out, langs, load=sources.load, download=sources.download, profile=profile)
    assert written and all(p.is_file() for p in written)
    assert data_profile(out) == (profile or "offline")
    t = get_task(task)
    assert t.available(out) and set(t.languages(out)) == set(langs if langs != ["all"] else t.official_languages)
    protocol = t.protocol(out)  # the fetched directory's profile, read from the source files for comparison
    for split, lang in check:
        assert t.rows(split, lang, data_dir=out) == protocol.loaders[split](source, lang), (task, split, lang)
    if task == "bucc":
        assert sources.urls == ["https://comparable.limsi.fr/bucc2018/bucc2018-de-en.training-gold.tar.bz2",
                                "https://comparable.limsi.fr/bucc2018/bucc2018-de-en.sample-gold.tar.bz2"]


def test_fetch_new_target_errors(source, tmp_path, data_dir):
    sources = _Sources(source, tmp_path)
    with pytest.raises(DataError, match="XQuAD evaluation needs SQuAD v1.1 train"):
        fetch("xquad", tmp_path / "offline", ["de"], load=sources.load, download=sources.download)
    with pytest.raises(DataError, match="has no language 'xx'"):
        fetch("tydiqa", tmp_path / "t", ["xx"], load=sources.load, download=sources.download)
    with pytest.raises(ModxferError, match="say which languages of 'bucc'") as e:
        fetch("bucc", tmp_path / "b", [], load=sources.load, download=sources.download)
    assert "--languages all (de, fr, ru, zh)" in e.value.fix
    broken = tmp_path / "broken.tar.bz2"
    _tar(broken, {"bucc2018/de-en/de-en.training.de": b"de-1\tx\n"}, "w:bz2")
    with pytest.raises(DataError, match="lacks en, gold"):
        fetch("bucc", tmp_path / "b", ["de"], load=sources.load, download=lambda url: broken)


# --------------------------------------------------------------------------- the paper profile


def _paper_hub(data_dir):
    """load(path, config, split) serving the paper profile's Hub requests, in each dataset's schema, from local files
    (slices of the shared dev sets stand in for the full training splits)."""
    from modxfer import languages

    def nli(rel, lo, hi):
        return [{"premise": r["premise"], "hypothesis": r["hypothesis"], "label": NLI_LABELS.index(r["label"])}
                for r in readers.read_jsonl(data_dir / rel)[lo:hi] if r["label"] in NLI_LABELS]

    def conll(rel, lo=0, hi=None, tags="ner_tags", names=NER):
        return [{"tokens": t, tags: [names.index(x) for x in g]} for _, t, g in readers.read_conll(data_dir / rel)[lo:hi]]

    def pairs(rel, lo=0, hi=None):
        return [{"sentence1": a, "sentence2": b, "label": int(l)} for _, (a, b, l) in readers.read_tsv(data_dir / rel, 3, "")[lo:hi]]

    half = {"train": (0, 300), "validation": (300, 400), "validation_matched": (300, 400), "dev": (300, 400)}

    def load(path, config, split):
        lo, hi = half.get(split.split("_r")[0], (0, None))
        if path == "nyu-mll/glue" and config == "mnli":
            return nli("en_intermediate/mnli/dev_matched.jsonl", lo, hi)
        if path == "stanfordnlp/snli":
            return nli("en_intermediate/snli/dev.jsonl", lo, hi)
        if path == "facebook/anli":
            return nli("en_intermediate/anli/test_r1r2r3.jsonl", lo // 3, hi // 3)
        if path == "nyu-mll/glue" and config == "qqp":
            obj = readers.read_json(data_dir / "en_intermediate/qqp/glue_pretrain_dev.json")
            return [{"question1": r["text_a"], "question2": r["text_b"], "label": int(r["label"])} for r in list(obj.values())[lo:hi]]
        if path == "allenai/cosmos_qa":
            return [{k: r[k] for k in ("id", "context", "question", "answer0", "answer1", "answer2", "answer3")} | {"label": int(r["label"])}
                    for r in readers.read_csv(data_dir / "en_intermediate/cosmosqa/valid.csv", [])[lo:hi]]
        if path == "allenai/social_i_qa":
            return [{**{k: r[k] for k in ("context", "question", "answerA", "answerB", "answerC")}, "label": str("ABC".index(r["correct"]) + 1)}
                    for r in readers.read_jsonl(data_dir / "en_intermediate/siqa/socialIQa_v1.4_dev.jsonl")[lo:hi]]
        if path == "tau/commonsense_qa":
            return readers.read_jsonl(data_dir / "en_intermediate/commonsenseqa/dev_rand_split.hf_format.jsonl")[lo:hi]
        if path == "Rowan/hellaswag":
            return [{"ctx": f"A man {i} is", "activity_label": "x", "endings": ["a", "b", "c", "d"], "label": str(i % 4)}
                    for i in range(lo, hi)]
        if path == "rajpurkar/squad":
            return readers.read_squad(data_dir / "xquad/xquad.en.json")
        if path == "google/xtreme" and config.startswith("udpos."):
            lang = next(l for l in ("en", "es", "ja") if languages.get(l).name == config.split(".", 1)[1])
            if split == "test":
                return conll(f"udpos/dev-{lang}.tsv", tags="pos_tags", names=UPOS)
            return conll("udpos/train-en.tsv", 0, 400, "pos_tags", UPOS) if split == "train" else conll("udpos/dev-en.tsv", 0, 100, "pos_tags", UPOS)
        if path == "google/xtreme" and config.startswith("PAN-X."):
            lang = config.split(".")[1]
            if split == "test":
                return conll(f"panx/dev-{lang}.tsv", 0, 200)
            return conll("panx/train-en.tsv", 0, 400) if split == "train" else conll("panx/dev-en.tsv", 0, 100)
        if path == "facebook/xnli":
            return [{"premise": a, "hypothesis": b, "label": NLI_LABELS.index(l)}
                    for _, (a, b, l) in readers.read_tsv(data_dir / f"xnli/dev-{config}.tsv", 3, "")[:200]]
        if path == "google-research-datasets/paws-x":
            return pairs(f"pawsx/dev-{config}.tsv", 0, 300 if split == "train" else 100)
        if path == "facebook/mlqa":
            lang = config.split(".")[1]
            return readers.read_squad(data_dir / f"mlqa/dev-context-{lang}-question-{lang}.json")
        raise AssertionError(f"unexpected Hub request {path} {config} {split}")

    return load


PAPER_FETCHES = [("mnli", []), ("snli", []), ("anli", []), ("qqp", []), ("cosmosqa", []), ("siqa", []), ("csqa", []),
                 ("hellaswag", []), ("squad", []), ("udpos-en", []), ("panx-en", []), ("xnli", ["de", "en"]),
                 ("pawsx", ["en", "ja"]), ("udpos", ["es", "ja"]), ("panx", ["de"]), ("mlqa", ["de"]), ("xcopa", ["it"])]


def test_paper_profile_round_trip_keeps_every_example_in_one_role(data_dir, tmp_path):
    from test_tasks import check_no_example_in_two_roles, roles_by_task

    cached_rows.cache_clear()
    out = tmp_path / "paper"
    load = _paper_hub(data_dir)

    def both(path, config, split):  # xcopa is the same in both profiles: its offline Hub schema
        return _hub_rows(data_dir)(path, config, split) if path in ("cambridgeltl/xcopa", "aps/super_glue") else load(path, config, split)

    for task, langs in PAPER_FETCHES:
        fetch(task, out, langs, load=both, profile="paper")
    assert data_profile(out) == "paper" and json.loads((out / PROFILE_FILE).read_text()) == {"profile": "paper"}
    # what the paper profile reads: full training splits, official dev sets, XTREME-R test files
    assert {r["id"].split(":")[0] for r in get_task("mnli").rows("train", data_dir=out)} == {"en_intermediate/mnli/train.jsonl"}
    assert get_task("xnli").languages(out) == ("de", "en") and get_task("xnli").partition_for(out).startswith("train: 50% of MNLI train")
    assert get_task("xnli").rows("validation", data_dir=out)[0]["id"] == "xnli/dev-en.tsv:0"
    assert len(get_task("pawsx").rows("train", data_dir=out)) == 300 and get_task("pawsx").languages(out) == ("en", "ja")
    assert get_task("squad").partition_for(out).startswith("50% of SQuAD v1.1 train articles")
    assert get_task("udpos").rows("validation", data_dir=out)[0]["id"].startswith("udpos/dev-en.tsv:")
    by_role = roles_by_task(out)
    assert {"hellaswag", "squad", "mnli"} <= set(by_role["intermediate-training"])
    assert {"xnli", "pawsx", "udpos", "panx", "mlqa", "xcopa"} <= set(by_role["target-training"])
    check_no_example_in_two_roles(by_role)


def test_profiles_never_mix_in_one_directory(data_dir, tmp_path):
    load = _paper_hub(data_dir)
    offline = tmp_path / "offline"
    fetch("mnli", offline, load=_hub_rows(data_dir))
    with pytest.raises(DataError, match="already holds offline-profile data") as e:
        fetch("mnli", offline, load=load, profile="paper")
    assert "empty directory" in e.value.fix
    paper = tmp_path / "paper"
    fetch("mnli", paper, load=load, profile="paper")
    with pytest.raises(DataError, match="holds the paper profile"):
        fetch("siqa", paper, load=_hub_rows(data_dir), profile="offline")
    fetch("siqa", paper, load=load)  # the directory's own profile by default
    assert (paper / "en_intermediate/siqa/socialIQa_v1.4_trn.jsonl").is_file()
    with pytest.raises(DataError, match="no data for the paper profile.*missing: en_intermediate/snli/train.jsonl") as e:
        get_task("snli").rows("train", data_dir=paper)
    assert "modxfer data fetch snli --profile paper" in e.value.fix
    from modxfer.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown data profile 'papers'"):
        fetch("mnli", tmp_path / "x", load=load, profile="papers")
    (paper / PROFILE_FILE).write_text("{}", encoding="utf-8")
    with pytest.raises(DataError, match="does not name a data profile"):
        data_profile(paper)
