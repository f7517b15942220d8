"""Every task modxfer knows: English intermediate tasks and XTREME-R targets, with their data partitions.

Partitions (files that serve two roles are split by hash rank, see ``partition.py``; salts are fixed here):
- MNLI ``dev_matched``: rows split 50/50 into the MNLI intermediate task and XNLI's English training data.
- XQuAD English: articles split 50/50 into the SQuAD intermediate task and the QA target's English training data
  (MLQA, parallel across its languages, is evaluation only).
- UD-POS and PAN-X ``train-en``: sentences split 50/50 into the intermediate task (``udpos-en``, ``panx-en``) and the
  tagging target's English training data.
- PAWS-X ``dev-XX`` files are line-parallel: line indices split 45/5/50 into train/validation (English) and the test
  lines evaluated in every language.
- Tatoeba: per language, 20% of pairs induce the code-switching lexicon (``lexicon`` split), 80% are evaluated.
- Within each training partition, 10% of examples (by hash rank) form the English ``validation`` split.
- XCOPA trains on English COPA ``train-en`` (400); its English score uses COPA ``val-en`` (``test-en`` has no labels).
"""

from __future__ import annotations

import difflib
from functools import partial
from pathlib import Path

from ..errors import DataError, UnknownTaskError
from . import readers
from .base import HubSource, Task
from .partition import split_keys

NLI_LABELS = ("entailment", "neutral", "contradiction")
UPOS = ("ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON", "PROPN", "PUNCT",
        "SCONJ", "SYM", "VERB", "X")
NER = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC")
VALIDATION_FRACTION = 0.1
COPA_QUESTION = {"cause": "What was the cause?", "effect": "What happened as a result?"}


# ---------------------------------------------------------------- partition helpers
def _keep(rows: list[dict], salt: str, fractions: dict[str, float], part: str, key=lambda i, r: i) -> list[dict]:
    keys = [key(i, r) for i, r in enumerate(rows)]
    chosen = split_keys(keys, salt, fractions)[part]
    return [r for k, r in zip(keys, rows) if k in chosen]


def _train_val(rows: list[dict], salt: str, split: str) -> list[dict]:
    part = {"train": "train", "validation": "validation"}[split]
    return _keep(rows, f"{salt}:val", {"validation": VALIDATION_FRACTION, "train": 1 - VALIDATION_FRACTION}, part)


def _label_index(labels: tuple[str, ...], value, path: Path, line) -> int:
    try:
        return labels.index(str(value))
    except ValueError:
        raise DataError(
            f"malformed data in {path}:{line}: label {value!r} is not one of {', '.join(labels)}",
            "use an unmodified copy of the file (see the data README)",
        ) from None


def _rel(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


# ---------------------------------------------------------------- classification
def _nli_jsonl(root: Path, rel: str, label_map: dict | None = None) -> list[dict]:
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
                     "label": _label_index(NLI_LABELS, lab, path, r["_line"])})
    return rows


def _pair_tsv(root: Path, rel: str, labels: tuple[str, ...], id_rel: str | None = None) -> list[dict]:
    path = root / rel
    return [
        {"id": f"{id_rel or rel}:{i}", "text_a": a, "text_b": b, "label": _label_index(labels, lab, path, line)}
        for i, (line, (a, b, lab)) in enumerate(readers.read_tsv(path, 3, "sentence1, sentence2, label"))
    ]


def _mnli_part(part: str, split: str, root: Path, lang: str) -> list[dict]:
    rows = _nli_jsonl(root, "en_intermediate/mnli/dev_matched.jsonl")
    rows = _keep(rows, "mnli-dev-matched", {"mnli": 0.5, "xnli": 0.5}, part)
    return _train_val(rows, f"mnli-{part}", split)


def _simple_train_val(reader, salt: str, split: str, root: Path, lang: str) -> list[dict]:
    return _train_val(reader(root), salt, split)


def _anli_dev(root: Path, lang: str) -> list[dict]:
    rel = "en_intermediate/anli/ANLI_analysis_r1_dev.csv"
    path = root / rel
    short = {"e": "entailment", "n": "neutral", "c": "contradiction"}
    return [
        {"id": f"{rel}:{r['_line']}", "text_a": r["context"], "text_b": r["statement"],
         "label": _label_index(NLI_LABELS, short.get(r["gold_label"], r["gold_label"]), path, r["_line"])}
        for r in readers.read_csv(path, ["context", "statement", "gold_label"])
    ]


def _qqp(root: Path) -> list[dict]:
    rel = "en_intermediate/qqp/glue_pretrain_dev.json"
    path = root / rel
    data = readers.read_json(path)
    if not isinstance(data, dict):
        raise DataError(f"malformed data in {path}: expected an object of pairs", "use an unmodified copy")
    rows = []
    for key, r in data.items():
        try:
            rows.append({"id": f"{rel}:{key}", "text_a": r["text_a"], "text_b": r["text_b"],
                         "label": _label_index(("0", "1"), r["label"], path, key)})
        except (KeyError, TypeError):
            raise DataError(f"malformed data in {path}: pair {key!r} lacks text_a/text_b/label",
                            "use an unmodified copy of the file") from None
    return rows


def _pawsx(split: str, root: Path, lang: str) -> list[dict]:
    src_lang = "en" if split != "test" else lang
    rows = _pair_tsv(root, f"pawsx/dev-{src_lang}.tsv", ("0", "1"), id_rel="pawsx/dev-*.tsv")
    if len(rows) != 2000 and split == "test":
        en = len(readers.read_tsv(root / "pawsx/dev-en.tsv", 3, "sentence1, sentence2, label"))
        if len(rows) != en:
            raise DataError(f"pawsx/dev-{lang}.tsv has {len(rows)} rows but dev-en.tsv has {en}; the files must be "
                            "line-parallel", "use unmodified copies of the PAWS-X dev files")
    return _keep(rows, "pawsx-dev", {"train": 0.45, "validation": 0.05, "test": 0.5}, split)


# ---------------------------------------------------------------- multiple choice
def _copa(root: Path, rel: str) -> list[dict]:
    path = root / rel
    out = []
    for r in readers.read_jsonl(path):
        try:
            out.append({"id": f"{rel}:{r['_line']}", "context": r["premise"], "question": COPA_QUESTION[r["question"]],
                        "choices": [r["choice1"], r["choice2"]], "label": int(r["label"])})
        except (KeyError, ValueError, TypeError) as e:
            raise DataError(f"malformed data in {path}:{r['_line']}: bad or missing field ({e})",
                            "use an unmodified copy of the file (see the data README)") from None
    return out


def _xcopa_test(root: Path, lang: str) -> list[dict]:
    if lang == "en":
        return _copa(root, "xcopa/en_copa/val-en.jsonl")
    return _copa(root, f"xcopa/{lang}/test.{lang}.jsonl")


def _siqa(root: Path) -> list[dict]:
    rel = "en_intermediate/siqa/socialIQa_v1.4_dev.jsonl"
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


def _csqa(root: Path) -> list[dict]:
    rel = "en_intermediate/commonsenseqa/dev_rand_split.hf_format.jsonl"
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


def _cosmosqa(root: Path) -> list[dict]:
    rel = "en_intermediate/cosmosqa/valid.csv"
    path = root / rel
    out = []
    for r in readers.read_csv(path, ["context", "question", "answer0", "answer1", "answer2", "answer3", "label"]):
        try:
            out.append({"id": f"{rel}:{r['_line']}", "context": r["context"], "question": r["question"],
                        "choices": [r[f"answer{k}"] for k in range(4)], "label": int(r["label"])})
        except ValueError:
            raise DataError(f"malformed data in {path}:{r['_line']}: label {r['label']!r} is not 0-3",
                            "use an unmodified copy of the file (see the data README)") from None
    return out


# ---------------------------------------------------------------- tagging
def _conll(root: Path, rel: str, labels: tuple[str, ...], id_rel: str | None = None) -> list[dict]:
    path = root / rel
    out = []
    for line, tokens, tags in readers.read_conll(path):
        bad = sorted(set(tags) - set(labels))
        if bad:
            raise DataError(f"malformed data in {path}:{line}: tag(s) {', '.join(bad)} not in {', '.join(labels)}",
                            "use an unmodified copy of the file (see the data README)")
        out.append({"id": f"{id_rel or rel}:{line}", "tokens": tokens, "tags": tags})
    return out


def _tagging_train(name: str, labels, part: str, split: str, root: Path, lang: str) -> list[dict]:
    rows = _conll(root, f"{name}/train-en.tsv", labels)
    rows = _keep(rows, f"{name}-train-en", {"intermediate": 0.5, "target": 0.5}, part)
    return _train_val(rows, f"{name}-{part}", split)


# ---------------------------------------------------------------- extractive QA
def _xquad_part(part: str, split: str, root: Path, lang: str) -> list[dict]:
    rel = "xquad/xquad.en.json"
    rows = readers.read_squad(root / rel)
    rows = _keep(rows, "xquad-en-articles", {"squad": 0.5, "qa-target": 0.5}, part, key=lambda i, r: r["title"])
    for r in rows:
        r["id"] = f"{rel}:{r['id']}"
    return _train_val(rows, f"xquad-{part}", split)


def _mlqa_test(root: Path, lang: str) -> list[dict]:
    rel = f"mlqa/dev-context-{lang}-question-{lang}.json"
    return readers.read_squad(root / rel)


# ---------------------------------------------------------------- retrieval
def _tatoeba(split: str, root: Path, lang: str) -> list[dict]:
    base = f"tatoeba/tatoeba.{lang}-eng"
    src = readers.read_lines(root / f"{base}.{lang}")
    tgt = readers.read_lines(root / f"{base}.eng")
    if len(src) != len(tgt):
        raise DataError(f"{base}.{lang} has {len(src)} lines but {base}.eng has {len(tgt)}; line i must translate line i",
                        "use unmodified copies of both Tatoeba files")
    rows = [{"id": f"{base}:{i + 1}", "source": s, "target": t} for i, (s, t) in enumerate(zip(src, tgt))]
    return _keep(rows, f"tatoeba-{lang}", {"lexicon": 0.2, "test": 0.8}, split)


# ---------------------------------------------------------------- the registry
def _hellaswag(split: str, root: Path, lang: str) -> list[dict]:
    rel = "en_intermediate/hellaswag/validation.jsonl"
    path = root / rel
    rows = []
    for r in readers.read_jsonl(path):
        try:
            rows.append({"id": f"{rel}:{r['_line']}", "context": r["ctx"], "question": "", "choices": list(r["endings"]),
                         "label": int(r["label"])})
        except (KeyError, ValueError, TypeError) as e:
            raise DataError(f"malformed data in {path}:{r['_line']}: bad or missing field ({e})",
                            "re-create it with `modxfer data fetch hellaswag`") from None
    return _train_val(rows, "hellaswag", split)


def _build() -> dict[str, Task]:
    tv = ("train", "validation")
    T = []
    # English intermediate tasks
    T.append(Task("mnli", "intermediate", "classification", "accuracy", "MultiNLI (natural language inference)",
                  {s: partial(_mnli_part, "mnli", s) for s in tv}, labels=NLI_LABELS,
                  partition="50% of MNLI dev_matched rows (the rest trains XNLI)", hub=HubSource("nyu-mll/glue", "mnli", "validation_matched")))
    T.append(Task("snli", "intermediate", "classification", "accuracy", "SNLI (natural language inference)",
                  {s: partial(_simple_train_val, lambda r: _nli_jsonl(r, "en_intermediate/snli/dev.jsonl"), "snli", s) for s in tv},
                  labels=NLI_LABELS, partition="SNLI dev", hub=HubSource("stanfordnlp/snli", None, "validation")))
    T.append(Task("anli", "intermediate", "classification", "accuracy", "Adversarial NLI (rounds 1-3)",
                  {"train": lambda r, l: _nli_jsonl(r, "en_intermediate/anli/test_r1r2r3.jsonl"), "validation": _anli_dev},
                  labels=NLI_LABELS, partition="train: ANLI test R1-R3; validation: official R1 dev",
                  hub=HubSource("facebook/anli", None, "test_r1")))
    T.append(Task("qqp", "intermediate", "classification", "accuracy", "Quora Question Pairs (paraphrase)",
                  {s: partial(_simple_train_val, _qqp, "qqp", s) for s in tv}, labels=("0", "1"),
                  partition="GLUE QQP dev sample", hub=HubSource("nyu-mll/glue", "qqp", "validation")))
    T.append(Task("cosmosqa", "intermediate", "multiple_choice", "accuracy", "Cosmos QA (commonsense reading comprehension)",
                  {s: partial(_simple_train_val, _cosmosqa, "cosmosqa", s) for s in tv}, num_choices=4,
                  partition="Cosmos QA dev", hub=HubSource("allenai/cosmos_qa", None, "validation")))
    T.append(Task("siqa", "intermediate", "multiple_choice", "accuracy", "Social IQa (social commonsense)",
                  {s: partial(_simple_train_val, _siqa, "siqa", s) for s in tv}, num_choices=3,
                  partition="Social IQa dev", hub=HubSource("allenai/social_i_qa", None, "validation")))
    T.append(Task("csqa", "intermediate", "multiple_choice", "accuracy", "CommonsenseQA",
                  {s: partial(_simple_train_val, _csqa, "csqa", s) for s in tv}, num_choices=5,
                  partition="CommonsenseQA dev (random split)", hub=HubSource("tau/commonsense_qa", None, "validation")))
    T.append(Task("squad", "intermediate", "extractive_qa", "squad", "SQuAD v1.1 (extractive QA; XQuAD's English subset)",
                  {s: partial(_xquad_part, "squad", s) for s in tv},
                  partition="50% of XQuAD-en articles (the rest trains the QA target)", hub=HubSource("rajpurkar/squad", None, "validation")))
    T.append(Task("udpos-en", "intermediate", "tagging", "seqeval", "UD English POS tagging (stands in for CCG supertagging)",
                  {s: partial(_tagging_train, "udpos", UPOS, "intermediate", s) for s in tv}, labels=UPOS,
                  partition="50% of udpos/train-en sentences", hub=HubSource("google/xtreme", "udpos.English", "train")))
    T.append(Task("panx-en", "intermediate", "tagging", "seqeval", "WikiANN English NER",
                  {s: partial(_tagging_train, "panx", NER, "intermediate", s) for s in tv}, labels=NER,
                  partition="50% of panx/train-en sentences", hub=HubSource("google/xtreme", "PAN-X.en", "train")))
    T.append(Task("hellaswag", "intermediate", "multiple_choice", "accuracy",
                  "HellaSwag (commonsense NLI); not shipped offline: `modxfer data fetch hellaswag` online",
                  {s: partial(_hellaswag, s) for s in tv}, num_choices=4, needs_hub=True,
                  files=("en_intermediate/hellaswag/validation.jsonl",), partition="HellaSwag validation",
                  hub=HubSource("Rowan/hellaswag", None, "validation")))
    T.append(Task("ccg", "intermediate", "tagging", "seqeval", "CCGbank supertagging: licensed (LDC), not shipped offline; udpos-en stands in",
                  {"train": None}, labels=None, needs_hub=True))  # no public source: never available offline
    # XTREME-R targets
    T.append(Task("xnli", "target", "classification", "accuracy", "XNLI (cross-lingual NLI)",
                  {"train": partial(_mnli_part, "xnli", "train"), "validation": partial(_mnli_part, "xnli", "validation"),
                   "test": lambda r, l: _pair_tsv(r, f"xnli/dev-{l}.tsv", NLI_LABELS)},
                  labels=NLI_LABELS, lang_pattern="xnli/dev-{lang}.tsv",
                  partition="train: 50% of MNLI dev_matched; test: XNLI dev", hub=HubSource("facebook/xnli", "{lang}", "validation")))
    T.append(Task("pawsx", "target", "classification", "accuracy", "PAWS-X (cross-lingual paraphrase)",
                  {s: partial(_pawsx, s) for s in ("train", "validation", "test")}, labels=("0", "1"),
                  lang_pattern="pawsx/dev-{lang}.tsv",
                  partition="line-parallel dev files: 45% of English lines train, 5% validate, the other 50% test in every language",
                  hub=HubSource("google-research-datasets/paws-x", "{lang}", "validation")))
    T.append(Task("xcopa", "target", "multiple_choice", "accuracy", "XCOPA (cross-lingual causal commonsense)",
                  {"train": lambda r, l: _copa(r, "xcopa/en_copa/train-en.jsonl"), "test": _xcopa_test}, num_choices=2,
                  lang_pattern="xcopa/{lang}/test.{lang}.jsonl", extra_languages=("en",),
                  partition="train: English COPA train (400); test: XCOPA test; English: COPA val",
                  hub=HubSource("cambridgeltl/xcopa", "{lang}", "test")))
    T.append(Task("udpos", "target", "tagging", "seqeval", "Universal Dependencies POS tagging",
                  {"train": partial(_tagging_train, "udpos", UPOS, "target", "train"),
                   "validation": partial(_tagging_train, "udpos", UPOS, "target", "validation"),
                   "test": lambda r, l: _conll(r, f"udpos/dev-{l}.tsv", UPOS)}, labels=UPOS,
                  lang_pattern="udpos/dev-{lang}.tsv", partition="train: 50% of udpos/train-en; test: UD dev",
                  hub=HubSource("google/xtreme", "udpos.{lang}", "validation")))
    T.append(Task("panx", "target", "tagging", "seqeval", "WikiANN / PAN-X named entity recognition",
                  {"train": partial(_tagging_train, "panx", NER, "target", "train"),
                   "validation": partial(_tagging_train, "panx", NER, "target", "validation"),
                   "test": lambda r, l: _conll(r, f"panx/dev-{l}.tsv", NER)}, labels=NER,
                  lang_pattern="panx/dev-{lang}.tsv", partition="train: 50% of panx/train-en; test: PAN-X dev",
                  hub=HubSource("google/xtreme", "PAN-X.{lang}", "validation")))
    T.append(Task("mlqa", "target", "extractive_qa", "mlqa", "MLQA (cross-lingual extractive QA)",
                  {"train": partial(_xquad_part, "qa-target", "train"), "validation": partial(_xquad_part, "qa-target", "validation"),
                   "test": _mlqa_test}, lang_pattern="mlqa/dev-context-{lang}-question-{lang}.json",
                  partition="train: 50% of XQuAD-en articles; test: MLQA dev (evaluation only, parallel across languages)",
                  hub=HubSource("facebook/mlqa", "mlqa.{lang}.{lang}", "validation")))
    T.append(Task("tatoeba", "target", "retrieval", "retrieval", "Tatoeba bitext retrieval (no training data)",
                  {"test": partial(_tatoeba, "test"), "lexicon": partial(_tatoeba, "lexicon")},
                  lang_pattern="tatoeba/tatoeba.{lang}-eng.{lang}",
                  partition="per language: 80% of pairs evaluated, 20% induce the code-switching lexicon",
                  hub=HubSource("google/xtreme", "tatoeba.{lang}", "validation")))
    return {t.name: t for t in T}


TASKS: dict[str, Task] = _build()


def list_tasks(role: str | None = None) -> list[Task]:
    return [t for t in TASKS.values() if role is None or t.role == role]


def get_task(name: str | Task) -> Task:
    if isinstance(name, Task):
        return name
    try:
        return TASKS[name]
    except KeyError:
        close = difflib.get_close_matches(str(name), TASKS, n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise UnknownTaskError(f"unknown task {name!r}{hint}",
                               f"use one of: {', '.join(TASKS)} (see `modxfer tasks`)") from None
