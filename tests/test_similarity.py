"""Task similarity measures: their defining properties, bootstrap, cache and CLI, on a tiny backbone and real data."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from modxfer.similarity import measures as S
from modxfer.errors import ConfigError, DataError
from modxfer.similarity.cka import cka_matrix, linear_cka
from modxfer.similarity.lexical import lexical_matrix
from modxfer.similarity.textemb import textemb_matrix
from modxfer_cli.main import cli

FAST = S.MeasureSettings(examples=16, n_resamples=20)
TASKS = ["mnli", "siqa", "panx-en"]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return tmp_path_factory.mktemp("store")  # adapters train once for every model-based test here


@pytest.fixture(scope="module")
def train(tiny_base):
    from modxfer.training import TrainSettings

    return TrainSettings(base=tiny_base, examples=32, batch_size=16, epochs=1.0)


def _vectors(seed=0, n=40, h=24):
    rng = np.random.default_rng(seed)
    common = rng.normal(size=h) * 5  # a shared direction, as in mean-pooled embeddings
    return {t: common + rng.normal(size=h) + rng.normal(size=(n, h)) for t in ("a", "b", "c", "d")}


# ------------------------------------------------------------------------------------------ TextEmb
@pytest.mark.parametrize("correction", ["center", "whiten"])
def test_corrected_textemb_ignores_a_constant_added_to_every_sentence_raw_does_not(correction):
    v = _vectors()
    shift = np.random.default_rng(1).normal(size=24) * 10
    moved = {t: x + shift for t, x in v.items()}
    rows, cols = ["a", "b"], ["c", "d"]
    corr, reps = textemb_matrix(v, rows, cols, correction=correction, reference=v, n_resamples=10, seed=3)
    corr2, reps2 = textemb_matrix(moved, rows, cols, correction=correction, reference=moved, n_resamples=10, seed=3)
    np.testing.assert_allclose(corr, corr2, atol=1e-9)
    np.testing.assert_allclose(reps, reps2, atol=1e-9)
    raw, _ = textemb_matrix(v, rows, cols, correction="none", n_resamples=0)
    raw2, _ = textemb_matrix(moved, rows, cols, correction="none", n_resamples=0)
    assert np.abs(raw - raw2).max() > 1e-3
    # the shared direction squeezes raw cosines together; the correction spreads them out
    assert np.ptp(raw) < np.ptp(corr)


def test_textemb_bootstrap_is_seeded_and_brackets_the_estimate():
    v = _vectors()
    values, reps = textemb_matrix(v, ["a", "b"], ["c", "d"], reference=v, n_resamples=200, seed=0)
    _, again = textemb_matrix(v, ["a", "b"], ["c", "d"], reference=v, n_resamples=200, seed=0)
    _, other = textemb_matrix(v, ["a", "b"], ["c", "d"], reference=v, n_resamples=200, seed=1)
    assert reps.shape == (200, 2, 2) and np.array_equal(reps, again) and not np.array_equal(reps, other)
    lo, hi = np.quantile(reps, [0.025, 0.975], axis=0)
    assert (lo <= values + 0.05).all() and (values - 0.05 <= hi).all() and (reps.std(0) > 0).all()


# ------------------------------------------------------------------------------------------ CKA, lexical
def test_cka_invariant_to_orthogonal_transforms_and_isotropic_scaling():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 8))
    y = x @ rng.normal(size=(8, 8)) + rng.normal(size=(50, 8))
    q1, _ = np.linalg.qr(rng.normal(size=(8, 8)))
    q2, _ = np.linalg.qr(rng.normal(size=(8, 8)))
    base = linear_cka(x, y)
    assert 0 < base < 1
    assert linear_cka(x @ q1, y) == pytest.approx(base, abs=1e-12)
    assert linear_cka(x, 0.01 * y @ q2) == pytest.approx(base, abs=1e-12)
    assert linear_cka(7.5 * x @ q1, -3 * y) == pytest.approx(base, abs=1e-12)
    assert linear_cka(x, x @ q1 * 2) == pytest.approx(1.0)
    # the Gram-matrix path used for the bootstrap gives the same numbers, per layer
    reps = {("a", "p"): np.stack([x, x]), ("b", "p"): np.stack([y, x @ q1])}
    values, boot, layers = cka_matrix(reps, ["a"], ["b"], {"b": "p"}, n_resamples=5)
    assert layers[:, 0, 0] == pytest.approx([base, 1.0]) and values[0, 0] == pytest.approx((base + 1) / 2)
    assert boot.shape == (5, 1, 1) and np.isfinite(boot).all()


def test_lexical_similarity_is_one_for_equal_and_zero_for_disjoint_distributions():
    from scipy import sparse

    a = sparse.csr_matrix(np.array([[2, 1, 0, 0], [1, 1, 0, 0]], dtype=float))
    b = sparse.csr_matrix(np.array([[0, 0, 1, 3]], dtype=float))
    counts = {"a": a, "a2": a.copy(), "b": b}
    for kind in ("js", "jaccard"):
        values, _ = lexical_matrix(counts, ["a"], ["a2", "b"], kind=kind, n_resamples=0)
        assert values[0] == pytest.approx([1.0, 0.0])


# ------------------------------------------------------------------------------------------ every measure
def _is_row_max(m):
    for i, a in enumerate(m.intermediates):
        j = m.targets.index(a)
        assert m.values[i, j] >= np.nanmax(m.values[i]) - 1e-9, (m.measure, a, m.values)
        assert m.values[i, j] == pytest.approx(1.0)


@pytest.mark.parametrize("measure", S.TRAINING_FREE)
def test_training_free_measures_are_maximal_for_a_task_against_itself(measure, tiny_base, data_dir, tmp_path,
                                                                      monkeypatch):
    monkeypatch.setenv("MODXFER_CACHE", str(tmp_path))
    m = S.compute(measure, TASKS, base=tiny_base, settings=FAST, data_dir=data_dir)
    _is_row_max(m)
    assert m.values.shape == (3, 3) and m.card["measure"] == measure and m.card["examples"] == 16


@pytest.mark.parametrize("measure", ["taskemb", "cka", "cka-delta"])
def test_model_based_measures_are_maximal_for_a_task_against_itself(measure, tiny_base, train, store, data_dir,
                                                                    tmp_path, monkeypatch):
    monkeypatch.setenv("MODXFER_CACHE", str(tmp_path / "cache"))
    m = S.compute(measure, TASKS, base=tiny_base, settings=FAST, data_dir=data_dir, store=store, train=train)
    _is_row_max(m)
    assert set(m.card["artifacts"]) == set(TASKS) and m.card["train"]["examples"] == 32
    if measure.startswith("cka"):
        # per layer, above the frozen trunk only (the tiny encoder has two layers)
        assert m.layers.shape[1:] == (3, 3) and len(m.card["layers"]) == len(m.layers) and m.card["layers"][-1] == 2
    else:
        assert ((0 <= m.values) & (m.values <= 1 + 1e-9)).all()  # cosines of squares


def test_fisher_values_are_non_negative(tiny_base, train, store, data_dir):
    from modxfer.tasks import get_task
    from modxfer.similarity.models import AdaptedModels
    from modxfer.similarity.taskemb import fisher_blocks

    models = AdaptedModels(train, store=store, data_dir=data_dir)
    model, head, _ = models.get("siqa")
    rows = get_task("siqa").load("train", limit=10, data_dir=data_dir).to_list()
    flags = {n: p.requires_grad for n, p in model.named_parameters()}
    fb = fisher_blocks(model, head, get_task("siqa"), rows, models.tokenizer, max_length=64, blocks=4)
    assert fb.examples == 10 and set(fb.blocks) == {"adapter", "layers"}
    for comp, diag in fb.diagonal.items():
        assert (diag >= 0).all() and diag.sum() > 0, comp
        assert (fb.blocks[comp] >= 0).all() and fb.blocks[comp].shape[0] == 4
    assert {n: p.requires_grad for n, p in model.named_parameters()} == flags  # the shared model is left as found


def test_cka_in_a_language_uses_tatoeba_lexicon_sentences(tiny_base, train, store, data_dir, tmp_path,
                                                          monkeypatch):
    monkeypatch.setenv("MODXFER_CACHE", str(tmp_path / "cache"))
    m = S.compute("cka-delta", ["mnli", "siqa"], ["xnli"], base=tiny_base, settings=FAST, data_dir=data_dir,
                  store=store, train=train, lang="de")
    assert m.lang == "de" and m.card["probe_source"] == "Tatoeba lexicon split"
    assert list(m.card["probes"]) == ["tatoeba-lexicon:de"] and np.isfinite(m.values).all()
    with pytest.raises(ConfigError, match="only cka takes a language"):
        S.compute("textemb", ["mnli"], ["xnli"], base=tiny_base, lang="de")


# ------------------------------------------------------------------------------------------ matrix, cache, errors
def test_matrix_card_cache_intervals_and_same_source(tiny_base, data_dir, tmp_path, monkeypatch):
    from modxfer.model.backbone import Backbone

    monkeypatch.setenv("MODXFER_CACHE", str(tmp_path))
    m = S.compute("textemb", ["mnli", "siqa", "squad"], ["xnli", "mlqa"], base=tiny_base, settings=FAST,
                  data_dir=data_dir)
    card = m.card
    assert card["examples"] == 16 and card["seed"] == 0 and card["n_resamples"] == 20
    assert card["backbone"]["weights_hash"] and card["sample_sizes"]["mnli"] == 16
    assert card["tasks_in_comparison"] == ["mnli", "siqa", "squad", "xnli", "mlqa"]
    assert m.same_source().tolist() == [[True, False], [False, False], [False, True]]
    assert S.same_source("udpos-en", "udpos") and S.same_source("panx", "panx-en")
    assert not S.same_source("mnli", "pawsx")
    low, high = m.confidence_interval(0.9)
    assert (low <= high).all() and (m.se > 0).all() and m.replicates.shape == (20, 3, 2)
    assert card["range"] == [-1.0, 1.0] and (low >= -1).all() and (high <= 1).all()
    p_low, p_high = m.confidence_interval(0.9, method="percentile")  # reflected around the estimate by default
    np.testing.assert_allclose(np.clip(2 * m.values - p_high, -1, 1), low)
    files = list((tmp_path / "similarity").rglob("matrices/*.json"))
    assert len(files) == 1 and json.loads(files[0].read_text())["card"]["measure"] == "textemb"

    def boom(*a, **k):
        raise AssertionError("embedded again instead of reading the cache")

    monkeypatch.setattr(Backbone, "embed", boom)
    again = S.compute("textemb", ["mnli", "siqa", "squad"], ["xnli", "mlqa"], base=tiny_base, settings=FAST,
                      data_dir=data_dir)
    np.testing.assert_allclose(again.values, m.values)
    np.testing.assert_allclose(again.replicates, m.replicates)
    # another comparison reuses the cached sentence embeddings (no embedding either)
    S.compute("textemb", ["mnli", "siqa"], ["xnli"], base=tiny_base, settings=FAST, data_dir=data_dir)
    assert [a for a, _ in m.ranking("xnli")][0] in ("mnli", "siqa", "squad")
    assert "mnli" not in [a for a, _ in m.ranking("xnli", exclude_same_source=True)]
    sep = m.separation()
    assert sep["max"] >= sep["min"] and sep["ratio"] > 0


def test_bad_requests_raise_errors_that_say_how_to_fix_them(tiny_base, data_dir):
    with pytest.raises(ConfigError, match="did you mean textemb"):
        S.compute("textem", ["mnli"], ["xnli"], base=tiny_base)
    with pytest.raises(DataError, match="no training split"):
        S.compute("lexical", ["mnli"], ["tatoeba"], base=tiny_base, settings=FAST, data_dir=data_dir)
    with pytest.raises(ConfigError, match="n_resamples"):
        S.MeasureSettings(n_resamples=1)


def test_cli_prints_the_matrix_with_intervals_and_marks_same_source(tiny_base, data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("MODXFER_CACHE", str(tmp_path))
    out = tmp_path / "m.json"
    res = CliRunner().invoke(cli, ["similarity", "mnli", "siqa", "xnli", "xcopa", "--measure", "textemb", "-m",
                                   "format", "--base", tiny_base, "--examples", "16", "--resamples", "20", "--ci",
                                   "--json", str(out)], terminal_width=200)
    assert res.exit_code == 0, res.output
    assert "textemb, 16 inputs per task" in res.output and "format, 16 inputs" in res.output
    assert "‡" in res.output and "†" not in res.output and "[" in res.output  # mnli/xnli marked; intervals printed
    assert "textemb: most vs least similar pair without ‡: " in res.output
    saved = json.loads(out.read_text())
    assert saved["textemb"]["intermediates"] == ["mnli", "siqa"] and saved["textemb"]["targets"] == ["xnli", "xcopa"]
    bad = CliRunner().invoke(cli, ["similarity", "mnli", "tatoeba", "--base", tiny_base, "--examples", "16"])
    assert bad.exit_code == 2 and "no training split" in bad.output and "Traceback" not in bad.output
