"""The corrected TextEmb is a property of the pair: centred (and whitened) on a fixed, recorded reference set, so a
pair's value and bootstrap replicates are the same whatever other tasks are named, through every path the commands
take (``modxfer similarity``, ``modxfer select``, the report and a results bundle). Issue 22, item 5."""

import json
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from modxfer.similarity import measures as S
from modxfer.errors import DataError
from modxfer.similarity import reference as R
from modxfer.similarity.textemb import task_vectors, textemb_matrix
from modxfer_cli.main import cli

FAST = S.MeasureSettings(examples=16, n_resamples=20)


def _vectors(names, seed=0, n=40, h=24):
    rng = np.random.default_rng(seed)
    common = rng.normal(size=h) * 5  # a shared direction, as in mean-pooled embeddings
    return {t: common + rng.normal(size=h) + rng.normal(size=(n, h)) for t in names}


# ------------------------------------------------------------------------------------------ the measure itself
@pytest.mark.parametrize("correction", ["center", "whiten"])
def test_a_pairs_value_and_replicates_do_not_depend_on_the_other_tasks(correction):
    ref = _vectors("pqrstu", seed=1)
    v = _vectors("abcdef", seed=2)
    alone, reps_alone = textemb_matrix({t: v[t] for t in "ac"}, ["a"], ["c"], correction=correction, reference=ref,
                                       n_resamples=30, seed=4)
    crowd, reps_crowd = textemb_matrix(v, ["a", "b", "d"], ["c", "e", "f"], correction=correction, reference=ref,
                                       n_resamples=30, seed=4)
    assert crowd[0, 0] == pytest.approx(alone[0, 0], abs=1e-12)
    np.testing.assert_allclose(reps_crowd[:, 0, 0], reps_alone[:, 0, 0], atol=1e-12)
    # Centred over the tasks compared (the old definition), two tasks centre to +x and -x: cosine -1 whatever they
    # are. Against a fixed reference a pair alone has a value of its own.
    assert alone[0, 0] > -0.99 and np.std(reps_alone) > 0


def test_the_reference_is_held_fixed_in_the_bootstrap_and_is_required():
    ref = _vectors("pqrs", seed=1)
    v = _vectors("ab", seed=2)
    w = {t: np.ones((3, len(x))) for t, x in v.items()}  # three "resamples" that draw every sentence once
    tv = task_vectors(v, "center", w, reference=ref)
    np.testing.assert_allclose(tv["a"][0], task_vectors(v, "center", reference=ref)["a"][0])
    # the reference's own tasks average to the origin: it is the centre both steps use
    centred = task_vectors(ref, "center", reference=ref)
    np.testing.assert_allclose(np.mean([x[0] for x in centred.values()], axis=0), 0, atol=1e-12)
    with pytest.raises(ValueError, match="needs a reference"):
        task_vectors(v, "whiten")
    task_vectors(v, "none")  # the raw TextEmb has none


def test_the_reference_is_every_offline_registered_task_with_training_text():
    # Fixed in reference.TASKS so a new task never silently moves every value; adding one is a decision (and a
    # similarity CACHE_VERSION bump).
    assert R.registry_tasks() == R.TASKS and len(R.TASKS) == 16
    assert R.EXAMPLES == S.EXAMPLES == 256 and S.CACHE_VERSION >= 3
    assert not hasattr(S, "MIN_TASKS")  # a pair alone is a request like any other


# ------------------------------------------------------------------------------------------ through compute
def test_compute_gives_a_pair_the_same_value_in_any_company_and_the_card_names_the_reference(tiny_base, data_dir):
    alone = S.compute("textemb", ["qqp"], ["xnli"], base=tiny_base, settings=FAST, data_dir=data_dir)
    crowd = S.compute("textemb", ["mnli", "qqp", "siqa", "udpos-en"], ["xnli", "panx"], base=tiny_base,
                      settings=FAST, data_dir=data_dir)
    assert crowd[("qqp", "xnli")] == pytest.approx(alone[("qqp", "xnli")], abs=1e-12)
    np.testing.assert_allclose(crowd.replicates[:, 1, 0], alone.replicates[:, 0, 0], atol=1e-12)
    assert -0.99 < alone[("qqp", "xnli")] < 1
    ref = alone.card["reference"]
    assert ref["tasks"] == list(R.TASKS) and ref["examples_per_task"] == 256
    assert set(ref["sample_sizes"].values()) == {256} and ref["max_length"] == S.MAX_LENGTH
    assert len(ref["sha256"]) == 64 and ref == crowd.card["reference"] and "held fixed" in ref["bootstrap"]
    whiten = S.compute("textemb-whiten", ["qqp"], ["xnli"], base=tiny_base, settings=FAST, data_dir=data_dir)
    whiten_crowd = S.compute("textemb-whiten", ["mnli", "qqp"], ["xnli", "udpos"], base=tiny_base, settings=FAST,
                             data_dir=data_dir)
    assert whiten_crowd[("qqp", "xnli")] == pytest.approx(whiten[("qqp", "xnli")], abs=1e-12)
    assert whiten.card["reference"]["sha256"] == ref["sha256"]
    raw = S.compute("textemb-raw", ["qqp"], ["xnli"], base=tiny_base, settings=FAST, data_dir=data_dir)
    assert raw.card["reference"] is None  # named as none: the raw cosine has no reference
    # the report's table of measures says what each is centred on
    from modxfer.similarity.report_text import _reference

    assert _reference(alone.card) == f"16 tasks x 256 inputs (sha256 {ref['sha256'][:12]})"
    assert _reference(raw.card) == "-" and _reference({"correction": "center"}) == "? (not recorded)"


def test_the_reference_is_part_of_the_cache_key(tiny_base, data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("MODXFER_CACHE", str(tmp_path))
    full = S.compute("textemb", ["qqp"], ["xnli"], base=tiny_base, settings=FAST, data_dir=data_dir)
    texts = R.texts

    def fewer(data_dir=None):  # another reference: its matrices must not be read from the first one's entry
        return dict(list(texts(data_dir).items())[:5])

    monkeypatch.setattr(R, "texts", fewer)
    other = S.compute("textemb", ["qqp"], ["xnli"], base=tiny_base, settings=FAST, data_dir=data_dir)
    assert other.card["reference"]["tasks"] == list(R.TASKS[:5])
    assert other.card["reference"]["sha256"] != full.card["reference"]["sha256"]
    assert other[("qqp", "xnli")] != pytest.approx(full[("qqp", "xnli")], abs=1e-9)
    assert len(list((tmp_path / "similarity").rglob("matrices/textemb.*.json"))) == 2


def test_a_missing_reference_task_is_refused_by_name(tiny_base, data_dir, tmp_path):
    # The whole data directory but SNLI's files: the request names snli only, and the raw TextEmb still works.
    partial = tmp_path / "data"
    partial.mkdir()
    for item in data_dir.iterdir():
        if item.name != "en_intermediate":
            (partial / item.name).symlink_to(item)
    (partial / "en_intermediate").mkdir()
    for item in (data_dir / "en_intermediate").iterdir():
        if item.name != "snli":
            (partial / "en_intermediate" / item.name).symlink_to(item)
    with pytest.raises(DataError, match=r"1 of them have no usable training data .*: snli \(") as e:
        S.compute("textemb", ["qqp"], ["xnli"], base=tiny_base, settings=FAST, data_dir=partial)
    assert "modxfer data fetch snli" in e.value.fix and "textemb-raw" in e.value.fix
    S.compute("textemb-raw", ["qqp"], ["xnli"], base=tiny_base, settings=FAST, data_dir=partial)


# ------------------------------------------------------------------------------------------ the three commands
def test_similarity_select_and_report_give_one_value_for_a_pair(tiny_base, data_dir, tmp_path):
    from modxfer.similarity.pairs import similarity_for, similarity_matrices
    from modxfer.model.backbone import load_backbone
    from modxfer.similarity.selection import select

    out = tmp_path / "m.json"
    res = CliRunner().invoke(cli, ["similarity", "qqp", "xnli", "--base", tiny_base, "--examples", "256",
                                   "--resamples", "0", "--json", str(out)], terminal_width=200)
    assert res.exit_code == 0, res.output
    assert "centred on the fixed reference of 16 tasks x 256 inputs" in res.output
    saved = json.loads(out.read_text())["textemb"]
    from_similarity = saved["values"][0][0]
    assert saved["card"]["reference"]["tasks"] == list(R.TASKS)
    sel = select("xnli", intermediates=["mnli", "qqp", "udpos-en"], base=tiny_base, data_dir=data_dir,
                 settings=S.MeasureSettings(n_resamples=0))
    from_select = next(r["similarity"] for r in sel.ranking if r["intermediate"] == "qqp")
    bb = load_backbone(tiny_base)
    quickstart = [("mnli", "xnli"), ("qqp", "xnli"), ("udpos-en", "xnli"), ("mnli", "panx"), ("udpos-en", "panx")]
    from_report = similarity_for(quickstart, bb, None, data_dir)[("qqp", "xnli")]
    study = [(a, b) for a in ("mnli", "qqp", "siqa", "csqa", "panx-en", "udpos-en") for b in ("xnli", "udpos")]
    from_bundle = similarity_matrices(study, bb, None, data_dir, S.TRAINING_FREE)["textemb"][("qqp", "xnli")]
    assert from_select == pytest.approx(from_similarity, abs=1e-12)
    assert from_report == pytest.approx(from_similarity, abs=1e-12)
    assert from_bundle == pytest.approx(from_similarity, abs=1e-12)
    # a run with only two tasks gets its matrix now (it used to be left out, its pairs without a similarity)
    assert similarity_for([("qqp", "xnli")], bb, None, data_dir)[("qqp", "xnli")] == pytest.approx(from_similarity,
                                                                                                      abs=1e-12)


# ------------------------------------------------------------------------------------------ a stored bundle
def test_a_bundles_matrices_are_recomputed_in_place_with_the_reference(tiny_base, data_dir, tmp_path):
    from test_bad_sweeps import _meta, _rows, _write_bundle

    from modxfer.model.backbone import load_backbone
    from modxfer.sweeps.bundle import read_bundle
    from modxfer.sweeps.bundle_similarity import recompute_bundle_similarity

    meta = _meta()  # a stored textemb of 0.5 for mnli/xnli, measured "on" the tiny backbone
    meta["card"]["backbone"] = {"name": tiny_base, "model_id": "tiny",
                                "weights_hash": load_backbone(tiny_base).weights_hash}
    folder = _write_bundle(tmp_path / "bundle", _rows(), meta)
    parquet = (folder / "results.parquet").read_bytes()
    changes = recompute_bundle_similarity(folder, data_dir=data_dir)
    fresh = S.compute("textemb", ["mnli"], ["xnli"], base=tiny_base, settings=S.MeasureSettings(examples=16),
                      data_dir=data_dir)
    assert changes["textemb"]["mnli/xnli"] == [0.5, pytest.approx(fresh[("mnli", "xnli")], abs=1e-12)]
    bundle = read_bundle(folder)  # digest and schema hold
    assert bundle.similarity["textemb"][("mnli", "xnli")] == pytest.approx(fresh[("mnli", "xnli")], abs=1e-12)
    assert bundle.similarity["textemb"].card["reference"]["tasks"] == list(R.TASKS)
    assert bundle.card["similarity_recomputed"]["previous_digest"] and list(bundle.similarity) == ["textemb"]
    assert (folder / "results.parquet").read_bytes() == parquet
    # another backbone than the one the bundle was measured on is refused, and the bundle left as it was
    before = (folder / "run.json").read_bytes()
    moved = tmp_path / "moved"
    shutil.copytree(folder, moved)
    data = json.loads((moved / "run.json").read_text())
    data["card"]["backbone"]["weights_hash"] = "0" * 64
    (moved / "run.json").write_text(json.dumps(data))
    from modxfer.errors import ConfigError

    with pytest.raises(ConfigError, match="was measured on backbone"):
        recompute_bundle_similarity(moved, data_dir=data_dir)
    assert (folder / "run.json").read_bytes() == before


def test_the_recompute_script_refuses_what_is_not_a_bundle(tmp_path, capsys):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "scripts" / "recompute_bundle_similarity.py"
    spec = importlib.util.spec_from_file_location("recompute_bundle_similarity", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert script.main([str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "error:" in err and "fix:" in err and "Traceback" not in err
