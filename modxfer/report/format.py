"""Cell formatting shared by the study report's sections: numbers with their CIs, p-values, and the marks the
legend explains."""
from __future__ import annotations

import math

from ..tasks.sources import MARK as SAME_SOURCE

NOT_LEARNED, UNKNOWN = "†", "?"
FLAGS = {"not learned": f" {NOT_LEARNED}", "unknown": f" {UNKNOWN}"}
LEGEND = (f"Cells: estimate ±half the width of its 95% CI (paired bootstrap). {NOT_LEARNED} a model in it did not "
          f"learn (its validation CI does not clear its floor); {UNKNOWN} competence unknown (card from an older modxfer); "
          f"{SAME_SOURCE} an intermediate and the target share a data source (mnli/xnli, udpos-en/udpos, "
          "panx-en/panx, squad/QA targets): similarity there measures shared data, and correlations are also "
          "reported without such pairs; ~ the lower 95% bound is not above the competence floor (in degradation and robustness tables: a model "
          "compared is near chance on clean zero-shot data, so it has no room to lose; not tested); ∅ the noise "
          "changed nothing there (not tested); (k) only k languages of the column have a value.")


def missing(v) -> bool:
    """NaN in memory, null once written as JSON."""
    return v is None or (isinstance(v, float) and math.isnan(v))


def md(headers: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(v) for v in r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def pm(rec: dict | None, digits: int = 1, scale: float = 1.0, signed: bool = False) -> str:
    """``51.4 ±3.1`` (estimate ± half the CI width), ``51.4`` without a CI, ``-`` without a value."""
    if rec is None or missing(rec.get("estimate")):
        return "-"
    est = rec["estimate"] * scale
    text = f"{est:+.{digits}f}" if signed else f"{est:.{digits}f}"
    low, high = rec.get("low"), rec.get("high")
    if not missing(low) and not missing(high):
        text += f" ±{(high - low) * scale / 2:.{digits}f}"
    return text


def interval(rec, digits: int = 1) -> str:
    if missing(rec.get("low")) or missing(rec.get("high")):
        return f"{rec['estimate']:+.{digits}f} (no CI)"
    return f"{rec['estimate']:+.{digits}f} [{rec['low']:+.{digits}f}, {rec['high']:+.{digits}f}]"


def pval(p) -> str:
    if missing(p):
        return "-"
    return "<0.0001" if p < 1e-4 else f"{p:.2g}" if p < 0.01 else f"{p:.3f}"


def mde(v) -> str:
    """An MDE in points; "-" where there is none (no test, or an SE of 0: nothing varied)."""
    return "-" if missing(v) or v <= 0 else f"{v:.1f}"


def flag(v) -> bool:
    """A boolean table cell: True (Python or numpy), not NaN or None (a record without the field)."""
    return not missing(v) and v is not None and bool(v)


def name(comp: str, competence: str | None, same_source=False) -> str:
    return f"`{comp}`" + FLAGS.get(competence or "", "") + (f" {SAME_SOURCE}" if flag(same_source) else "")


def index(table) -> dict:
    return {(r["measure"], r["task"], r["composition"], r["noise"], r["level"], r["group"]): r
            for r in table.to_dict("records")}


def count(rec, expected: int) -> str:
    return "" if rec is None or rec["languages"] >= expected else f" ({rec['languages']})"


def pairs_text(pairs: str | None) -> str:
    """"mnli>xnli, qqp>xnli" with same-source pairs marked: "mnli>xnli ‡, qqp>xnli"."""
    from ..analysis.correlate import is_same_source

    if missing(pairs) or not pairs:
        return ""
    out = []
    for p in str(pairs).split(", "):
        inter, _, target = p.partition(">")
        out.append(p + (f" {SAME_SOURCE}" if target and is_same_source(inter, target) else ""))
    return ", ".join(out)
