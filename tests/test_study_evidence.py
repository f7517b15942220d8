"""The committed study's report against its own bundle, checked with code independent of modxfer.stats: XNLI's
intervals account for translated items, its findings do not depend on the bootstrap's seed, every test in its family
can pass the correction, and a model that did not clear its majority class is out."""
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

STUDY = Path(__file__).resolve().parents[1] / "studies" / "e5-similarity-robustness"
ZERO_SHOT = ("ar", "es", "hi", "ru", "sw", "th", "tr", "zh")


@pytest.fixture(scope="module")
def report():
    return json.loads((STUDY / "report" / "report.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def rows():
    df = pd.read_parquet(STUDY / "results" / "results.parquet")
    df["outcomes"] = [json.loads(o) if isinstance(o, str) else o for o in df["outcomes"]]
    return df


def _correct(rows, comp, lang):
    r = rows[(rows["task"] == "xnli") & (rows["composition"] == comp) & (rows["lang"] == lang)
             & (rows["noise"] == "clean")].iloc[0]["outcomes"]
    line = [i.rsplit(":", 1)[1] for i in r["ids"]]  # line i of every language's dev file is one item
    return pd.Series(r["correct"], index=line, dtype=float)


def test_every_xnli_gain_has_at_least_the_item_clustered_standard_error(report, rows):
    gains = [t for t in report["analysis"]["tests"] if t["task"] == "xnli" and t["kind"] == "gain"]
    assert len(gains) >= 8
    for t in gains:
        comp, base = t["what"].split(": ")[0].split(" vs ")
        per_item = pd.concat([_correct(rows, comp, lang) - _correct(rows, base, lang) for lang in ZERO_SHOT], axis=1)
        assert per_item.notna().all().all() and len(per_item) == 120  # the same items in every language
        y = 100 * per_item.mean(axis=1).to_numpy()
        clustered = float(np.std(y, ddof=1) / math.sqrt(len(y)))
        naive = math.sqrt(sum(np.var(100 * per_item[c], ddof=1) / len(y) for c in per_item) / len(ZERO_SHOT) ** 2)
        assert t["estimate"] == pytest.approx(float(y.mean()), abs=1e-9)
        assert t["se"] >= clustered - 1e-9, (t["what"], t["se"], clustered)
        assert clustered > naive  # translations correlate: independent strata understated it


def test_findings_do_not_depend_on_the_bootstrap_seed(report, rows):
    from modxfer.analysis import analyse
    from modxfer.report import task_floors
    from modxfer.sweeps.bundle import read_bundle
    from modxfer.sweeps.results import restate_competence

    bundle = read_bundle(STUDY / "results")
    df, artifacts = restate_competence(bundle.results, bundle.artifacts)
    from modxfer.similarity.pairs import pair_similarity, pairs_in

    sims = pair_similarity(pairs_in(df), bundle.similarity.get("textemb"))
    floors = {t: f for t, (f, _) in task_floors(artifacts, ["xnli", "udpos"]).items()}
    committed = sorted((t["task"], t["what"]) for t in report["analysis"]["tests"] if t["finding"])
    assert committed
    for seed in (7, 1234):
        a = analyse(df, sims, n_resamples=200, seed=seed, require_comparisons=False, floors=floors)
        assert sorted(zip(a.findings["task"], a.findings["what"])) == committed


def test_every_test_in_the_family_can_pass_and_interactions_are_on_a_readable_scale(report):
    tests = report["analysis"]["tests"]
    family = [t for t in tests if t["p_adjusted"] is not None]
    m = report["analysis"]["settings"]["tests"]
    assert len(family) == m and all(t["min_pvalue"] < 0.05 / m for t in family)
    assert any((t["excluded"] or "").startswith("cannot pass the correction") for t in tests)
    for r in report["analysis"]["interactions"]:
        if r["statistic"] is not None:  # a signed difference of two families' mean rank correlations
            assert " - " in r["contrast"] and -2 <= r["low"] <= r["statistic"] <= r["high"] <= 2


def test_socialiqa_below_its_majority_class_is_flagged_and_kept_out(report):
    siqa = next(a for a in report["competence"] if a["id"] == "train siqa seed=0")
    assert siqa["status"] == "not learned" and siqa["competence"]["ci"][0] < siqa["competence"]["majority"]
    tests = report["analysis"]["tests"]
    uses = [t for t in tests if t["composition"] and "siqa" in t["composition"]]
    assert uses and all(t["excluded"] and "did not learn" in t["excluded"] for t in uses)
    assert all("siqa" not in (c["pairs"] or "") for c in report["analysis"]["correlations"])
