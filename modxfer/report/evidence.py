"""The study report's evidence box: what limits this run's evidence, one plain line per limitation."""
from __future__ import annotations

from .format import NOT_LEARNED, SAME_SOURCE, UNKNOWN, pairs_text


def evidence(df, analysis, artifacts: list[dict], counts: dict) -> list[str]:
    t, out = analysis.table, []
    st = analysis.settings
    if st["rows_with_outcomes"] == 0:
        out.append("This run kept no per-example outcomes (made before modxfer recorded them): scores are point "
                   "estimates without intervals, nothing is tested and no finding is stated. Rerun the sweep into a "
                   "new output folder to get them.")
    elif st["rows_with_outcomes"] < st["rows"]:
        out.append(f"Only {st['rows_with_outcomes']} of {st['rows']} result rows kept per-example outcomes; the "
                   "others have no intervals.")
    seeds = df.groupby(["task", "composition", "lang", "noise"])["seed"].nunique()
    if seeds.max() <= 1:
        out.append("One seed per model: intervals cover the sampling of test examples, not training randomness.")
    n_min, n_max = int(df["n"].min()), int(df["n"].max())
    if n_min < 200:
        clean = t[(t["measure"] == "score") & (t["level"] == "language") & (t["noise"] == "clean")]
        half = float(((clean["high"] - clean["low"]) / 2).median()) if clean["low"].notna().any() else float("nan")
        out.append(f"Cells hold {n_min}" + (f"-{n_max}" if n_max != n_min else "") + " examples (fewer than 200): "
                   f"one example moves a score by {100 / n_min:.1f} points"
                   + ("" if half != half else f"; a language's 95% CI is typically ±{half:.1f} points") + ".")
    for task, part in t[(t["level"] == "family") & (t["measure"] == "score")].groupby("task", sort=False):
        single = sorted(part.loc[part["languages"] <= 1, "group"].unique())
        if single:
            out.append(f"{task}: families with one zero-shot language, whose family mean is that language alone: "
                       f"{', '.join(single)}.")
    out += _pair_lines(analysis)
    ev = counts.get("eval", {})
    total, done = sum(ev.values()), ev.get("done", 0)
    if total and done < total:
        rest = ", ".join(f"{ev[s]} {s}" for s in ("failed", "blocked", "pending", "running") if ev.get(s))
        out.append(f"Unfinished grid: {done} of {total} evaluation cells done ({rest}); missing cells are left out.")
    out += _model_lines(t, artifacts)
    nothing = changed_nothing(df)
    if nothing:
        out.append("Noise that changed nothing (realised rate 0; marked ∅, its degradations and robustness gains not "
                   "tested): " + "; ".join(f"{noise} on {task} ({', '.join(langs)})"
                                           for (task, noise), langs in nothing.items()) + ".")
    if analysis.notes:
        shown = analysis.notes[:6]
        out.append("Comparisons over what both sides have: " + "; ".join(shown)
                   + (f"; and {len(analysis.notes) - 6} more (report.json)" if len(analysis.notes) > 6 else "") + ".")
    return out


def _pair_lines(analysis) -> list[str]:
    corr, out = analysis.correlations, []
    reasons = corr["reason"].fillna("")
    few = corr[reasons.str.startswith("too few pairs (") & ~reasons.str.contains("attainable")]
    if not few.empty:
        shown = sorted({f"{r.task} ({r.kind}: {r.n_pairs})" for r in few.itertuples()})
        out.append(f"Fewer than 5 distinct (intermediate, target) pairs, so no correlation is computed for: "
                   f"{', '.join(shown)}. n counts distinct pairs, never pairs x languages.")
    tests = analysis.tests
    blocked = tests[tests["excluded"].fillna("").str.startswith("cannot pass the correction")]
    if not blocked.empty:
        kinds = blocked["kind"].value_counts()
        shown = ", ".join(f"{n} {k}{'s' if n > 1 else ''}" for k, n in kinds.items())
        out.append(f"Tests that could never pass the correction (smallest attainable p at or above the threshold they "
                   f"would face; listed under \"Not tested\", not counted in m): {shown}.")
    items = analysis.settings.get("item_spaces") or {}
    if items:
        out.append("Translated test sets resampled by item (one draw of items for every language, so translations "
                   "of one item count once): " + "; ".join(f"{t} ({v['items']} items x {len(v['languages'])} "
                                                            f"languages)" for t, v in items.items()) + ".")
    shared = sorted({p for v in corr["same_source_pairs"].dropna() for p in str(v).split(", ")})
    if shared:
        out.append(f"Same-source pairs (marked {SAME_SOURCE}; their data overlap, so their similarity measures shared "
                   f"data): {pairs_text(', '.join(shared))}. Each correlation and interaction that holds one is "
                   "tested with and without them.")
    return out


def _model_lines(t, artifacts: list[dict]) -> list[str]:
    out = []
    bad = [a for a in artifacts if a["status"] == "not learned"]
    if bad:
        out.append(f"Models that did not learn (validation CI does not clear the floor; flagged {NOT_LEARNED} and kept out of "
                   "the tests, the similarity correlations and the family interactions): "
                   + "; ".join(f"{a['id']} ({competence_text(a['competence'])})" for a in bad) + ".")
    unknown = [a["id"] for a in artifacts if a["status"] == "unknown"]
    if unknown:
        out.append(f"Competence unknown for {len(unknown)} trained model(s) (no validation check on the card, or "
                   f"not finished; flagged {UNKNOWN}): {', '.join(unknown[:8])}" + (" ..." if len(unknown) > 8 else "")
                   + ".")
    near = t[(t["measure"] == "score") & (t["level"] == "zero-shot") & (t["noise"] == "clean")]
    near = near[near["near_chance"] == True] if "near_chance" in near else near.iloc[:0]  # noqa: E712
    if not near.empty:
        out.append("Near chance on clean zero-shot data (lower 95% bound not above the competence floor; marked ~; their degradations and "
                   "robustness gains are not tested, having no room to lose): "
                   + ", ".join(f"`{r.composition}` on {r.task}" for r in near.itertuples()) + ".")
    return out


def competence_text(c: dict | None) -> str:
    if not c:
        return "no check"
    from ..scoring.competence import floor_of

    def num(v) -> str:  # a check on no examples records null score and bounds
        return "-" if v is None else f"{v:.1f}"

    low, high = (c.get("ci") or [None, None])[:2]
    bar = (floor_of(c) or (None, ""))[0]
    return f"{c.get('metric', 'score')} {num(c.get('score'))} [{num(low)}, {num(high)}] vs floor {num(bar)}, " \
           f"n={c.get('n')}"


def changed_nothing(df) -> dict[tuple[str, str], list[str]]:
    """{(task, noise): languages} where the setting changed nothing. Per task: the same setting can change every
    sentence of one task and no token of another (word dropout on NLI text vs on tagged tokens)."""
    if "noise_rate" not in df or df["noise_rate"].isna().all():
        return {}
    rates = df[df["noise"] != "clean"].groupby(["task", "noise", "lang"], sort=False)["noise_rate"].max()
    out: dict[tuple[str, str], list[str]] = {}
    for (task, noise, lang), v in rates.items():
        if v == 0.0:
            out.setdefault((task, noise), []).append(lang)
    return out
