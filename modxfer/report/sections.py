"""The study report's markdown sections (findings, competence, scores, similarity, gains, degradations, robustness,
noise rates, correlations), each a list of lines; ``report.write_report`` assembles them."""
from __future__ import annotations

from .format import LEGEND, SAME_SOURCE, count, flag, interval, md, mde, missing, name, pairs_text, pm, pval

TEST_UNITS = ("gain", "degradation", "robustness_gain")


# ------------------------------------------------------------------------------------------ findings
def _undecided(r) -> str:
    if r.get("mc_undecided") is True or r.get("mc_undecided") == 1:
        return (f" (its sampled permutation p, Monte Carlo SE {r['pvalue_mc_error']:.2g}, is within three SEs of "
                "its threshold: another seed could decide otherwise)")
    return ""


def findings(analysis) -> list[str]:
    st, tests = analysis.settings, analysis.tests
    label = "Holm" if st["correction"] == "holm" else "Benjamini-Hochberg"
    m = int(tests["p_adjusted"].notna().sum())
    level = st["alpha"] / max(m, 1)
    out = [f"## Findings (surviving {label} correction over {m} tests, alpha {st['alpha']})\n"]
    found = tests[tests["finding"]].sort_values("p_adjusted")
    for r in found.to_dict("records"):
        what = _what(r)
        if r["kind"] in TEST_UNITS:
            out.append(f"- {r['task']}: {what}: {interval(r)} points (95% CI), corrected p = {pval(r['p_adjusted'])}, "
                       f"{int(r['languages'])} zero-shot languages.")
        elif r["kind"] == "correlation":
            out.append(f"- {r['task']}: {what}: rho {interval(r, 2)}, corrected p = {pval(r['p_adjusted'])}"
                       + _undecided(r) + ".")
        else:
            out.append(f"- {r['task']}: {what}: the relation differs between families, contrast {interval(r, 2)}, "
                       f"corrected p = {pval(r['p_adjusted'])}" + _undecided(r) + ".")
    if found.empty:
        out.append("- No comparison survives the correction: nothing here is a finding. The inconclusive list says how "
                   "large an effect would need to be for this run to find it after correction.")
    out.append("")
    rest = tests[~tests["finding"] & tests["excluded"].isna()].sort_values("pvalue")
    if not rest.empty:
        out.append(f"### Inconclusive ({len(rest)})\n")
        out.append(f"Not a finding: to be found with {st['power']:.0%} power after the correction, a true effect would "
                   f"need to reach its corrected MDE, the MDE at alpha/m = {st['alpha']}/{m} = {level:.2g} (the level "
                   f"{label}'s first step applies; conservative for its later steps). The nominal MDE (alpha "
                   f"{st['alpha']}, two-sided) is what a single test would need. Both from the analytic (item-clustered) SE; '-' where "
                   "there is none (a correlation, or an SE of 0).\n")
        out.append(md(["task", "comparison", "estimate [95% CI]", "p", "corrected p",
                       f"MDE at alpha {st['alpha']} (points)", f"MDE at alpha/m = {level:.2g} (points)"],
                      [[r["task"], _what(r), interval(r, 2 if r["kind"] == "correlation" else 1), pval(r["pvalue"]),
                        pval(r["p_adjusted"]), mde(r["mde"]), mde(r.get("mde_corrected"))]
                       for r in rest.to_dict("records")]))
    excluded = tests[tests["excluded"].notna()]
    if not excluded.empty:
        out.append(f"### Not tested ({len(excluded)})\n")
        out.append("Kept out of the correction's family: a test here could not say anything (see why), and counting "
                   "it would only cost the others power.\n")
        out.append(md(["task", "comparison", "estimate", "why"],
                      [[r["task"], _what(r), "-" if missing(r["estimate"]) else f"{r['estimate']:+.2f}", r["excluded"]]
                       for r in excluded.to_dict("records")]))
    return out


def _what(r: dict) -> str:
    """A comparison's text, with ‡ after the composition when it pairs an intermediate with a target of the same
    data source."""
    comp = r.get("composition")
    if r["kind"] in TEST_UNITS and r.get("same_source") == "with" and comp and r["what"].startswith(comp):
        return f"{comp} {SAME_SOURCE}{r['what'][len(comp):]}"
    return r["what"]


# ------------------------------------------------------------------------------------------ models and scores
def competence_section(artifacts: list[dict], floors: dict | None = None) -> list[str]:
    """``floors``: {task: {"floor": ...}} the report measured for tasks whose cards predate recorded floors (shown
    with * where a card has none of its own)."""
    from ..scoring.competence import floor_of
    from ..composition import Composition
    from ..sweeps.results import artifact_name

    if not artifacts:
        return []
    rows, measured = [], False
    for a in artifacts:
        c = a["competence"] or {}
        ci = c.get("ci") or [None, None]
        bar = "-" if floor_of(c) is None else f"{floor_of(c)[0]:.1f}"
        name = artifact_name(a.get("id", ""))[0]
        task = Composition.parse(name).target if name else None
        if c and "floor" not in c and "majority" not in c and task in (floors or {}):
            bar, measured = f"{floors[task]['floor']:.1f}*", True
        rows.append([a["id"], c.get("metric", "-"),
                     "-" if c.get("score") is None else f"{c['score']:.1f} [{ci[0]:.1f}, {ci[1]:.1f}]",
                     bar, c.get("n", "-"),
                     "-" if a.get("examples") is None else f"{a['examples']} x {a.get('epochs') or 0:g}", a["status"]])
    return ["## Trained models: did they learn?\n",
            "Each model's score on a held-out English validation split of its own task, with its 95% CI; "
            "'not learned' when the CI does not clear the floor: the larger of chance and the majority-class rate for "
            "classification and multiple choice, the "
            "best trivial predictor on the same references for F1 tasks (the card's `floor_method` says which). "
            "Budget: training examples x epochs."
            + (" * the card predates recorded floors: the floor measured now on the task's English validation split "
               "(as relative degradation uses it); the card's own verdict was against chance." if measured else "")
            + "\n",
            md(["model", "metric", "score [95% CI]", "floor", "n", "budget", "status"], rows)]


def score_section(analysis, idx, task, df) -> list[str]:
    t = analysis.table
    part = t[(t["task"] == task) & (t["measure"] == "score") & (t["noise"] == "clean")]
    if part.empty:
        return []
    langs = list(dict.fromkeys(part.loc[part["level"] == "language", "group"]))
    english = [lang for lang in langs if lang == "en"]
    zero = [lang for lang in langs if lang != "en"]
    metric = df.loc[df["task"] == task, "metric"].iloc[0]
    rows = []
    for comp in dict.fromkeys(part["composition"]):
        rec = lambda level, group: idx.get(("score", task, comp, "clean", level, group))  # noqa: E731
        cells = []
        for lang in english + zero:
            r = rec("language", lang)
            cells.append(pm(r) + (" ~" if r and r.get("near_chance") is True else ""))
        z = rec("zero-shot", "all")
        cells.append(pm(z) + (" ~" if z and z.get("near_chance") is True else "") + count(z, len(zero)))
        first = part[part["composition"] == comp].iloc[0]
        rows.append([name(comp, first["competence"], first.get("same_source")), *cells])
    return [f"## {task}: clean {metric} by language\n",
            ("English (the training language) apart; " if english else "") + "zero-shot mean over "
            f"{len(zero)} languages. {LEGEND}" + F1_NOTES.get(task, "") + "\n",
            md(["composition", *(f"{lang} (not zero-shot)" if lang == "en" else lang for lang in english), *zero,
                "zero-shot mean"], rows)]


# What an F1 counts, where it is not what a reader would assume.
F1_NOTES = {
    "udpos": " UD-POS F1 is seqeval's chunk F1 over runs of equal UPOS tags, XTREME's convention (not per-token "
             "accuracy): a run of one tag counts as one span, so languages whose words are long runs of one tag "
             "score differently (in zh and ja the predicted spans are about half as many as the gold ones: 0.46 and 0.49 of them for the committed study's target-only model).",
    "udpos-en": " F1 as for UD-POS: seqeval's chunk F1 over runs of equal UPOS tags (XTREME's convention).",
}


def similarity_section(sims: dict) -> list[str]:
    from ..analysis.correlate import is_same_source

    inters = list(dict.fromkeys(a for a, _ in sims))
    targets = list(dict.fromkeys(t for _, t in sims))

    def cell(i, t):
        if (i, t) not in sims:
            return ""
        v = sims[(i, t)]
        mark = f" {SAME_SOURCE}" if is_same_source(i, t) else ""
        return f"n/a (no training data){mark}" if missing(v) else f"{v:.3f}{mark}"
    return ["## Task similarity (cosine of task embeddings)\n",
            "Targets without training data (retrieval) have no similarity: they are kept in every table and marked, "
            f"and left out of correlations. {SAME_SOURCE}: the two tasks' data share a source, so a high value there "
            "measures shared data, not a similar task.\n",
            md(["intermediate", *targets], [[i, *(cell(i, t) for t in targets)] for i in inters])]


# ------------------------------------------------------------------------------------------ group tables
TITLES = {"gain": "gain over the baseline without intermediates (points, clean)",
          "degradation": "degradation from clean (points; relative: share of the room above the competence floor)",
          "robustness_gain": "robustness gain: the baseline's degradation minus the composition's (points)"}


def group_section(analysis, idx, task, measure) -> list[str]:
    t = analysis.table
    part = t[(t["task"] == task) & (t["measure"] == measure)]
    if part.empty:
        return []
    fams = sorted(set(part.loc[part["level"] == "family", "group"]))
    counts = {f: int(part.loc[(part["level"] == "family") & (part["group"] == f), "languages"].max()) for f in fams}
    zero_n = int(part.loc[part["level"] == "zero-shot", "languages"].max()) if (part["level"] == "zero-shot").any() else 0
    has_en = bool(((part["level"] == "language") & (part["group"] == "en")).any())
    rows = []
    for comp, noise in dict.fromkeys(zip(part["composition"], part["noise"])):
        rec = lambda level, group, m=measure: idx.get((m, task, comp, noise, level, group))  # noqa: E731
        first = part[(part["composition"] == comp)].iloc[0]
        z = rec("zero-shot", "all")
        near = " ~" if measure != "gain" and z is not None and flag(z.get("near_chance")) else ""
        cells = [name(comp, first["competence"], first.get("same_source") if measure != "gain" else False) + near]
        if measure == "gain":
            mark = f" {SAME_SOURCE}" if flag(first.get("same_source")) else ""
            cells.append("n/a (no training data)" + mark if missing(first["similarity"])
                         else f"{first['similarity']:.3f}{mark}")
        else:
            cells.append(noise)
        if measure == "degradation":
            rate = None if z is None else z.get("noise_rate")
            cells.append("-" if missing(rate) else f"{100 * rate:.1f}%" + nothing(z))
        for f in fams:
            r = rec("family", f)
            cells.append(pm(r, signed=True) + count(r, counts[f]) + nothing(r))
        cells.append(pm(z, signed=True) + count(z, zero_n) + nothing(z))
        if measure == "degradation":
            rel = rec("zero-shot", "all", "rel_degradation")
            cells.append("-" if rel is None else "n/a (clean near chance)" if rel.get("room_includes_zero") is True
                         else pm(rel, 0, 100.0) + "%")
        if has_en:
            cells.append(pm(rec("language", "en"), signed=True))
        rows.append(cells)
    headers = ["composition", "similarity" if measure == "gain" else "noise"]
    if measure == "degradation":
        headers.append("chars changed")
    headers += [f"{f} ({counts[f]})" for f in fams] + [f"zero-shot ({zero_n})"]
    if measure == "degradation":
        headers.append("relative (zero-shot)")
    if has_en:
        headers.append("en (not zero-shot)")
    return [f"## {task}: {TITLES[measure]}, by language family\n",
            "Compared over the seeds and languages both sides have; family and zero-shot columns average languages "
            f"(each once; English apart). {LEGEND}\n", md(headers, rows)]


def nothing(rec) -> str:
    return " ∅" if rec is not None and rec.get("changed_nothing") is True else ""


def noise_rate_section(df) -> list[str]:
    """One table per task: a setting's realised rate depends on the task's text (word dropout can change every
    NLI sentence and no tagged token), so rates pooled over tasks would be neither task's."""
    if "noise_rate" not in df or df["noise_rate"].isna().all():
        return []
    noisy = df[(df["noise"] != "clean") & df["noise_rate"].notna()]
    out = ["## Realised noise rate per task and language\n",
           "Share of characters / words the noise actually changed against the clean text (mean over the "
           "evaluated examples). A setting can change nothing in a script it has no edits for, or in a task whose "
           "text it does not touch.\n"]
    keys = ["task", "noise", "lang"]
    chars = noisy.groupby(keys, sort=False)["noise_rate"].mean()
    words = noisy.groupby(keys, sort=False)["noise_words_rate"].mean() if "noise_words_rate" in noisy else None
    for task in dict.fromkeys(noisy["task"]):
        part = noisy[noisy["task"] == task]
        langs = list(dict.fromkeys(part["lang"]))
        rows = []
        for noise in dict.fromkeys(part["noise"]):
            cells = []
            for lang in langs:
                c = chars.get((task, noise, lang))
                w = None if words is None else words.get((task, noise, lang))
                if c is None or missing(c):
                    cells.append("-")
                else:
                    cells.append(f"{100 * c:.1f}%" + ("" if w is None or missing(w) else f" / {100 * w:.0f}%")
                                 + (" ∅ changed nothing" if c == 0 else ""))
            rows.append([noise, *cells])
        out += [f"### {task}\n", md(["noise", *langs], rows)]
    return out


# ------------------------------------------------------------------------------------------ correlations
SUBSET_TEXT = {"with": f"included ({SAME_SOURCE})", "without": "left out", "none": "none"}


def correlation_section(analysis) -> list[str]:
    corr, inter = analysis.correlations, analysis.interactions
    out = []
    if not corr.empty:
        rows = []
        for r in corr.to_dict("records"):
            reason = "" if missing(r["reason"]) else str(r["reason"])
            rho = "" if missing(r["rho"]) else interval({"estimate": r["rho"], "low": r["low"], "high": r["high"]}, 2)
            if reason:
                rho = ("too few pairs" if reason.startswith("too few pairs (") and missing(r["rho"]) else reason) + (
                    f"; rho {rho}" if rho else "")
            pairs = pairs_text(r["pairs"])
            if not missing(r["no_similarity"]):
                pairs += f"; no similarity: {r['no_similarity']}"
            if not missing(r.get("not_learned")):
                pairs += f"; left out, did not learn: {r['not_learned']}"
            if not missing(r.get("changed_nothing")):
                pairs += f"; left out, the noise changed nothing on: {r['changed_nothing']}"
            rows.append([r["task"], r["kind"], r["measure"], r["noise"], SUBSET_TEXT.get(r["same_source"], ""),
                         r["n_pairs"], rho, pval(r["pvalue"]), pairs])
        out += ["## Similarity vs gain and robustness gain\n",
                "One point per distinct (intermediate, target) pair, its measure averaged over the zero-shot "
                "languages; n = distinct pairs. Pooled over targets, ranks are taken within each target. p: "
                "permutation test within targets (exact when the orderings are few; uncorrected here, corrected in "
                "the findings); CI: pairs and examples resampled. Fusions (several intermediates) are no single pair "
                f"and are left out, and so are comparisons with a model that did not learn and robustness gains under "
                "noise that changed nothing on a target. Where a scope holds a "
                f"same-source pair ({SAME_SOURCE}), the correlation is computed with and without it and both are "
                "tested. A correlation whose smallest attainable p is at or above its corrected threshold is reported, not "
                "tested (see \"Not tested\").\n",
                md(["target", "kind", "measure", "noise", f"same-source {SAME_SOURCE} pairs", "n pairs",
                    "rho [95% CI]", "p", "pairs"], rows)]
    if not inter.empty:
        def family_rhos(r) -> str:
            sizes = r.get("family_languages") or {}
            return ", ".join(f"{k} {v:+.2f} ({sizes.get(k, '?')})" for k, v in (r["family_rho"] or {}).items())
        rows = [[r["task"], r["kind"], r["measure"], r["noise"], SUBSET_TEXT.get(r["same_source"], ""), r["languages"],
                 r["families"], family_rhos(r),
                 "" if missing(r["statistic"]) else f"{r['contrast']}: " + interval(
                     {"estimate": r["statistic"], "low": r["low"], "high": r["high"]}, 2)
                 + ("" if missing(r.get("spread")) else f" (spread {r['spread']:.2f})"),
                 (pval(r["pvalue"]) + ("" if r.get("exact") else f" (MC SE {r['pvalue_mc_error']:.2g})")
                  if missing(r["reason"]) else r["reason"])
                 + ("" if missing(r.get("not_learned")) else f"; left out, did not learn: {r['not_learned']}")]
                for r in inter.to_dict("records")]
        out += ["## Does the similarity-outcome relation differ between language families?\n",
                "Per language, Spearman's rho between similarity and the measure over its pairs; per family the mean "
                "rho (languages in brackets); the contrast between the two families with the most languages "
                "(difference of their mean rhos, on rho's scale, centred on 0 when families do not differ; CI: "
                "languages resampled within families, each with its own test-item resampling) and, descriptive only, "
                "the spread (largest minus smallest family mean). The omnibus test permutes family labels across "
                "languages (language is the unit; exact when the labellings are few). Families with "
                "one language cannot be told apart from that language. With and without same-source pairs "
                f"({SAME_SOURCE}) as above.\n",
                md(["target", "kind", "measure", "noise", f"same-source {SAME_SOURCE} pairs", "languages", "families",
                    "mean rho per family (languages)", "contrast [95% CI] (spread)",
                    "p (uncorrected) or why not"], rows)]
    return out
