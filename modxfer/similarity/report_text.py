"""The markdown of the selection section: the measures, the selection tables and the correlations."""

from __future__ import annotations

import math

from .ranks import SAME_SOURCE_MARK as MARK

TITLE = "## Which similarity predicts transfer, and which predicts robustness"
OUTCOME_NAMES = {"clean_gain": "clean gain over the target-only baseline", "noisy_score": "score under noise",
                 "robustness_gain": "robustness gain (baseline's degradation minus the composition's)"}
REGRET = "Regret@{k} (% of best score)"


def _missing(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _ci(v, lo, hi, pct=False, note=None) -> str:
    if isinstance(note, str):  # a vacuous metric; pandas reads "no note" as NaN, which is truthy
        return "n/a"
    if _missing(v):
        return "-"
    f = (lambda x: f"{x:.1f}") if pct else (lambda x: f"{x:.2f}")
    if _missing(lo):
        return f(v)
    return f"{f(v)} [{f(lo)}, {f(hi)}]"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows]) + "\n"


def _cells(sub, ks) -> list[str]:
    def cell(k, metric, pct):
        if k not in sub.index:
            return "-"
        r = sub.loc[k]
        return _ci(r[metric], r[f"{metric}_low"], r[f"{metric}_high"], pct, r[f"{metric}_note"])
    return [cell(k, "ndcg", False) for k in ks] + [cell(k, "regret", True) for k in ks]


def _selection_rows(t, measures, ks, label=()) -> list[list[str]]:
    rows = []
    for m in measures:
        sub = t[t["measure"] == m].set_index("k")
        if not sub.empty:
            rows.append([*label, f"`{m}`" if m not in ("random", "oracle") else m, *_cells(sub, ks)])
    return rows


def _candidates(t, ks) -> str:
    c = t[(t["scope_kind"] == "languages") & (t["target"] != "mean") & (t["measure"] == "oracle")
          & (t["k"] == ks[0])]
    per = {}
    for r in c.itertuples():
        per.setdefault(r.target, {})[r.same_source] = int(r.candidates)
    text = ", ".join(f"`{tg}` {n.get('with', '-')} ({n.get('without', '-')} without {MARK})" for tg, n in per.items())
    return (f"Candidates per target: {text}. With C candidates Regret@k for k >= C is 0 for any ranking and NDCG@k "
            "for k > C repeats NDCG@C, so those cells read n/a (and so does a mean over targets that includes one).\n")


def _intro(ev, kind, level) -> str:
    pct = f"{int(round(level * 100))}%"
    return (f"Each measure ranks the intermediates of every `{kind}` composition for its target; the ranking is scored "
            "against what was measured (Poth et al. 2021): NDCG@k (relevance = the outcome shifted so the worst "
            "candidate is 0, log2 discount) and Regret@k = (best outcome - best outcome among the top k) in percent "
            "of the best composition's *score* (Poth et al.'s O_max: a gain can be near 0 or negative, so it is not "
            "the denominator). `random` is the exact expectation of a random ranking, `oracle` the measured order. "
            f"Means over targets. {pct} percentile intervals ({ev.n_resamples} replicates): replicate b resamples "
            "each target's zero-shot languages and takes replicate b of each outcome's paired per-example bootstrap "
            "and of each measure's bootstrap over its sampled inputs, so two candidates within noise of each other "
            f"swap places across replicates. {MARK} marks pairs whose data share a source (e.g. mnli/xnli), as in the "
            "rest of the report (where † marks a model that did not learn): their similarity measures shared data, "
            "so results are also given without them.\n")


def _excluded(ev) -> list[str]:
    out = []
    if ev.excluded:
        out.append("Left out of selection, because a model did not learn: "
                   + "; ".join(f"`{e['composition']}` ({e['reason']})" for e in ev.excluded) + ".\n")
    out += [f"Note: {n}.\n" for n in ev.notes]
    return out


def markdown(ev, matrices, plots, agree, sep, skipped, no_train, kind, level) -> str:
    t = ev.table
    ks = sorted(set(t["k"]))
    order = [*matrices, "random", "oracle"]
    head = [*(f"NDCG@{k}" for k in ks), *(REGRET.format(k=k) for k in ks)]
    parts = [TITLE + "\n", _intro(ev, kind, level), *_excluded(ev)]
    if no_train:
        parts.append(f"Targets without training data (no similarity defined): {', '.join(no_train)}.\n")
    if skipped:
        parts.append("Measures not computed: " + "; ".join(f"`{m}` ({why})" for m, why in skipped.items()) + ".\n")
    parts.append(_candidates(t, ks))
    parts.append("### The measures\n")
    rows = [[f"`{m}`", str(mat.card.get("examples", "-")), _reference(mat.card), _sep(sep[m]["all"]),
             _sep(sep[m]["without_same_source"])] for m, mat in matrices.items()]
    parts.append(_table(["measure", "inputs per task", "centred on", "most vs least similar pair (separation in SEs)",
                         f"same, without {MARK} pairs"], rows))
    if any(mat.card.get("reference") for mat in matrices.values()):
        parts.append("The corrected TextEmb variants are centred (and whitened) on a fixed reference set of tasks, "
                     "never on the tasks compared, so a pair's value is the same in `modxfer similarity`, `modxfer "
                     "select` and this report; values compare only under the same reference sha256 and backbone.\n")
    parts += [f"![{m}]({p})\n" for m, p in plots.items()]
    for outcome in [o for o in OUTCOME_NAMES if o in set(t["outcome"])]:
        parts += _outcome_section(t, ev, outcome, order, [*matrices, "random"], ks, head)
    parts.append(_correlations(ev.correlations, level))
    parts.append("### Agreement between measures\n\nSpearman's rho between two measures over the "
                 "(intermediate, target) pairs:\n")
    parts.append(_table(["", *(f"`{c}`" for c in agree.columns)],
                        [[f"`{a}`", *(("-" if math.isnan(agree.loc[a, b]) else f"{agree.loc[a, b]:+.2f}")
                                      for b in agree.columns)] for a in agree.index]))
    return "\n".join(parts)


def _reference(card: dict) -> str:
    """The reference set a matrix's values are relative to ('-' for measures without one; '?' for a matrix stored
    before references were recorded)."""
    if "reference" not in card:
        return "? (not recorded)" if card.get("correction") in ("center", "whiten") else "-"
    ref = card["reference"]
    if not ref:
        return "-"
    return f"{len(ref['tasks'])} tasks x {ref['examples_per_task']} inputs (sha256 {ref['sha256'][:12]})"


def _outcome_section(t, ev, outcome, order, measures, ks, head) -> list[str]:
    parts = [f"### Selection by {OUTCOME_NAMES[outcome]}\n"]
    for ss, label in (("with", "all candidates"), ("without", f"without {MARK} same-source pairs")):
        sub = ev.summary(outcome, same_source=ss)
        if not sub.empty:
            parts += [f"Mean over targets, all languages, {label}:\n", _table(["measure", *head],
                                                                              _selection_rows(sub, order, ks))]
    per = t[(t["outcome"] == outcome) & (t["target"] != "mean") & (t["scope_kind"] == "languages")]
    if not per.empty:
        rows = []
        for tg in dict.fromkeys(per["target"]):
            for ss in ("with", "without"):
                sub = per[(per["target"] == tg) & (per["same_source"] == ss)]
                if not sub.empty:
                    n = f"{int(sub['candidates'].iloc[0])}" + ("" if ss == "with" else f" (without {MARK})")
                    rows += _selection_rows(sub, measures, ks, (f"`{tg}`", n))
        parts.append("<details><summary>Per target</summary>\n\n"
                     + _table(["target", "candidates", "measure", *head], rows) + "\n</details>\n")
    fam = t[(t["outcome"] == outcome) & (t["target"] == "mean") & (t["scope_kind"] == "family")
            & (t["same_source"] == "with")]
    if not fam.empty:
        rows = [r for f in sorted(set(fam["scope"]))
                for r in _selection_rows(fam[fam["scope"] == f], measures, ks, (f,))]
        parts.append("<details><summary>Per language family (mean over targets with languages in the "
                     "family)</summary>\n\n" + _table(["family", "measure", *head], rows) + "\n</details>\n")
    return parts


def _sep(s) -> str:
    if not s:
        return "-"
    r = "inf" if math.isinf(s["ratio"]) else ("-" if math.isnan(s["ratio"]) else f"{s['ratio']:.1f}")
    return (f"{s['max']:.3f} ({'/'.join(s['max_pair'])}) vs {s['min']:.3f} ({'/'.join(s['min_pair'])}): "
            f"{r}")


def _p(p, exact) -> str:
    if _missing(p):
        return "-"
    return f"{p:.2g}" + (" (exact)" if exact else "")


def _corr_row(r) -> list[str]:
    pairs = "all" if r.same_source == "with" else f"without {MARK}"
    target = "all targets (within-target ranks)" if r.target == "all" else f"`{r.target}`"
    if isinstance(r.reason, str):  # pandas reads a missing reason as NaN, which is truthy
        return [f"`{r.measure}`", r.outcome, target, pairs, str(r.n), r.reason, "-", "-"]
    return [f"`{r.measure}`", r.outcome, target, pairs, str(r.n), _ci(r.spearman, r.spearman_low, r.spearman_high),
            _p(r.spearman_p, r.p_exact), _ci(r.kendall, r.kendall_low, r.kendall_high)]


def _correlations(c, level) -> str:
    if c.empty:
        return ""
    pooled = c[c["target"] == "all"]
    main = pooled if not pooled.empty else c
    head = ["measure", "outcome", "target", "pairs", "n", "Spearman", "p (uncorrected)", "Kendall"]
    text = ("### Correlation with the measured outcomes\n\nOne point per (intermediate, target) pair, the outcome "
            "averaged over the target's zero-shot languages; n counts distinct pairs, and below 5 the table says "
            "\"too few pairs\" instead of a rho. Targets are not pooled on raw values (their metrics differ, "
            "e.g. XNLI accuracy and PAN-X F1, and so do their similarity levels): over all targets, both variables "
            "are ranked within each target. p is a permutation test within targets (exact where the permutations "
            "are few), **uncorrected and descriptive**: these correlations are not among the report's corrected "
            f"tests. {int(round(level * 100))}% intervals resample pairs within targets, with the outcomes' and "
            "similarities' own bootstrap replicates.\n\n" + _table(head, [_corr_row(r) for r in main.itertuples()]))
    if not pooled.empty:
        per = c[c["target"] != "all"]
        text += ("\n<details><summary>Per target</summary>\n\n" + _table(head, [_corr_row(r) for r in
                                                                               per.itertuples()]) + "\n</details>\n")
    return text
