"""Robustness summaries from evaluation rows: per-language degradation, curve areas, family/script averages."""
import json
import math

import pytest

from modxfer.noise.robustness import curve_of, summarize
from modxfer.report import degradation_table


def _row(lang, noise, score, comp="mnli>xnli", task="xnli", **metrics):
    return {"task": task, "composition": comp, "lang": lang, "noise": noise, "score": score,
            "metrics": {"accuracy": score, **metrics}}


ROWS = [
    _row("de", "clean", 60.0), _row("de", "typo:0.1", 55.0), _row("de", "typo:0.2", 50.0),
    _row("fr", "clean", 50.0), _row("fr", "typo:0.1", 50.0), _row("fr", "typo:0.2", 40.0),
    _row("zh", "clean", 40.0), _row("zh", "typo:0.1", 30.0), _row("zh", "typo:0.2", 20.0),
    _row("de", "adversarial:3", 15.0, attack_success_rate=75.0),
    _row("fr", "adversarial:3", 25.0, attack_success_rate=50.0),
    _row("zh", "adversarial:3", 10.0, attack_success_rate=75.0),
]


def test_curve_names_group_settings_that_differ_only_in_severity():
    assert curve_of("typo:0.1") == ("typo", 0.1) == curve_of("typo:rate=0.1")
    assert curve_of("adversarial:2,unit=words,search=random") == ("adversarial:search=random,unit=words", 2.0)
    assert curve_of("keyboard:0.05,layout=azerty") == ("keyboard:layout=azerty", 0.05)
    assert curve_of("clean") is None


def test_degradation_per_language_by_hand():
    s = summarize(ROWS)
    deg = {(r["lang"], r["noise"]): r for r in s["degradation"]}
    assert len(deg) == 9  # 3 languages x 3 noisy settings; clean is the reference, not a row
    assert deg[("de", "typo:0.1")]["abs_degradation"] == pytest.approx(5.0)
    assert deg[("de", "typo:0.1")]["rel_degradation"] == pytest.approx(5 / 60)
    assert deg[("fr", "typo:0.1")]["abs_degradation"] == 0.0
    assert deg[("zh", "adversarial:3")]["attack_success_rate"] == 75.0
    assert math.isnan(deg[("zh", "typo:0.2")]["attack_success_rate"])
    assert deg[("zh", "typo:0.2")]["family"] == "Sino-Tibetan" and deg[("zh", "typo:0.2")]["script"] == "Han"


def test_curve_area_is_mean_degradation_over_the_severity_range():
    s = summarize(ROWS)
    auc = {(r["lang"], r["perturbation"]): r for r in s["curves"]}
    # de: degradation 0 at 0, 5 at 0.1, 10 at 0.2 -> trapezoids (0.1*2.5 + 0.1*7.5) / 0.2 = 5
    assert auc[("de", "typo")]["auc"] == pytest.approx(5.0)
    assert auc[("de", "typo")]["severities"] == [0.1, 0.2]
    assert auc[("fr", "typo")]["auc"] == pytest.approx((0.1 * 0 + 0.1 * 5) / 0.2)
    # one severity: the straight line from (0, 0), so half the degradation at that budget
    assert auc[("de", "adversarial")]["auc"] == pytest.approx(45.0 / 2)


def test_groups_macro_average_languages_by_family_script_and_all():
    s = summarize(ROWS)
    g = {(r["level"], r["group"], r["setting"]): r for r in s["groups"]}
    ie = g[("family", "Indo-European", "typo:0.2")]
    assert ie["languages"] == 2 and ie["abs_degradation"] == pytest.approx((10 + 10) / 2)
    assert g[("script", "Latin", "adversarial:3")]["attack_success_rate"] == pytest.approx(62.5)
    assert g[("all", "all", "typo:0.1")]["abs_degradation"] == pytest.approx((5 + 0 + 10) / 3)
    assert g[("family", "Sino-Tibetan", "typo")]["auc"] == pytest.approx((0.1 * 5 + 0.1 * 15) / 0.2)


def test_seeds_are_averaged_and_rows_without_clean_are_skipped():
    rows = [_row("de", "clean", 60.0), _row("de", "clean", 50.0), _row("de", "typo:0.1", 45.0),
            _row("fr", "typo:0.1", 30.0)]
    s = summarize(rows)
    assert [(r["lang"], r["abs_degradation"]) for r in s["degradation"]] == [("de", 10.0)]


def test_sweep_records_with_flat_metric_columns():
    rows = [{"task": "xnli", "composition": "xnli", "lang": "hi", "noise": "clean", "score": 50.0},
            {"task": "xnli", "composition": "xnli", "lang": "hi", "noise": "adversarial:1", "score": 40.0,
             "metrics.attack_success_rate": 20.0}]
    (rec,) = summarize(rows)["degradation"]
    assert rec["attack_success_rate"] == 20.0 and rec["family"] == "Indo-European"


def test_degradation_table_renders_groups_and_success_rate():
    from rich.console import Console

    console = Console(width=200, record=True)
    for t in degradation_table(summarize(ROWS), "family"):
        console.print(t)
    text = console.export_text()
    assert "Indo-European (2)" in text and "Sino-Tibetan (1)" in text and "all (3)" in text
    assert "33.3 [67%]" in text  # adversarial:3 over all: mean of 45, 25, 30 and of 75, 50, 75
    from modxfer.errors import ConfigError

    with pytest.raises(ConfigError, match="grouping level"):
        degradation_table(summarize(ROWS), "continent")


def test_summary_writes_as_strict_json(tmp_path):
    from modxfer.io import atomic_write_json

    path = atomic_write_json(tmp_path / "r.json", summarize(ROWS))
    back = json.loads(path.read_text())  # NaN (no success rate for typo rows) is written as null
    assert any(r["attack_success_rate"] is None for r in back["degradation"])


def test_undefined_scores_and_the_all_grouping():
    from rich.console import Console

    rows = ROWS + [_row("hi", "clean", None), _row("hi", "typo:0.1", None)]
    s = summarize(rows)
    hi = [r for r in s["degradation"] if r["lang"] == "hi"]
    assert hi and all(math.isnan(r["abs_degradation"]) for r in hi)
    console = Console(width=200, record=True)
    for t in degradation_table(s, "all"):
        console.print(t)
    header = next(line for line in console.export_text().splitlines() if "noise" in line)
    assert header.count("all (") == 1


def test_atomic_writes_get_ordinary_permissions(tmp_path):
    import os

    from modxfer.io import atomic_dir, atomic_write_text

    mask = os.umask(0o022)
    try:
        f = atomic_write_text(tmp_path / "a.txt", "x")
        with atomic_dir(tmp_path / "d") as d:
            (d / "b").write_text("y")
    finally:
        os.umask(mask)
    assert f.stat().st_mode & 0o777 == 0o644 and (tmp_path / "d").stat().st_mode & 0o777 == 0o755


def test_degradation_relative_to_the_room_above_chance_and_realised_noise_rate():
    rows = [dict(_row("de", "clean", 60.0), n=40), dict(_row("de", "typo:0.1", 55.0), n=40, noise_rate=0.08),
            dict(_row("zh", "clean", 30.0), n=40), dict(_row("zh", "homoglyph:0.1", 30.0), n=40, noise_rate=0.0)]
    s = summarize(rows)
    deg = {(r["lang"], r["noise"]): r for r in s["degradation"]}
    de = deg[("de", "typo:0.1")]
    assert de["chance"] == pytest.approx(100 / 3) and de["noise_rate"] == 0.08
    assert de["above_chance_degradation"] == pytest.approx(5.0 / (60.0 - 100 / 3))
    # Below chance there is no room to lose: undefined, not "perfectly robust".
    assert math.isnan(deg[("zh", "homoglyph:0.1")]["above_chance_degradation"])
    assert deg[("zh", "homoglyph:0.1")]["noise_rate"] == 0.0
    g = {(r["level"], r["group"], r["setting"]): r for r in s["groups"]}
    assert g[("all", "all", "typo:0.1")]["noise_rate"] == 0.08


def test_group_counts_only_languages_with_a_value():
    rows = ROWS + [_row("hi", "clean", None), _row("hi", "typo:0.1", None)]
    g = {(r["level"], r["group"], r["setting"]): r for r in summarize(rows)["groups"]}
    assert g[("all", "all", "typo:0.1")]["languages"] == 3  # hi's undefined score is not a fourth language
    assert g[("family", "Indo-European", "typo:0.1")]["languages"] == 2
