"""The study report marks what limits a number -- same-source pairs (‡), noise that changed nothing (∅, per task),
the MDE at the corrected level -- and its plots keep labels apart. Sections are rendered straight from an analysis
of synthetic outcomes (no run store, no backbone), B = 200."""
import itertools

import matplotlib
import pandas as pd
import pytest

from modxfer.report import evidence as E
from modxfer.report import sections as R
from modxfer.analysis import analyse
from modxfer.report.format import FLAGS, LEGEND, index, mde
from outcome_rows import outcome_rows

matplotlib.use("Agg")

# qqp and siqa sit 0.0005 apart on the similarity axis with the same outcomes: their labels would print over each
# other. mnli shares xnli's data source. On xcopa the homoglyph setting changes nothing (no look-alikes there).
SIMS = {("mnli", "xnli"): 0.95, ("qqp", "xnli"): 0.5, ("siqa", "xnli"): 0.5005, ("anli", "xnli"): 0.3,
        ("qqp", "xcopa"): 0.4, ("siqa", "xcopa"): 0.7}


@pytest.fixture(scope="module")
def study():
    noisy = {"clean": 0.0, "typo:0.1": 0.1, "homoglyph:0.1": 0.02}
    gains = {"xnli": 0.0, "mnli>xnli": 0.15, "qqp>xnli": 0.03, "anli>xnli": 0.0}
    rows = outcome_rows({c: {nz: 0.55 + g - d for nz, d in noisy.items()} for c, g in gains.items()},
                        rates={"typo:0.1": 0.1, "homoglyph:0.1": 0.05})
    rows += [dict(r, composition="siqa>xnli") for r in rows if r["composition"] == "qqp>xnli"]  # the same point
    rows += outcome_rows({c: {"clean": 0.6, "homoglyph:0.1": None} for c in ("xcopa", "qqp>xcopa", "siqa>xcopa")},
                         task="xcopa", langs=("id", "et", "zh"), rates={"homoglyph:0.1": 0.0})
    df = pd.DataFrame(rows)
    return df, analyse(df, SIMS, n_resamples=200)


def _line(text: str, start: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(start))


def test_same_source_pairs_carry_the_double_dagger_everywhere(study):
    df, a = study
    assert "0.950 ‡" in "".join(R.similarity_section(SIMS)) and "0.500 ‡" not in "".join(R.similarity_section(SIMS))
    gain = "\n".join(R.group_section(a, index(a.table), "xnli", "gain"))
    assert "| 0.950 ‡ |" in _line(gain, "| `mnli>xnli`") and "‡" not in _line(gain, "| `qqp>xnli`")
    rob = "\n".join(R.group_section(a, index(a.table), "xnli", "robustness_gain"))
    assert _line(rob, "| `mnli>xnli` ‡")
    corr = "\n".join(R.correlation_section(a))
    assert "mnli>xnli ‡, qqp>xnli" in corr and "| left out |" in corr
    # The legend explains ‡; † keeps "did not learn", and unknown competence no longer borrows ‡.
    assert "‡ an intermediate and the target share a data source" in LEGEND and "† a model in it did not learn" in LEGEND
    assert FLAGS["unknown"].strip() != "‡"
    assert any("Same-source pairs (marked ‡" in line for line in E.evidence(df, a, [], {}))


def test_noise_rates_and_changed_nothing_are_per_task(study):
    df, a = study
    # zh: homoglyphs change 5% of XNLI's characters and none of XCOPA's; pooled, XNLI's rate hid XCOPA's zero.
    assert E.changed_nothing(df) == {("xcopa", "homoglyph:0.1"): ["id", "et", "zh"]}
    assert any("homoglyph:0.1 on xcopa (id, et, zh)" in line for line in E.evidence(df, a, [], {}))
    rates = "\n".join(R.noise_rate_section(df))
    xnli, xcopa = rates.split("### xnli")[1].split("### xcopa")
    assert "| homoglyph:0.1 | 5.0% / 5%" in xnli and "changed nothing" not in xnli
    assert _line(xcopa.strip(), "| homoglyph:0.1").count("∅ changed nothing") == 3
    rob = "\n".join(R.group_section(a, index(a.table), "xcopa", "robustness_gain"))
    assert "∅" in _line(rob, "| `qqp>xcopa`")
    # Its robustness gains are 0 by construction: no correlation is run over them.
    c = a.correlations
    assert not ((c["task"] == "xcopa") & (c["noise"] == "homoglyph:0.1")).any()
    assert ((c["task"] == "xnli") & (c["noise"] == "homoglyph:0.1")).any()


def test_inconclusive_list_gives_the_mde_at_the_corrected_level(study):
    _, a = study
    m = a.settings["tests"]
    text = "\n".join(R.findings(a))
    assert f"MDE at alpha/m = {0.05 / m:.2g} (points)" in text and "MDE at alpha 0.05 (points)" in text
    assert "would need to reach its corrected MDE" in text
    row = _line(text, "| xnli | anli>xnli vs xnli: clean gain")
    nominal, corrected = (float(v) for v in row.strip(" |").split(" | ")[-2:])
    assert corrected > nominal > 0
    assert mde(0.0) == "-" and mde(float("nan")) == "-" and mde(4.44) == "4.4"
    # Robustness gains under noise that changed nothing are listed as not tested, not as inconclusive.
    assert "qqp>xcopa vs xcopa: robustness gain under homoglyph:0.1 | +0.00 | the noise changed nothing" in text


def _labels_overlap(fig) -> list:
    renderer = fig.canvas.get_renderer()
    clashes = []
    for ax in fig.axes:
        anns = [t for t in ax.texts if isinstance(t, matplotlib.text.Annotation)]
        boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in anns]
        clashes += [(p, q) for (p, a), (q, b) in itertools.combinations(boxes, 2) if a.overlaps(b)]
    return clashes


def test_similarity_plots_keep_labels_apart_and_say_when_noise_changed_nothing(study):
    import matplotlib.pyplot as plt

    from modxfer.report.plots import similarity_figure

    _, a = study
    for measure in ("gain", "robustness_gain"):
        fig = similarity_figure(a, measure, measure)
        labels = [t.get_text() for ax in fig.axes for t in ax.texts]
        assert "qqp" in labels and "siqa" in labels and "mnli ‡" in labels
        assert _labels_overlap(fig) == []
        if measure == "robustness_gain":
            panel = next(ax for ax in fig.axes if ax.get_title() == "xcopa, homoglyph:0.1")
            assert not panel.axison and "changed nothing" in " ".join(t.get_text() for t in panel.texts)
        plt.close(fig)
