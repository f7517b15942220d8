"""The ``paper`` data profile: Phang et al. 2020's protocol, from files ``modxfer data fetch --profile paper`` writes.

Full training splits train, dev splits select models, XTREME-R's test splits evaluate. Where one training set
serves two roles it is still split by hash rank (no example in two roles, as offline):

- MNLI ``train``: rows 50/50 into the MNLI intermediate task and XNLI's English training data. MNLI validates on
  ``dev_matched``; XNLI on XNLI's English dev set; XNLI ``test-XX`` evaluates.
- SQuAD v1.1 ``train``: articles 50/50 into the SQuAD intermediate task and the QA targets' English training data
  (MLQA, XQuAD); 10% of each half's articles validate. SQuAD's dev set is never read: XQuAD (and XQuAD-R) translate
  its articles, so no model is selected on translations of test articles either.
- UD-POS and PAN-X ``train-en``: sentences 50/50 into the intermediate and the tagging target; the intermediate
  validates on 10% of its half, the target on ``dev-en``; ``test-XX`` evaluates.
- PAWS-X: ``train-en`` trains, ``dev-en`` validates, ``test-XX`` evaluates.
- Other intermediates: ``train`` trains, the official dev set validates.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from ..errors import DataError
from . import readers
from .base import Protocol
from .loaders import (NER, NLI_LABELS, UPOS, VALIDATION_FRACTION, conll, cosmosqa, csqa, hellaswag_file, keep,
    label_index, nli_jsonl, pair_tsv, siqa, train_val)

# Training examples per task under this profile, after the role splits above (MNLI, SQuAD, UD-POS and PAN-X halves):
# the published sizes of the full training sets. Read only by `modxfer sweep plan --sizes paper`, to estimate a
# paper-scale study on a machine that has not fetched the data.
TRAIN_SIZES = {"mnli": 196_351, "xnli": 196_351, "snli": 550_152, "anli": 162_865, "qqp": 363_846, "siqa": 33_410,
               "csqa": 9_741, "cosmosqa": 25_262, "hellaswag": 39_905, "squad": 43_800, "mlqa": 43_800, "xquad": 43_800,
               "tydiqa": 43_800, "udpos-en": 6_271, "udpos": 6_272, "panx-en": 10_000, "panx": 10_000, "pawsx": 49_401,
               "xcopa": 400}

MNLI_TRAIN = "en_intermediate/mnli/train.jsonl"
MNLI_DEV = "en_intermediate/mnli/dev_matched.jsonl"
SQUAD_TRAIN = "squad/train-v1.1.json"


def _by_split(train, validation) -> dict:
    return {"train": train, "validation": validation}


def _mnli_part(part: str, root: Path, lang: str) -> list[dict]:
    return keep(nli_jsonl(root, MNLI_TRAIN), "mnli-train", {"mnli": 0.5, "xnli": 0.5}, part)


def qqp_jsonl(root: Path, rel: str) -> list[dict]:
    path = root / rel
    out = []
    for r in readers.read_jsonl(path):
        if not all(k in r for k in ("text_a", "text_b", "label")):
            raise DataError(f"malformed data in {path}:{r['_line']}: needs text_a, text_b and label",
                            "re-create it with `modxfer data fetch qqp --profile paper`")
        out.append({"id": f"{rel}:{r['_line']}", "text_a": r["text_a"], "text_b": r["text_b"],
                    "label": label_index(("0", "1"), r["label"], path, r["_line"])})
    return out


def squad_part(part: str, split: str, root: Path, lang: str) -> list[dict]:
    """Half of SQuAD v1.1 train's articles (``squad`` or ``qa-target``), 90/10 by article into train/validation."""
    rows = readers.read_squad(root / SQUAD_TRAIN)
    for r in rows:
        r["id"] = f"{SQUAD_TRAIN}:{r['id']}"
    rows = keep(rows, "squad-train-articles", {"squad": 0.5, "qa-target": 0.5}, part, key=lambda i, r: r["title"])
    return train_val(rows, f"squad-train-{part}", split, key=lambda i, r: r["title"])


# The QA targets' English training data (MLQA and XQuAD share it: one role, one set of examples).
QA_TRAIN = {"train": partial(squad_part, "qa-target", "train"), "validation": partial(squad_part, "qa-target", "validation")}


def _tagging_part(name: str, labels, part: str, root: Path, lang: str) -> list[dict]:
    return keep(conll(root, f"{name}/train-en.tsv", labels), f"{name}-train-en", {"intermediate": 0.5, "target": 0.5}, part)


def protocols() -> dict[str, Protocol]:
    """The paper profile's protocol for every task whose files differ from the offline profile's."""
    P: dict[str, Protocol] = {}

    def inter(name, train, dev, partition, files):
        P[name] = Protocol(_by_split(train, dev), partition, files=files)

    inter("mnli", lambda r, l: _mnli_part("mnli", r, l), lambda r, l: nli_jsonl(r, MNLI_DEV),
          "train: 50% of MNLI train rows (the rest trains XNLI); validation: MNLI dev_matched", (MNLI_TRAIN, MNLI_DEV))
    snli = ("en_intermediate/snli/train.jsonl", "en_intermediate/snli/dev.jsonl")
    inter("snli", lambda r, l: nli_jsonl(r, snli[0]), lambda r, l: nli_jsonl(r, snli[1]),
          "train: SNLI train; validation: SNLI dev", snli)
    anli = ("en_intermediate/anli/train_r1r2r3.jsonl", "en_intermediate/anli/dev_r1r2r3.jsonl")
    inter("anli", lambda r, l: nli_jsonl(r, anli[0]), lambda r, l: nli_jsonl(r, anli[1]),
          "train: ANLI train R1-R3; validation: ANLI dev R1-R3", anli)
    qqp = ("en_intermediate/qqp/train.jsonl", "en_intermediate/qqp/dev.jsonl")
    inter("qqp", lambda r, l: qqp_jsonl(r, qqp[0]), lambda r, l: qqp_jsonl(r, qqp[1]),
          "train: GLUE QQP train; validation: QQP dev", qqp)
    cosmos = ("en_intermediate/cosmosqa/train.csv", "en_intermediate/cosmosqa/valid.csv")
    inter("cosmosqa", lambda r, l: cosmosqa(r, cosmos[0]), lambda r, l: cosmosqa(r, cosmos[1]),
          "train: Cosmos QA train; validation: Cosmos QA dev", cosmos)
    si = ("en_intermediate/siqa/socialIQa_v1.4_trn.jsonl", "en_intermediate/siqa/socialIQa_v1.4_dev.jsonl")
    inter("siqa", lambda r, l: siqa(r, si[0]), lambda r, l: siqa(r, si[1]),
          "train: Social IQa train; validation: Social IQa dev", si)
    cs = ("en_intermediate/commonsenseqa/train_rand_split.hf_format.jsonl",
          "en_intermediate/commonsenseqa/dev_rand_split.hf_format.jsonl")
    inter("csqa", lambda r, l: csqa(r, cs[0]), lambda r, l: csqa(r, cs[1]),
          "train: CommonsenseQA train; validation: CommonsenseQA dev (random split)", cs)
    hs = ("en_intermediate/hellaswag/train.jsonl", "en_intermediate/hellaswag/validation.jsonl")
    inter("hellaswag", lambda r, l: hellaswag_file(r, hs[0]), lambda r, l: hellaswag_file(r, hs[1]),
          "train: HellaSwag train; validation: HellaSwag validation", hs)
    inter("squad", partial(squad_part, "squad", "train"), partial(squad_part, "squad", "validation"),
          "50% of SQuAD v1.1 train articles (the rest trains the QA targets), 10% of them validate", (SQUAD_TRAIN,))
    for name, labels in (("udpos", UPOS), ("panx", NER)):
        part = partial(_tagging_part, name, labels, "intermediate")
        inter(f"{name}-en", lambda r, l, part=part, s=name: train_val(part(r, l), f"{s}-intermediate", "train"),
              lambda r, l, part=part, s=name: train_val(part(r, l), f"{s}-intermediate", "validation"),
              f"50% of {name}/train-en sentences (the rest trains {name}), {int(VALIDATION_FRACTION * 100)}% of them validate",
              (f"{name}/train-en.tsv",))

    P["xnli"] = Protocol({"train": lambda r, l: _mnli_part("xnli", r, l),
                          "validation": lambda r, l: pair_tsv(r, "xnli/dev-en.tsv", NLI_LABELS),
                          "test": lambda r, l: pair_tsv(r, f"xnli/test-{l}.tsv", NLI_LABELS)},
                         "train: 50% of MNLI train rows; validation: XNLI dev (en); test: XNLI test",
                         "xnli/test-{lang}.tsv", (MNLI_TRAIN, "xnli/dev-en.tsv"))
    P["pawsx"] = Protocol({"train": lambda r, l: pair_tsv(r, "pawsx/train-en.tsv", ("0", "1")),
                           "validation": lambda r, l: pair_tsv(r, "pawsx/dev-en.tsv", ("0", "1")),
                           "test": lambda r, l: pair_tsv(r, f"pawsx/test-{l}.tsv", ("0", "1"))},
                          "train: PAWS-X train (en); validation: PAWS-X dev (en); test: PAWS-X test",
                          "pawsx/test-{lang}.tsv", ("pawsx/train-en.tsv", "pawsx/dev-en.tsv"))
    for name, labels in (("udpos", UPOS), ("panx", NER)):
        part = partial(_tagging_part, name, labels, "target")
        P[name] = Protocol({"train": part, "validation": lambda r, l, n=name, lab=labels: conll(r, f"{n}/dev-en.tsv", lab),
                            "test": lambda r, l, n=name, lab=labels: conll(r, f"{n}/test-{l}.tsv", lab)},
                           f"train: 50% of {name}/train-en (the rest trains {name}-en); validation: dev-en; test: test",
                           f"{name}/test-{{lang}}.tsv", (f"{name}/train-en.tsv", f"{name}/dev-en.tsv"))
    P["mlqa"] = Protocol({**QA_TRAIN, "test": lambda r, l: readers.read_squad(r / f"mlqa/test-context-{l}-question-{l}.json")},
                         "train: 50% of SQuAD v1.1 train articles (10% of them validate); test: MLQA test",
                         "mlqa/test-context-{lang}-question-{lang}.json", (SQUAD_TRAIN,))
    return P
