"""Every task modxfer knows: English intermediate tasks and XTREME-R targets, with their data partitions.

Offline profile (the shared data directory; files that serve two roles are split by hash rank, see
``partition.py``; salts are fixed in ``loaders.py``):
- MNLI ``dev_matched``: rows split 50/50 into the MNLI intermediate task and XNLI's English training data.
- XQuAD English: articles split 50/50 into the SQuAD intermediate task and the QA targets' English training data
  (MLQA, parallel across its languages, is evaluation only). XQuAD and XQuAD-R (LAReQA) translate those very
  articles, so the offline profile cannot evaluate them: they need SQuAD v1.1 train (the paper profile).
- UD-POS and PAN-X ``train-en``: sentences split 50/50 into the intermediate task (``udpos-en``, ``panx-en``) and the
  tagging target's English training data.
- PAWS-X ``dev-XX`` files are line-parallel: line indices split 45/5/50 into train/validation (English) and the test
  lines evaluated in every language.
- Tatoeba: per language, 20% of pairs induce the code-switching lexicon (``lexicon`` split), 80% are evaluated.
- Within each training partition, 10% of examples (by hash rank) form the English ``validation`` split.
- XCOPA: English COPA ``train-en`` 75/25 by hash rank into train (300) and validation (100); its English score uses
  COPA ``val-en`` (``test-en`` has no labels).
- Fetched in both profiles: TyDiQA-GoldP (English train 90/10 by passage into train/validation, dev per language
  evaluates), BUCC (threshold on the ``calibration`` split = BUCC sample, F1 on ``test`` = BUCC training set, as
  XTREME), Mewsli-X (dev offline, test in the paper profile; the ~1M-entity candidate set).

Parallel test sets (``Task.parallel``; statistics resample a translated item once for all its languages): XNLI,
PAWS-X and XCOPA by line (line i of every language's file is one item), MLQA and XQuAD by question id (shared across
their languages). Not parallel: the tagging targets (each language's own treebank or sentences), TyDiQA (written
per language), BUCC (its own corpora per language), Mewsli-X, and Tatoeba: its English sides differ from one
language to the next (checked on the shared files), so line i of two languages are different sentences. LAReQA
ranks every language's questions against one pooled candidate set and is scored per language on its own questions.

Paper profile: see ``paper.py``.
"""

from __future__ import annotations

import dataclasses
import difflib
from functools import partial

from ..errors import UnknownTaskError
from . import xtreme_r as X
from .base import HubSource, Protocol, Task
from .loaders import NER, NLI_LABELS, UPOS  # noqa: F401  (re-exported: fetch and tests read the label sets here)
from .loaders import (anli_dev, copa_train, conll, cosmosqa, csqa, hellaswag, mlqa_test, mnli_part, nli_jsonl,
    pair_tsv, pawsx, qqp, siqa, simple_train_val, tagging_train, tatoeba, xcopa_test, xquad_part)
from .paper import QA_TRAIN, SQUAD_TRAIN, protocols

XNLI_LANGUAGES = ("ar", "bg", "de", "el", "en", "es", "fr", "hi", "ru", "sw", "th", "tr", "ur", "vi", "zh")
PAWSX_LANGUAGES = ("de", "en", "es", "fr", "ja", "ko", "zh")
XCOPA_LANGUAGES = ("et", "ht", "id", "it", "qu", "sw", "ta", "th", "tr", "vi", "zh")
PANX_LANGUAGES = tuple("ar he vi id jv ms tl eu ml ta te af nl en de el bn hi mr ur fa fr it pt es bg ru ja ka ko th sw "
                       "yo my zh kk tr et fi hu qu pl uk az lt pa gu ro".split())
UDPOS_LANGUAGES = tuple("af ar bg de el en es et eu fa fi fr he hi hu id it ja kk ko mr nl pt ru ta te th tl tr ur vi "
                        "yo zh lt pl uk wo ro".split())
MLQA_LANGUAGES = ("en", "es", "de", "ar", "hi", "vi", "zh")
TATOEBA_LANGUAGES = tuple("afr ara ben bul cmn deu ell est eus fin fra heb hin hun ind ita jav jpn kat kaz kor mal mar "
                          "nld pes por rus spa swh tam tel tgl tha tur urd vie".split())

# XQuAD and XQuAD-R translate SQuAD v1.1 dev articles; offline, xquad.en's articles train squad and the QA targets.
_TRANSLATED_TRAINING = (
    "{shown} translates the English articles of xquad/xquad.en.json, which the offline profile trains squad and the "
    "QA targets on: a language must never be evaluated on articles whose English version was trained on",
    "{shown} evaluation needs SQuAD v1.1 train as the English QA training data: online, run "
    "`modxfer data fetch squad --profile paper` (then `modxfer data fetch {name} --languages all --profile paper`) "
    "into an empty data directory",
)


def _translated(name: str, shown: str) -> tuple[str, str]:
    return tuple(t.format(name=name, shown=shown) for t in _TRANSLATED_TRAINING)


TV = ("train", "validation")


def _intermediates() -> list[Task]:
    """English intermediate tasks."""
    tv = TV
    T = []
    T.append(Task("mnli", "intermediate", "classification", "accuracy", "MultiNLI (natural language inference)",
                  {s: partial(mnli_part, "mnli", s) for s in tv}, labels=NLI_LABELS,
                  partition="50% of MNLI dev_matched rows (the rest trains XNLI)", hub=HubSource("nyu-mll/glue", "mnli", "validation_matched")))
    T.append(Task("snli", "intermediate", "classification", "accuracy", "SNLI (natural language inference)",
                  {s: partial(simple_train_val, lambda r: nli_jsonl(r, "en_intermediate/snli/dev.jsonl"), "snli", s) for s in tv},
                  labels=NLI_LABELS, partition="SNLI dev", hub=HubSource("stanfordnlp/snli", None, "validation")))
    T.append(Task("anli", "intermediate", "classification", "accuracy", "Adversarial NLI (rounds 1-3)",
                  {"train": lambda r, l: nli_jsonl(r, "en_intermediate/anli/test_r1r2r3.jsonl"), "validation": anli_dev},
                  labels=NLI_LABELS, partition="train: ANLI test R1-R3; validation: official R1 dev",
                  hub=HubSource("facebook/anli", None, "test_r1")))
    T.append(Task("qqp", "intermediate", "classification", "accuracy", "Quora Question Pairs (paraphrase)",
                  {s: partial(simple_train_val, qqp, "qqp", s) for s in tv}, labels=("0", "1"),
                  partition="GLUE QQP dev sample", hub=HubSource("nyu-mll/glue", "qqp", "validation")))
    T.append(Task("cosmosqa", "intermediate", "multiple_choice", "accuracy", "Cosmos QA (commonsense reading comprehension)",
                  {s: partial(simple_train_val, cosmosqa, "cosmosqa", s) for s in tv}, num_choices=4,
                  partition="Cosmos QA dev", hub=HubSource("allenai/cosmos_qa", None, "validation")))
    T.append(Task("siqa", "intermediate", "multiple_choice", "accuracy", "Social IQa (social commonsense)",
                  {s: partial(simple_train_val, siqa, "siqa", s) for s in tv}, num_choices=3,
                  partition="Social IQa dev", hub=HubSource("allenai/social_i_qa", None, "validation")))
    T.append(Task("csqa", "intermediate", "multiple_choice", "accuracy", "CommonsenseQA",
                  {s: partial(simple_train_val, csqa, "csqa", s) for s in tv}, num_choices=5,
                  partition="CommonsenseQA dev (random split)", hub=HubSource("tau/commonsense_qa", None, "validation")))
    T.append(Task("squad", "intermediate", "extractive_qa", "squad", "SQuAD v1.1 (extractive QA; XQuAD's English subset)",
                  {s: partial(xquad_part, "squad", s) for s in tv},
                  partition="50% of XQuAD-en articles (the rest trains the QA target)", hub=HubSource("rajpurkar/squad", None, "validation")))
    T.append(Task("udpos-en", "intermediate", "tagging", "seqeval", "UD English POS tagging (stands in for CCG supertagging)",
                  {s: partial(tagging_train, "udpos", UPOS, "intermediate", s) for s in tv}, labels=UPOS,
                  partition="50% of udpos/train-en sentences", hub=HubSource("google/xtreme", "udpos.English", "train")))
    T.append(Task("panx-en", "intermediate", "tagging", "seqeval", "WikiANN English NER",
                  {s: partial(tagging_train, "panx", NER, "intermediate", s) for s in tv}, labels=NER,
                  partition="50% of panx/train-en sentences", hub=HubSource("google/xtreme", "PAN-X.en", "train")))
    T.append(Task("hellaswag", "intermediate", "multiple_choice", "accuracy",
                  "HellaSwag (commonsense NLI); not shipped offline: `modxfer data fetch hellaswag` online",
                  {s: partial(hellaswag, s) for s in tv}, num_choices=4, needs_hub=True,
                  files=("en_intermediate/hellaswag/validation.jsonl",), partition="HellaSwag validation",
                  hub=HubSource("Rowan/hellaswag", None, "validation")))
    T.append(Task("ccg", "intermediate", "tagging", "seqeval", "CCGbank supertagging: licensed (LDC), not shipped offline; udpos-en stands in",
                  {"train": None}, labels=None, needs_hub=True))  # no public source: never available offline
    return T


def _targets() -> list[Task]:
    """XTREME-R targets in the shared offline data."""
    T = []
    T.append(Task("xnli", "target", "classification", "accuracy", "XNLI (cross-lingual NLI)",
                  {"train": partial(mnli_part, "xnli", "train"), "validation": partial(mnli_part, "xnli", "validation"),
                   "test": lambda r, l: pair_tsv(r, f"xnli/dev-{l}.tsv", NLI_LABELS)},
                  labels=NLI_LABELS, lang_pattern="xnli/dev-{lang}.tsv", official_languages=XNLI_LANGUAGES,
                  partition="train: 50% of MNLI dev_matched; test: XNLI dev", hub=HubSource("facebook/xnli", "{lang}", "validation"), parallel="line"))
    T.append(Task("pawsx", "target", "classification", "accuracy", "PAWS-X (cross-lingual paraphrase)",
                  {s: partial(pawsx, s) for s in ("train", "validation", "test")}, labels=("0", "1"),
                  lang_pattern="pawsx/dev-{lang}.tsv", official_languages=PAWSX_LANGUAGES,
                  partition="line-parallel dev files: 45% of English lines train, 5% validate, the other 50% test in every language",
                  hub=HubSource("google-research-datasets/paws-x", "{lang}", "validation"), parallel="line"))
    T.append(Task("xcopa", "target", "multiple_choice", "accuracy", "XCOPA (cross-lingual causal commonsense)",
                  {"train": partial(copa_train, "train"), "validation": partial(copa_train, "validation"),
                   "test": xcopa_test}, num_choices=2,
                  lang_pattern="xcopa/{lang}/test.{lang}.jsonl", extra_languages=("en",), official_languages=XCOPA_LANGUAGES,
                  partition="train: 75% of English COPA train (by hash rank); validation: the other 25%; "
                            "test: XCOPA test; English: COPA val",
                  hub=HubSource("cambridgeltl/xcopa", "{lang}", "test"), parallel="line"))
    T.append(Task("udpos", "target", "tagging", "seqeval", "Universal Dependencies POS tagging",
                  {"train": partial(tagging_train, "udpos", UPOS, "target", "train"),
                   "validation": partial(tagging_train, "udpos", UPOS, "target", "validation"),
                   "test": lambda r, l: conll(r, f"udpos/dev-{l}.tsv", UPOS)}, labels=UPOS,
                  lang_pattern="udpos/dev-{lang}.tsv", official_languages=UDPOS_LANGUAGES, partition="train: 50% of udpos/train-en; test: UD dev",
                  hub=HubSource("google/xtreme", "udpos.{lang}", "validation")))
    T.append(Task("panx", "target", "tagging", "seqeval", "WikiANN / PAN-X named entity recognition",
                  {"train": partial(tagging_train, "panx", NER, "target", "train"),
                   "validation": partial(tagging_train, "panx", NER, "target", "validation"),
                   "test": lambda r, l: conll(r, f"panx/dev-{l}.tsv", NER)}, labels=NER,
                  lang_pattern="panx/dev-{lang}.tsv", official_languages=PANX_LANGUAGES, partition="train: 50% of panx/train-en; test: PAN-X dev",
                  hub=HubSource("google/xtreme", "PAN-X.{lang}", "validation")))
    T.append(Task("mlqa", "target", "extractive_qa", "mlqa", "MLQA (cross-lingual extractive QA)",
                  {"train": partial(xquad_part, "qa-target", "train"), "validation": partial(xquad_part, "qa-target", "validation"),
                   "test": mlqa_test}, lang_pattern="mlqa/dev-context-{lang}-question-{lang}.json", official_languages=MLQA_LANGUAGES,
                  partition="train: 50% of XQuAD-en articles; test: MLQA dev (evaluation only, parallel across languages)",
                  hub=HubSource("facebook/mlqa", "mlqa.{lang}.{lang}", "validation"), parallel="id"))
    T.append(Task("tatoeba", "target", "retrieval", "retrieval", "Tatoeba bitext retrieval (no training data)",
                  {"test": partial(tatoeba, "test"), "lexicon": partial(tatoeba, "lexicon")},
                  lang_pattern="tatoeba/tatoeba.{lang}-eng.{lang}", official_languages=TATOEBA_LANGUAGES,
                  partition="per language: 80% of pairs evaluated, 20% induce the code-switching lexicon",
                  hub=HubSource("google/xtreme", "tatoeba.{lang}", "validation")))
    return T


def _fetched_targets() -> list[Task]:
    """XTREME-R targets fetched online (in both profiles; XQuAD and LAReQA need the paper one)."""
    tv = TV
    T = []
    T.append(Task("xquad", "target", "extractive_qa", "squad", "XQuAD (SQuAD v1.1 dev articles in 12 languages)",
                  {s: partial(xquad_part, "qa-target", s) for s in tv} | {"test": X.xquad_test},
                  lang_pattern="xquad/xquad.{lang}.json", needs_hub=True, unavailable=_translated("xquad", "XQuAD"),
                  partition="unavailable offline (see the registry)", official_languages=X.XQUAD_LANGUAGES,
                  paper=Protocol({**QA_TRAIN, "test": X.xquad_test},
                                 "train: 50% of SQuAD v1.1 train articles (shared with mlqa; 10% of them validate); "
                                 "test: XQuAD", "xquad/xquad.{lang}.json", (SQUAD_TRAIN,)),
                  hub=HubSource("google/xquad", "xquad.{lang}", "validation"), parallel="id"))
    T.append(Task("tydiqa", "target", "extractive_qa", "squad", "TyDiQA-GoldP (typologically diverse extractive QA)",
                  {s: partial(X.tydiqa_train, s) for s in tv} | {"test": X.tydiqa_test},
                  lang_pattern="tydiqa/dev-{lang}.json", needs_hub=True, files=("tydiqa/train-en.json",),
                  partition="train: TyDiQA-GoldP English train (90/10 by passage into train/validation); test: GoldP dev",
                  official_languages=X.TYDIQA_LANGUAGES,
                  hub=HubSource("google-research-datasets/tydiqa", "secondary_task", "validation")))
    T.append(Task("bucc", "target", "retrieval", "bucc", "BUCC 2018 bitext mining, to English (no training data)",
                  {"test": partial(X.bucc, "test"), "calibration": partial(X.bucc, "calibration")},
                  lang_pattern="bucc2018/{lang}-en.test.{lang}", needs_hub=True, official_languages=X.BUCC_LANGUAGES,
                  partition="threshold chosen on BUCC 2018 sample (calibration), F1 on BUCC 2018 training (test), "
                            "as XTREME"))  # fetched from the official BUCC 2018 archives (convert_xtreme_r.py)
    T.append(Task("lareqa", "target", "retrieval", "map@20",
                  "LAReQA on XQuAD-R: answer retrieval from an 11-language pool (no training data)",
                  {"test": X.lareqa_test, "candidates": X.lareqa_candidates}, lang_pattern="lareqa/xquad-r/{lang}.json",
                  needs_hub=True, unavailable=_translated("lareqa", "LAReQA (XQuAD-R)"), official_languages=X.LAREQA_LANGUAGES,
                  partition="unavailable offline (see the registry)",
                  paper=Protocol({"test": X.lareqa_test, "candidates": X.lareqa_candidates},
                                 "questions per language ranked against every sentence of all 11 XQuAD-R languages",
                                 "lareqa/xquad-r/{lang}.json")))  # the official XQuAD-R files (convert_xtreme_r.py)
    T.append(Task("mewslix", "target", "retrieval", "map@20",
                  "Mewsli-X entity linking: mentions ranked against ~1M entities (no training data)",
                  {"test": partial(X.mewslix_mentions, "dev"), "candidates": X.mewslix_candidates},
                  lang_pattern="mewslix/wikinews_mentions/dev-{lang}.jsonl", needs_hub=True,
                  files=("mewslix/candidate_set_entities.jsonl",), official_languages=X.MEWSLIX_LANGUAGES,
                  partition="WikiNews dev mentions per language, ranked against the full candidate set",
                  paper=Protocol({"test": partial(X.mewslix_mentions, "test"), "candidates": X.mewslix_candidates},
                                 "WikiNews test mentions per language, ranked against the full candidate set",
                                 "mewslix/wikinews_mentions/test-{lang}.jsonl", ("mewslix/candidate_set_entities.jsonl",)),
                  hub=HubSource("izhx/mewsli-x", "{lang}", "validation")))
    return T


def _build() -> dict[str, Task]:
    paper = protocols()
    return {t.name: (dataclasses.replace(t, paper=paper[t.name]) if t.name in paper else t)
            for t in _intermediates() + _targets() + _fetched_targets()}


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
