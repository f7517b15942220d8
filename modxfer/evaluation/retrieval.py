"""Scoring the retrieval and mining targets from sentence embeddings, as XTREME(-R)'s scripts do.

``score(task, rows, encode, lang)`` takes the evaluated rows (perturbed or not) and ``encode(texts) -> Tensor[n, H]``
(float32, mean-pooled; the composition under test is whatever ``encode`` runs) and returns predictions and
references aligned with ``rows`` (one entry per row, ready to save) and the task's metrics in percent:

- ``tatoeba``: nearest English sentence by cosine for each source sentence (accuracy), and the reverse direction
  (``accuracy_en_to_xx``); XTREME's ``similarity_search``.
- ``bucc``: XTREME's ``mine_bitext`` (mode ``mine``, retrieval ``max``, ratio margin over 4 neighbours in both
  directions, cosine) on the deduplicated corpora, candidates mapped back to sentence ids as ``bucc_eval`` does;
  the threshold is ``bucc_optimize``'s on the ``calibration`` rows (BUCC sample), applied to the test rows
  (``bucc_extract``), scored with ``bucc_f1``. Per row: the mined partner ids and the gold partner ids.
- ``lareqa``: each question ranked by cosine against every sentence (+ its paragraph) of all XQuAD-R languages; gold
  are the answer sentences in every language (``utils_lareqa``); mAP@20. Per row: the top 20 and the gold ids.
- ``mewslix``: each mention (XTREME's ``preprocess_mention`` text) ranked by cosine against every entity description;
  mAP@20 (= MRR@20). Per row: the top 20 entity ids and the gold entity.

The pool (``candidates``) and BUCC's ``calibration`` rows are read clean with :func:`support`; pass a ``cache`` dict,
one per model, so a pool is encoded once across languages and noise settings.
"""

from __future__ import annotations

import hashlib
import re
from typing import Callable, Sequence

import numpy as np
import torch

from ..scoring import metrics
from ..errors import DataError
from ..tasks import Task, get_task

Encode = Callable[[list[str]], torch.Tensor]
TOP_K = 20  # XTREME-R caps LAReQA and Mewsli-X at the top 20
BUCC_NEIGHBOURS = 4
_SCORE_CELLS = 1 << 26  # query-chunk x pool floats per similarity block (256 MB)


def support(task: Task | str, lang: str, data_dir=None) -> dict[str, list[dict]]:
    """The clean rows :func:`score` needs besides the evaluated ones: ``candidates`` or ``calibration`` (or none)."""
    task = get_task(task)
    return {split: task.rows(split, lang, data_dir=data_dir) for split in ("candidates", "calibration")
            if split in task.splits}


def score(task: Task | str, rows: Sequence[dict], encode: Encode, lang: str, *, candidates: Sequence[dict] | None = None,
          calibration: Sequence[dict] | None = None, cache: dict | None = None) -> tuple[list, list, dict[str, float]]:
    """Predictions and references (aligned with ``rows``) and the metrics (percent) of a retrieval target."""
    task = get_task(task)
    rows = list(rows)
    if not rows:
        raise DataError(f"no {task.name} rows to score ({lang})", "evaluate at least one example")
    if task.name == "tatoeba":
        return _tatoeba(rows, encode)
    if task.name == "bucc":
        if not calibration:
            raise DataError("BUCC needs its calibration rows (BUCC sample) to choose the mining threshold",
                            "pass calibration=task.rows('calibration', lang) (see modxfer.evaluation.retrieval.support)")
        return _bucc(rows, list(calibration), encode, lang, cache)
    if task.name in ("lareqa", "mewslix"):
        if not candidates:
            raise DataError(f"{task.name} ranks against a candidate pool, and none was given",
                            "pass candidates=task.rows('candidates', lang) (see modxfer.evaluation.retrieval.support)")
        pool = _encoded_pool(task.name, list(candidates), encode, cache)
        if task.name == "lareqa":
            return _lareqa(rows, list(candidates), pool, encode)
        return _mewslix(rows, list(candidates), pool, encode)
    raise DataError(f"task {task.name!r} is not a retrieval target", "score it with modxfer.scoring.metrics.score")


# ------------------------------------------------------------------ shared
def _unit(x: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.normalize(x.float(), dim=-1)


def top_k(queries: torch.Tensor, pool: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Inner products and indices of each query's ``k`` best pool vectors, best first, in memory-bounded blocks."""
    k = min(k, pool.shape[0])
    step = max(1, _SCORE_CELLS // max(1, pool.shape[0]))
    sims, idx = [], []
    for start in range(0, queries.shape[0], step):
        s, i = (queries[start:start + step] @ pool.T).topk(k, dim=1)
        sims.append(s)
        idx.append(i)
    return torch.cat(sims), torch.cat(idx)


def _fingerprint(*parts: Sequence[str]) -> str:
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        for s in part:
            h.update(s.encode("utf-8"))
            h.update(b"\0")
        h.update(b"\1")
    return h.hexdigest()


def _cached(cache: dict | None, key: tuple, compute: Callable):
    if cache is None:
        return compute()
    if key not in cache:
        cache[key] = compute()
    return cache[key]


# ------------------------------------------------------------------ Tatoeba
def _tatoeba(rows, encode):
    from ..model.inference import retrieval_predictions

    src = encode([r["source"] for r in rows])
    tgt = encode([r["target"] for r in rows])
    gold = list(range(len(rows)))
    fwd = retrieval_predictions(src, tgt)
    back = retrieval_predictions(tgt, src)
    scores = metrics.score_kind("retrieval", fwd, gold)
    scores["accuracy_en_to_xx"] = metrics.score_kind("retrieval", back, gold)["accuracy"]
    return fwd, gold, scores


# ------------------------------------------------------------------ BUCC
def mine(src_texts: Sequence[str], tgt_texts: Sequence[str], x: torch.Tensor, y: torch.Tensor,
         neighbours: int = BUCC_NEIGHBOURS) -> list[tuple[str, str, float]]:
    """XTREME's ``mine_bitext`` (mode mine, retrieval max, ratio margin, cosine) on unique sentences.

    ``x``/``y`` embed ``src_texts``/``tgt_texts`` (already unique). Returns (source text, target text, score) for the
    greedy one-to-one pairs with a positive margin score, best first (the candidates file).
    """
    x, y = _unit(x), _unit(y)
    x2y_sim, x2y_ind = top_k(x, y, min(y.shape[0], neighbours))
    y2x_sim, y2x_ind = top_k(y, x, min(x.shape[0], neighbours))
    x2y_mean, y2x_mean = x2y_sim.double().mean(1), y2x_sim.double().mean(1)
    # score_candidates with the ratio margin: cos(a, b) / mean of the two neighbourhood averages. The cosines of
    # the candidates are the k-NN similarities already at hand.
    fwd = x2y_sim.double() / ((x2y_mean.unsqueeze(1) + y2x_mean[x2y_ind]) / 2)
    bwd = y2x_sim.double() / ((y2x_mean.unsqueeze(1) + x2y_mean[y2x_ind]) / 2)
    fwd_best = x2y_ind[torch.arange(x.shape[0]), fwd.argmax(1)].numpy()
    bwd_best = y2x_ind[torch.arange(y.shape[0]), bwd.argmax(1)].numpy()
    indices = np.stack((np.concatenate((np.arange(x.shape[0]), bwd_best)),
                        np.concatenate((fwd_best, np.arange(y.shape[0])))), axis=1)
    scores = np.concatenate((fwd.max(1).values.numpy(), bwd.max(1).values.numpy()))
    seen_src, seen_trg, out = set(), set(), []
    for i in np.argsort(-scores):
        s, t = indices[i]
        if s not in seen_src and t not in seen_trg:
            seen_src.add(s)
            seen_trg.add(t)
            if scores[i] > 0:
                out.append((src_texts[s], tgt_texts[t], float(scores[i])))
    return out


def _sent2id(rows: list[dict]) -> dict[str, str]:
    """``read_sent2id``: stripped sentence -> id, dropping sentences that occur more than once."""
    seen: dict[str, str] = {}
    repeated = set()
    for r in rows:
        s = r["text"].strip()
        if s in seen:
            repeated.add(s)
        else:
            seen[s] = r["id"]
    return {s: i for s, i in seen.items() if s not in repeated}


def candidates_to_ids(mined, src_rows, tgt_rows) -> dict[tuple[str, str], float]:
    """``read_candidate2score``: mined text pairs -> (source id, target id) with the best score, in mined order."""
    src_ids, tgt_ids = _sent2id(src_rows), _sent2id(tgt_rows)
    out: dict[tuple[str, str], float] = {}
    for s, t, sc in mined:
        s, t = s.strip(), t.strip()
        if s in src_ids and t in tgt_ids:
            key = (src_ids[s], tgt_ids[t])
            out[key] = max(sc, out.get(key, sc))
    return out


def optimize_threshold(cand2score: dict[tuple[str, str], float], gold: set[tuple[str, str]]) -> float:
    """``bucc_optimize``: the midpoint between the scores around the F1-best cut of the ranked candidates.

    XTREME indexes one past the end when the best cut is the last candidate (an IndexError); the last score is
    used instead, which extracts the same pairs.
    """
    items = sorted(cand2score.items(), key=lambda kv: -kv[1])
    nextract = ncorrect = 0
    threshold = best_f1 = 0.0
    for i, (pair, sc) in enumerate(items):
        nextract += 1
        ncorrect += pair in gold
        if ncorrect > 0:
            precision, recall = ncorrect / nextract, ncorrect / len(gold)
            f1 = 2 * precision * recall / (precision + recall)
            if f1 > best_f1:
                best_f1 = f1
                threshold = (sc + items[i + 1][1]) / 2 if i + 1 < len(items) else sc
    return threshold


def _mined_pairs(rows: list[dict], encode: Encode, cache, key) -> dict[tuple[str, str], float]:
    src = [r for r in rows if r["side"] == "source"]
    tgt = [r for r in rows if r["side"] == "target"]
    if not src or not tgt:
        raise DataError("BUCC mining needs sentences on both sides", "evaluate with both corpora's rows")
    src_u = list(dict.fromkeys(r["text"] for r in src))  # text_load_unify
    tgt_u = list(dict.fromkeys(r["text"] for r in tgt))

    mined = _cached(cache, (key or ()) + (_fingerprint(src_u, tgt_u),),
                    lambda: mine(src_u, tgt_u, encode(src_u), encode(tgt_u)))
    return candidates_to_ids(mined, src, tgt)


def _gold_pairs(rows: list[dict]) -> set[tuple[str, str]]:
    targets = {r["id"] for r in rows if r["side"] == "target"}
    # a subset of the corpora (``limit``) keeps only the gold pairs whose two sentences are both there
    return {(r["id"], t) for r in rows if r["side"] == "source" for t in r["gold"] if t in targets}


def _bucc(rows, calibration, encode, lang, cache):
    gold_cal = _gold_pairs(calibration)
    if not gold_cal:
        raise DataError(f"the BUCC calibration rows ({lang}) hold no gold pair", "use the unmodified BUCC sample files")
    threshold = optimize_threshold(_mined_pairs(calibration, encode, cache, ("bucc-calibration", lang)), gold_cal)
    mined = _mined_pairs(rows, encode, None, None)  # the evaluated rows may be perturbed: never cached
    extracted = {pair for pair, sc in mined.items() if sc >= threshold}  # bucc_extract
    gold = _gold_pairs(rows)
    scores = metrics.score_kind("bucc", sorted(extracted), sorted(gold))
    scores["threshold"] = threshold
    return _per_source_row(rows, extracted), _per_source_row(rows, gold), scores


def _per_source_row(rows: list[dict], pairs: set[tuple[str, str]]) -> list[list[str]]:
    partner: dict[str, list[str]] = {}
    for s, t in sorted(pairs):
        partner.setdefault(s, []).append(t)
    return [partner.get(r["id"], []) if r["side"] == "source" else [] for r in rows]


# ------------------------------------------------------------------ LAReQA and Mewsli-X
def lareqa_candidate_text(c: dict) -> str:
    return (c["sentence"] + c["context"]).replace("\n", "")  # XTREME embeds sentence + paragraph, newlines dropped


def mewslix_query_text(row: dict) -> str:
    """XTREME's ``preprocess_mention`` on a one-sentence context: the mention, then the sentence with it in braces."""
    start = row["mention_start"]
    mention = row["mention_text"]
    left, right = row["context"][:start], row["context"][start + len(mention):]
    left = _BRACES.sub(r"(\1)", left)
    right = _BRACES.sub(r"(\1)", right)
    query = f"{mention}: {left} {{ {mention} }} {right}"
    return " ".join(query.splitlines()).replace("  ", " ").strip()


_BRACES = re.compile(r"{(.*?)}")


def _encoded_pool(name: str, candidates: list[dict], encode: Encode, cache) -> torch.Tensor:
    texts = [lareqa_candidate_text(c) if name == "lareqa" else c["text"] for c in candidates]
    key = ("candidates", name, _fingerprint([c["id"] for c in candidates], texts))
    return _cached(cache, key, lambda: _unit(encode(texts)))


def _ranked(queries: list[str], pool: torch.Tensor, ids: list[str], encode: Encode) -> list[list[str]]:
    _, idx = top_k(_unit(encode(queries)), pool, TOP_K)
    return [[ids[j] for j in row] for row in idx.tolist()]


def _lareqa(rows, candidates, pool, encode):
    by_xling: dict[str, list[str]] = {}
    for c in candidates:
        for x in c["xling_ids"]:
            by_xling.setdefault(x, []).append(c["id"])
    refs = [by_xling.get(r["xling_id"], []) for r in rows]
    missing = [r["id"] for r, g in zip(rows, refs) if not g]
    if missing:
        raise DataError(f"{len(missing)} LAReQA question(s) have no answer sentence in the pool (e.g. {missing[0]})",
                        "rank against the candidates of all XQuAD-R languages (support(task, lang))")
    preds = _ranked([r["question"] for r in rows], pool, [c["id"] for c in candidates], encode)
    return preds, refs, metrics.score_kind("map@20", preds, refs)


def _mewslix(rows, candidates, pool, encode):
    preds = _ranked([mewslix_query_text(r) for r in rows], pool, [c["id"] for c in candidates], encode)
    refs = [[r["entity_id"]] for r in rows]
    return preds, refs, metrics.score_kind("map@20", preds, refs)
