"""Small files in the real formats of the XTREME-R targets fetched online (XQuAD, TyDiQA-GoldP, BUCC, XQuAD-R,
Mewsli-X) and of the paper profile's SQuAD/MNLI training files, written into a test's tmp directory, plus a lookup
encoder whose embeddings make every retrieval score computable by hand."""

from __future__ import annotations

import json
from pathlib import Path

import torch

LAREQA = ("ar", "de", "el", "en", "es", "hi", "ru", "th", "tr", "vi", "zh")


def _w(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def squad_doc(articles: list[tuple[str, str, list[tuple[str, str, str]]]], **extra) -> dict:
    """SQuAD v1.1 JSON from (title, context, [(question id, question, answer text)]) articles."""
    data = [{"title": title, "paragraphs": [{"context": ctx, **extra.get(title, {}), "qas": [
        {"id": qid, "question": q, "answers": [{"text": a, "answer_start": ctx.index(a)}]} for qid, q, a in qas]}]}
        for title, ctx, qas in articles]
    return {"version": "1.1", "data": data}


def mark_paper(root: Path) -> None:
    _w(root, "modxfer-profile.json", json.dumps({"profile": "paper"}))


def squad_train(root: Path, n_articles: int = 12) -> None:
    arts = [(f"Article {i}", f"City {i} lies on river {i}. It was founded in year {1000 + i}.",
             [(f"sq{i}a", f"Which river flows through city {i}?", f"river {i}"),
              (f"sq{i}b", f"When was city {i} founded?", f"year {1000 + i}")]) for i in range(n_articles)]
    _w(root, "squad/train-v1.1.json", json.dumps(squad_doc(arts)))


def xquad(root: Path, langs=("en", "de")) -> None:
    for lang in langs:
        arts = [("Normans", f"The Normans ({lang}) lived in Normandy in the 10th century.",
                 [("x1", f"Where did the Normans live ({lang})?", "Normandy"), ("x2", "When?", "10th century")])]
        _w(root, f"xquad/xquad.{lang}.json", json.dumps(squad_doc(arts)))


def tydiqa(root: Path) -> None:
    train = [(f"Passage {i}", f"Lake {i} is {10 + i} metres deep.", [(f"english-{i}-1", f"How deep is lake {i}?", f"{10 + i} metres")])
             for i in range(10)]
    _w(root, "tydiqa/train-en.json", json.dumps(squad_doc(train)))
    for lang, name, word in (("en", "english", "capital"), ("ar", "arabic", "عاصمة")):  # ids as TyDiQA's: language-...
        dev = [("Dev", f"Cairo is the {word} of Egypt.", [(f"{name}-dev-1", f"What is the {word}?", "Cairo")])]
        _w(root, f"tydiqa/dev-{lang}.json", json.dumps(squad_doc(dev)))


# BUCC: three source sentences and two English ones; the lookup vectors give the margin scores of the hand
# computation in test_xtreme_r (10/7 for s1-t1, 0.8/0.59333 for s2-t2; s3 is never mined).
BUCC_VECTORS = {"Eins ": [1.0, 0.0], "Zwei ": [0.0, 1.0], "Drei ": [0.8, 0.6], "One ": [1.0, 0.0], "Two ": [0.6, 0.8]}


def bucc(root: Path, lang: str = "de") -> None:
    for split, gold in (("dev", ["de-1\ten-1"]), ("test", ["de-1\ten-1", "de-2\ten-2"])):
        _w(root, f"bucc2018/{lang}-en.{split}.{lang}", f"de-1\tEins {split}\nde-2\tZwei {split}\nde-3\tDrei {split}\n")
        _w(root, f"bucc2018/{lang}-en.{split}.en", f"en-1\tOne {split}\nen-2\tTwo {split}\n")
        _w(root, f"bucc2018/{lang}-en.{split}.gold", "\n".join(gold) + "\n")


# LAReQA: per language one paragraph of two sentences answering two questions. German's first sentence ("Alfa")
# embeds opposite to the alpha question, so it ranks last in the 22-sentence pool.
LAREQA_VECTORS = {"Alpha": [1.0, 0.0], "Alfa": [-1.0, 0.0], "Beta": [0.0, 1.0], "Which alpha": [1.0, 0.0],
                  "Which beta": [0.0, 1.0]}


def lareqa(root: Path, langs=LAREQA) -> None:
    for lang in langs:
        first = "Alfa is first." if lang == "de" else f"Alpha is first ({lang})."
        ctx = f"{first} Beta is second."
        breaks = [[0, len(first)], [len(first) + 1, len(ctx)]]
        qas = [("qa", "Which alpha is it?", first.split()[0]), ("qb", "Which beta is it?", "Beta")]
        doc = squad_doc([("Greek", ctx, qas)], Greek={"sentence_breaks": breaks, "sentences": [ctx[s:e] for s, e in breaks]})
        _w(root, f"lareqa/xquad-r/{lang}.json", json.dumps(doc))


# Mewsli-X: four entities; mention m1 (gold Q1) ranks Q1 first, m2 (gold Q2) ranks Q2 second.
MEWSLIX_VECTORS = {"Paris:": [1.0, 0.0, 0.0], "Berlin:": [0.0, 1.0, 0.2], "Paris is": [1.0, 0.0, 0.0],
                   "Berlin is": [0.0, 0.9, 0.0], "Bonn is": [0.0, 1.0, 0.3], "Rome is": [0.0, 0.0, 1.0]}


def _entity(qid: str, desc: str) -> dict:
    return {"entity_id": qid, "title": desc.split()[0], "description": desc + " More text.",
            "sentence_spans": [{"start": 0, "end": len(desc)}], "description_language": "en",
            "description_url": f"https://en.wikipedia.org/wiki/{qid}"}


def _mention_doc(lang: str, split: str, labelled: bool = True) -> dict:
    text = "Intro sentence here. Officials in Paris met. Later {they} went to Berlin today."
    s2 = text.index("Officials")
    s3 = text.index("Later")
    spans = [{"start": 0, "end": s2 - 1}, {"start": s2, "end": s3 - 1}, {"start": s3, "end": len(text)}]
    p, b = text.index("Paris"), text.index("Berlin")
    mentions = [{"example_id": f"{split}-{lang}-m1", "entity_id": "Q1" if labelled else "",
                 "mention_span": {"start": p, "end": p + 5, "text": "Paris"}},
                {"example_id": f"{split}-{lang}-m2", "entity_id": "Q2" if labelled else "",
                 "mention_span": {"start": b, "end": b + 6, "text": "Berlin"}}]
    ctx = {"document_title": "News", "document_url": "https://wikinews.org/x", "document_id": "d1", "language": lang,
           "text": text, "sentence_spans": spans}
    return {"context": ctx, "mentions": mentions}


def mewslix(root: Path, langs=("en", "de"), test_labelled: bool = True) -> None:
    ents = [_entity("Q1", "Paris is the capital of France."), _entity("Q2", "Berlin is the capital of Germany."),
            _entity("Q3", "Bonn is a city on the Rhine."), _entity("Q4", "Rome is the capital of Italy.")]
    _w(root, "mewslix/candidate_set_entities.jsonl", "".join(json.dumps(e) + "\n" for e in ents))
    for lang in langs:
        for split in ("dev", "test"):
            doc = _mention_doc(lang, split, labelled=split == "dev" or test_labelled)
            _w(root, f"mewslix/wikinews_mentions/{split}-{lang}.jsonl", json.dumps(doc) + "\n")


def lookup_encoder(table: dict[str, list[float]]):
    """encode(texts): the vector of the first key a text starts with (an unknown text is a test error)."""
    keys = sorted(table, key=len, reverse=True)

    def encode(texts: list[str]) -> torch.Tensor:
        out = []
        for t in texts:
            key = next((k for k in keys if t.startswith(k)), None)
            assert key is not None, f"no test vector for {t!r}"
            out.append(table[key])
        return torch.tensor(out, dtype=torch.float32)

    return encode
