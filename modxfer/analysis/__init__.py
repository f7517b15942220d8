"""Does intermediate-task training help transfer, and robustness, more when the tasks are alike? Every number with
its uncertainty, and a statement only where the data supports one.

Input: evaluation rows (a sweep's ``load_results(run_dir, outcomes=True)`` frame, or ``EvalResult.rows``), ideally
with per-example ``outcomes`` (``modxfer.scoring.outcomes``): then every estimate carries a paired, stratified bootstrap
distribution (``modxfer.stats``); rows without them get point estimates only, and no test.

Every composition that uses intermediate tasks is compared with its baseline of the same kind without them: a
stack or a fusion with the target adapter alone, STILTs (``full:mnli>xnli``) with full fine-tuning on the target
alone (``full:xnli``). Measures, per language, in points of the task's metric:

  score            the metric (every composition, every noise setting)
  gain             clean score minus the baseline's clean score (positive: the intermediate helped)
  degradation      clean score minus the noisy score (positive: the noise hurt)
  rel_degradation  degradation / (clean score - floor): the share of the room above the task's competence floor
                   that the noise took (``floors``: the larger of chance and the majority-class rate for
                   classification and multiple choice, the best trivial predictor for F1 tasks; chance where none
                   is given)
  robustness_gain  the baseline's degradation minus the composition's (positive: more robust with the intermediate)

A comparison uses the seeds and, per language, the example ids both sides have; aggregates average the languages
both sides have, each language counting once. English (the training language, not zero-shot) is reported apart and
left out of the zero-shot, family and script means. Relative degradation of a group is the ratio of the group's
mean degradation to its mean room above the floor.

Similarity belongs to an (intermediate, target) pair, so correlations use one point per pair, languages averaged
(``stats.correlation``; "too few pairs" below ``stats.MIN_PAIRS``), and family effects are a slope interaction with
language as the unit (``stats.slope_interaction``); both are computed with and without the pairs whose data share a
source, and without models that did not learn (``modxfer.analysis.correlate``). Tests: each zero-shot gain, degradation and
robustness gain, each correlation and interaction gets a p-value; all are corrected together (Holm by default, or
Benjamini-Hochberg) and only those that survive are findings. What is kept out of the tests, and why, is in
``modxfer.stats.hypotheses``: models that did not learn, noise that changed nothing, a side near chance (for
degradations), correlations that cannot reach significance.
"""
from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Callable, Mapping

import numpy as np

from ..stats import hypotheses as H
from ..scoring import outcomes as O
from .. import stats as S
from .correlate import is_same_source, similarity_tests
from ..composition import Composition
from ..errors import DataError, ModxferError
from ..tasks import get_task

MEASURES = ("score", "gain", "degradation", "rel_degradation", "robustness_gain")
TESTED = H.TESTED
ENGLISH = "en"
BAD = ("not learned", "unknown")  # competence statuses worth a flag; the first also excludes from tests
MIN_EXAMPLES = 200
TABLE_COLUMNS = ["measure", "task", "composition", "kind", "intermediates", "baseline", "similarity", "same_source",
                 "noise", "level",
                 "group", "languages", "estimate", "low", "high", "se", "interval_mc_error", "pvalue", "mde", "n", "seeds", "competence",
                 "baseline_competence"]


def baseline_of(comp: Composition) -> Composition | None:
    """The same kind of model without intermediate tasks; None for compositions that have none."""
    if not comp.intermediates:
        return None
    return Composition(comp.target, (), "full" if comp.kind == "full" else "target")


@dataclass
class Analysis:
    """``table``: one record per (measure, task, composition, noise, level, group) with estimate, 95% CI, SE,
    p-value, MDE, language and seed counts; level is language, family, script or zero-shot (English only at the
    language level). ``correlations`` and ``interactions``: one record each. ``tests``: every hypothesis tested,
    with corrected p-values and whether it is a finding. ``notes``: what limits the evidence."""

    table: object
    correlations: object
    interactions: object
    tests: object
    similarity: dict
    notes: list[str] = field(default_factory=list)
    settings: dict = field(default_factory=dict)
    estimates: dict = field(default_factory=dict, repr=False)  # table key -> stats.Estimate (not written out)

    def estimate(self, measure: str, task: str, composition: str, noise: str, level: str, group: str):
        """The ``stats.Estimate`` behind a table record (its bootstrap replicates, for further arithmetic)."""
        return self.estimates.get((measure, task, composition, noise, level, group))

    @property
    def findings(self):
        return self.tests[self.tests["finding"]]

    @property
    def inconclusive(self):
        return self.tests[~self.tests["finding"] & self.tests["excluded"].isna()]

    def to_dict(self) -> dict:
        return {"settings": self.settings, "notes": self.notes, "table": _records(self.table),
                "correlations": _records(self.correlations), "interactions": _records(self.interactions),
                "tests": _records(self.tests),
                "similarity": [{"intermediate": a, "target": b, "similarity": s} for (a, b), s in self.similarity.items()]}


def _records(df) -> list[dict]:
    def clean(v):
        if isinstance(v, (float, np.floating)):
            return None if math.isnan(v) else float(v)
        if isinstance(v, np.integer):
            return int(v)
        if isinstance(v, np.bool_):
            return bool(v)
        return v
    return [{k: clean(v) for k, v in r.items()} for r in df.to_dict("records")]


# ---------------------------------------------------------------------------------------------- cells
class _Cells:
    """Per (task, composition, lang, noise): {seed: stats.Cell or (score, None)} and the examples behind it.

    Every cell of one resampling space is aligned on the examples all of them share, so every comparison between
    them is paired. A space is one language of a task whose languages hold different data, or -- for a parallel task
    (``Task.parallel``: translations of one item are one item) -- all its pooled languages at once, aligned on the
    items every one of them has, so one draw of items serves every language (``modxfer.stats.bootstrap``)."""

    def __init__(self, df, bs: S.Bootstrap, pooled: Callable[[str], bool]):
        self.bs = bs
        self.data: dict[tuple, dict[int, tuple]] = defaultdict(dict)
        self.n: dict[tuple, int] = {}
        self.space: dict[tuple, str] = {}
        self.notes: list[str] = []
        self.with_outcomes = 0
        self.item_spaces: dict[str, dict] = {}  # task -> {"languages": [...], "items": n} for the report's card
        has = "outcomes" in df.columns
        for task, tpart in df.groupby("task", sort=False):
            kept_by_lang = {}
            for lang, part in tpart.groupby("lang", sort=False):
                rows = part.to_dict("records")
                for r in rows:
                    key = (task, r["composition"], lang, r["noise"])
                    self.data[key][int(r["seed"])] = (_num(r["score"]), None)
                    self.n[key] = int(r["n"]) if "n" in r and r["n"] == r["n"] else 0
                kept = [r for r in rows if has and isinstance(r.get("outcomes"), Mapping)]
                if kept:
                    kept_by_lang[lang] = (kept, [O.check(r["outcomes"]) for r in kept])
            joint = self._joint_languages(task, kept_by_lang, pooled)
            if joint:
                self._resample(task, f"{task}:items", {l: kept_by_lang[l] for l in joint}, items=True)
            for lang in kept_by_lang:
                if lang not in joint:
                    self._resample(task, f"{task}:{lang}", {lang: kept_by_lang[lang]}, items=False)

    def _joint_languages(self, task: str, kept_by_lang: dict, pooled) -> list[str]:
        """The pooled languages of a parallel task whose items overlap another's (a language with its own items,
        such as XCOPA's English COPA validation, is a space of its own: its items are independent of the rest)."""
        try:
            parallel = get_task(task).parallel
        except ModxferError:
            parallel = None
        langs = [l for l in kept_by_lang if pooled(l)]
        if not parallel or len(langs) < 2:
            return []
        keys = {l: set(O.item_keys(task, kept_by_lang[l][1][0])) for l in langs}
        joint = [l for l in langs if any(keys[l] & keys[o] for o in langs if o != l)]
        return joint if len(joint) >= 2 else []

    def _resample(self, task: str, space: str, by_lang: dict, items: bool) -> None:
        """Replicates of every cell of ``by_lang``'s languages in one space. Within a language its cells are aligned
        on the examples they share. Across the languages of a parallel task (``items``) the space is every item any
        of them has: one draw of items serves them all, and each language scores the drawn items it holds, so a
        language keeps all its items and translations of one item are drawn together."""
        own = {}
        for lang, (kept, recs) in by_lang.items():
            if items:  # the cross-language item keys replace the per-language ids
                recs = [{**r, "ids": O.item_keys(task, r)} for r in recs]
            ids, pos = O.align(recs)
            where = f"{task} {lang}"
            if not ids:
                self.notes.append(f"{where}: the cells share no example id; no intervals there")
                continue
            if any(len(r["ids"]) != len(ids) for r in recs):
                self.notes.append(f"{where}: cells hold different examples; compared on the {len(ids)} they share")
            own[lang] = (kept, ids, [O.subset(r, p) for r, p in zip(recs, pos)])
        if not own:
            return
        union = list(dict.fromkeys(i for _, ids, _ in own.values() for i in ids))
        if items:
            shared = set.intersection(*(set(ids) for _, ids, _ in own.values()))
            self.item_spaces[task] = {"languages": list(own), "items": len(union), "shared": len(shared)}
            if len(shared) != len(union):
                detail = ", ".join(f"{lang} {len(ids)}" for lang, (_, ids, _) in own.items())
                self.notes.append(f"{task}: its languages hold different items ({detail}); resampled as {len(union)} "
                                  f"items in all, {len(shared)} of them in every language, each language scoring the "
                                  "drawn items it has")
        where_in = {k: n for n, k in enumerate(union)}
        for lang, (kept, ids, recs) in own.items():
            if items:
                cells = self.bs.replicates_in(space, union, np.array([where_in[i] for i in ids]), recs)
            else:
                cells = self.bs.replicates(space, recs)
            for r, cell in zip(kept, cells):
                key = (task, r["composition"], lang, r["noise"])
                self.data[key][int(r["seed"])] = cell
                self.n[key] = len(ids)
                self.space[key] = space
                self.with_outcomes += 1

    def seeds(self, *keys) -> list[int]:
        common = None
        for k in keys:
            s = set(self.data.get(k, {}))
            common = s if common is None else common & s
        return sorted(common or ())

    def estimate(self, key, seeds) -> S.Estimate:
        per = {s: self.data[key][s] for s in seeds}
        if any(cell[1] is None for cell in per.values()):
            return S.Estimate(float(np.mean([c[0] for c in per.values()])), None, self.n[key], 1, len(per))
        return self.bs.over_seeds(per, self.space[key], self.n[key])


def _num(v) -> float:
    return math.nan if v is None else float(v)


# ------------------------------------------------------------------------------------------- analysis
def analyse(rows, similarity: Mapping[tuple[str, str], float] | Callable[[str, str], float], *,
            n_resamples: int = S.N_RESAMPLES, seed: int = S.SEED, correction: str = "holm", alpha: float = S.ALPHA,
            include_english: bool = False, require_comparisons: bool = True,
            floors: Mapping[str, float] | None = None) -> Analysis:
    """Scores, gains, degradations and robustness gains with bootstrap CIs, their relation to task similarity,
    and the corrected tests; see the module docstring.

    ``similarity`` maps (intermediate, target) to a similarity (NaN for a target without one), or is a function of
    the two task names. ``include_english`` puts English into the zero-shot, family and script means. Without
    ``require_comparisons`` rows without any composition with intermediates are analysed too (scores and
    degradations only). ``floors`` maps a task to its competence floor (points), the zero of relative degradation;
    chance where a task has none.
    """
    import pandas as pd

    df = rows.copy() if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    needed = {"task", "composition", "lang", "noise", "score"}
    if df.empty or not needed <= set(df.columns):
        raise DataError(f"no evaluation rows to analyse (need columns {', '.join(sorted(needed))})",
                        "run a sweep or an evaluation with stack/fusion/full compositions and their baselines first")
    S.adjust([], correction)  # an unknown correction fails before any work
    for col, default in (("seed", 0), ("n", 0), ("competence", "unknown"), ("noise_rate", math.nan)):
        df[col] = df[col].fillna(default) if col in df.columns else default
    comps = {c: Composition.parse(c) for c in dict.fromkeys(df["composition"])}
    if require_comparisons and not any(c.intermediates for c in comps.values()):
        raise DataError("no composition with intermediate tasks among the rows",
                        "include stack, fusion or full:INTERMEDIATE>TARGET compositions (and their baselines)")
    sim_of = similarity if callable(similarity) else (lambda a, b: similarity.get((a, b), math.nan))
    sims = {(i, c.target): _num(sim_of(i, c.target)) for c in comps.values() for i in c.intermediates}
    bs = S.Bootstrap(n_resamples, seed)
    pooled = lambda lang: include_english or lang != ENGLISH  # noqa: E731  (in the zero-shot, family, script means)
    cells = _Cells(df, bs, pooled)
    study = _Study(df, comps, sims, cells, pooled, floors or {})
    records, estimates = study.records()
    table = pd.DataFrame(records) if records else pd.DataFrame(
        columns=TABLE_COLUMNS + ["noise_rate", "changed_nothing", "chance", "floor", "near_chance"])
    corr, inter = similarity_tests(study, seed, alpha)
    tests = H.build(table, corr, inter, correction, alpha)
    m = int(tests["p_adjusted"].notna().sum())
    settings = {"method": "paired bootstrap over example ids (seeds resampled first), clustered by item for test sets "
                          "that translate one another (one draw of items serves every language; per-language strata "
                          "otherwise), official metric recomputed per resample; percentile 95% CI",
                "se_method": "analytic: the statistic's influence (delta-method) expansion over the resampled units, "
                             "n/(n-1) x sum of squares per space (exact, item-clustered, for means of per-item "
                             "outcomes; linearised for corpus F1); p-values from Student's t with it (Welch-"
                             "Satterthwaite degrees of freedom over items and seeds), so no such p-value, and no "
                             "near-floor exclusion, depends on the bootstrap's seed",
                "pvalue_mc_error": float(np.nan_to_num(tests["pvalue_mc_error"].astype(float)).max()) if len(tests) else 0.0,
                "pvalue_mc_note": "gains, degradations and robustness gains: analytic p (no Monte Carlo error); "
                                  "correlations and interactions: exact permutation p where the orderings are few, "
                                  "else sampled (pvalue_mc_error per test, the largest here); mc_undecided marks a "
                                  "sampled p within three Monte Carlo SEs of its corrected threshold",
                "mc_undecided": int(tests["mc_undecided"].sum()) if "mc_undecided" in tests else 0,
                "interval_mc_error_note": "percentile bounds move with the bootstrap seed by about interval_mc_error "
                                          "(Monte Carlo SE of a bound, per record); findings do not use them",
                "item_spaces": cells.item_spaces,
                "n_resamples": n_resamples, "seed": seed, "confidence_level": S.CONFIDENCE, "alpha": alpha,
                "correction": correction, "correction_name": S.CORRECTION_NAMES[correction], "power": S.POWER,
                "min_pairs": S.MIN_PAIRS, "include_english": include_english, "tests": m,
                "mde_alpha_corrected": H.corrected_alpha(alpha, m),
                "mde_note": "MDE at alpha (nominal) and at alpha/m (m = tests in the family; the level of the "
                            "correction's first step, conservative): the effect a comparison needs to be found with "
                            f"{S.POWER:.0%} power before and after correction",
                "rows": len(df), "rows_with_outcomes": cells.with_outcomes,
                "floors": {task: floor for (task, _), floor in study.floor.items()},
                "floors_note": "rel_degradation = degradation / (clean score - floor); floor per task as given "
                               "(competence floor), else chance"}
    return Analysis(table, corr, inter, tests, sims, list(dict.fromkeys(cells.notes + study.notes)), settings,
                    estimates)


class _Study:
    """Per-language estimates of every measure and their group means."""

    def __init__(self, df, comps, sims, cells: _Cells, pooled: Callable[[str], bool], floors: Mapping[str, float]):
        from .. import languages as L

        self.df, self.comps, self.sims, self.cells = df, comps, sims, cells
        self.notes: list[str] = []
        self.langs = {t: list(dict.fromkeys(p["lang"])) for t, p in df.groupby("task", sort=False)}
        self.noises = {t: list(dict.fromkeys(p["noise"])) for t, p in df.groupby("task", sort=False)}
        self.info = {}
        for lang in dict.fromkeys(df["lang"]):
            lg = L.find(lang)
            self.info[lang] = {"family": lg.family if lg else "unknown", "script": lg.script if lg else "unknown"}
        self.pooled = pooled
        rank = {"not learned": 2, "unknown": 1}
        self.competence = {}
        for (task, comp), part in df.groupby(["task", "composition"], sort=False):
            statuses = list(part["competence"].fillna("unknown"))
            self.competence[(task, comp)] = max(statuses, key=lambda s: rank.get(s, 0))
        self.chance = {(task, lang): O.chance(task, int(n) if n == n else None)
                       for (task, lang), n in df.groupby(["task", "lang"], sort=False)["n"].max().items()}
        self.floor = {k: max(v, float(floors.get(k[0], v))) for k, v in self.chance.items()}
        self.noise_rate = df.groupby(["task", "lang", "noise"], sort=False)["noise_rate"].mean().to_dict()
        self.per_lang: dict[str, dict[tuple, S.Estimate]] = {m: {} for m in (*MEASURES, "room")}
        self._per_language()

    def similarity(self, comp: Composition) -> float:
        vals = [self.sims[(i, comp.target)] for i in comp.intermediates]
        return float(np.mean(vals)) if vals and all(math.isfinite(v) for v in vals) else math.nan

    def learned(self, task: str, comp_s: str) -> bool:
        """False when the composition or its baseline did not learn (unknown competence counts as learned)."""
        base = baseline_of(self.comps[comp_s])
        return all(self.competence.get((task, c)) != "not learned" for c in (comp_s, str(base) if base else None)
                   if c)

    def _seeds(self, what: str, *keys) -> list[int]:
        seeds = self.cells.seeds(*keys)
        every = set().union(*(self.cells.data.get(k, {}).keys() for k in keys))
        if every - set(seeds):
            self.notes.append(f"{what}: seed(s) {', '.join(map(str, sorted(every - set(seeds))))} missing on one "
                              f"side in {keys[0][2]}; compared over seed(s) {', '.join(map(str, seeds)) or 'none'}")
        return seeds

    def _per_language(self) -> None:
        pl, c = self.per_lang, self.cells
        for (task, comp, lang, noise) in c.data:
            key = (task, comp, lang, noise)
            pl["score"][key] = c.estimate(key, sorted(c.data[key]))
            clean = (task, comp, lang, "clean")
            if noise != "clean" and clean in c.data:
                seeds = self._seeds(f"{comp} clean vs {noise}", clean, key)
                if seeds:
                    deg = c.estimate(clean, seeds) - c.estimate(key, seeds)
                    room = c.estimate(clean, seeds).shift(self.floor[(task, lang)])
                    pl["degradation"][key], pl["room"][key] = deg, room
                    pl["rel_degradation"][key] = S.ratio(deg, room)
        for (task, comp, lang, noise), est in list(pl["score"].items()):
            base = baseline_of(self.comps[comp])
            if base is None:
                continue
            bkey = (task, str(base), lang, noise)
            if noise == "clean" and bkey in c.data:
                seeds = self._seeds(f"{comp} vs {base}", (task, comp, lang, noise), bkey)
                if seeds:
                    pl["gain"][(task, comp, lang, noise)] = (c.estimate((task, comp, lang, noise), seeds)
                                                             - c.estimate(bkey, seeds))
            if noise != "clean" and bkey in c.data:
                own, ref = (task, comp, lang, "clean"), (task, str(base), lang, "clean")
                seeds = self._seeds(f"{comp} vs {base} under {noise}", own, (task, comp, lang, noise), ref, bkey)
                if seeds and own in c.data and ref in c.data:
                    d_own = c.estimate(own, seeds) - c.estimate((task, comp, lang, noise), seeds)
                    d_ref = c.estimate(ref, seeds) - c.estimate(bkey, seeds)
                    pl["robustness_gain"][(task, comp, lang, noise)] = d_ref - d_own
        self._missing_sides()

    def _missing_sides(self) -> None:
        for comp_s, comp in self.comps.items():
            base = baseline_of(comp)
            if base is None:
                continue
            for task in self.langs:
                mine = {k[2] for k in self.cells.data if k[0] == task and k[1] == comp_s}
                theirs = {k[2] for k in self.cells.data if k[0] == task and k[1] == str(base)}
                if mine and not theirs:
                    self.notes.append(f"{comp_s}: its baseline {base} was not evaluated; no gain or robustness gain")
                elif mine - theirs:
                    self.notes.append(f"{comp_s}: baseline {base} lacks {', '.join(sorted(mine - theirs))}; "
                                      "those languages are left out of its comparisons")

    def groups(self, lang: str) -> list[tuple[str, str]]:
        out = [("language", lang)]
        if self.pooled(lang):
            out += [("family", self.info[lang]["family"]), ("script", self.info[lang]["script"]), ("zero-shot", "all")]
        return out

    def records(self) -> tuple[list[dict], dict]:
        out, estimates = [], {}
        for measure in MEASURES:
            grouped: dict[tuple, list[tuple[str, S.Estimate]]] = defaultdict(list)
            for (task, comp, lang, noise), est in self.per_lang[measure].items():
                for level, group in self.groups(lang):
                    grouped[(task, comp, noise, level, group)].append((lang, est))
            for (task, comp, noise, level, group), items in grouped.items():
                langs = [lang for lang, e in items if math.isfinite(e.statistic)]
                if level == "language":
                    est = items[0][1]
                elif measure == "rel_degradation":  # ratio of the group's means, not a mean of ratios
                    keys = [(task, comp, lang, noise) for lang, _ in items]
                    est = S.ratio(S.mean([self.per_lang["degradation"][k] for k in keys]),
                                  S.mean([self.per_lang["room"][k] for k in keys]))
                else:
                    est = S.mean([e for _, e in items if math.isfinite(e.statistic)])
                rec = self._record(measure, task, comp, noise, level, group, est, langs)
                if measure == "rel_degradation":
                    room = (self.per_lang["room"][(task, comp, items[0][0], noise)] if level == "language" else
                            S.mean([self.per_lang["room"][(task, comp, lang, noise)] for lang, _ in items]))
                    # A model whose clean CI reaches chance has no room to lose: the ratio says nothing then.
                    rec["room_includes_zero"] = bool(not S.lower_bound(room) > 0 or room.statistic <= 0)
                out.append(rec)
                estimates[(measure, task, comp, noise, level, group)] = est
        self._mark_near_chance(out)
        return out, estimates

    @staticmethod
    def _mark_near_chance(records: list[dict]) -> None:
        """Degradation and robustness-gain records say whether a model compared is near chance on clean zero-shot
        data (then it has no room to lose, see ``hypotheses``)."""
        near = {(r["task"], r["composition"]) for r in records if r["measure"] == "score" and r["noise"] == "clean"
                and r["level"] == "zero-shot" and r.get("near_chance") is True}
        for r in records:
            if r["measure"] in ("degradation", "rel_degradation", "robustness_gain"):
                sides = [r["composition"]] + ([r["baseline"]] if r["measure"] == "robustness_gain" and r["baseline"]
                                              else [])
                r["near_chance"] = any((r["task"], s) in near for s in sides)

    def _record(self, measure, task, comp_s, noise, level, group, est: S.Estimate, langs) -> dict:
        comp = self.comps[comp_s]
        base = baseline_of(comp)
        low, high = est.confidence_interval()
        rec = {"measure": measure, "task": task, "composition": comp_s, "kind": comp.kind,
               "intermediates": ",".join(comp.intermediates), "baseline": str(base) if base else None,
               "similarity": self.similarity(comp), "noise": noise, "level": level, "group": group,
               # Shared training data (mnli/xnli, ...): a high similarity there is not a similar task.
               "same_source": any(is_same_source(i, task) for i in comp.intermediates),
               "languages": len(langs), "estimate": est.statistic, "low": low, "high": high,
               # A p-value and an MDE only where "is it 0?" is the question: differences, not scores or ratios.
               "se": est.standard_error, "interval_mc_error": est.interval_mc_error(),
               "pvalue": est.pvalue if measure in TESTED else math.nan,
               "mde": est.minimum_detectable_effect() if measure in TESTED else math.nan,
               "n": est.n, "seeds": est.n_seeds, "competence": self.competence.get((task, comp_s), "unknown"),
               "baseline_competence": self.competence.get((task, str(base)), None) if base else None}
        if measure in ("degradation", "rel_degradation", "robustness_gain"):
            # Both sides of a robustness gain read the same perturbed examples: one rate for the comparison.
            rates = [self.noise_rate.get((task, lang, noise), math.nan) for lang in langs]
            rates = [r for r in rates if r == r]
            rec["noise_rate"] = float(np.mean(rates)) if rates else math.nan
            rec["changed_nothing"] = bool(rates) and max(rates) == 0.0
        if measure == "score" and noise == "clean":
            chance = [self.chance[(task, lang)] for lang in langs]
            floor = [self.floor[(task, lang)] for lang in langs]
            rec["chance"] = float(np.mean(chance)) if chance else math.nan
            rec["floor"] = float(np.mean(floor)) if floor else math.nan
            # Near the floor: no room above it to lose. Decided on the analytic lower bound (no Monte Carlo error,
            # so which tests enter the family cannot depend on the bootstrap's seed) against the same floor as
            # relative degradation.
            bound = S.lower_bound(est)
            rec["near_chance"] = bool(floor) and bound == bound and bound <= rec["floor"]
        return rec
