"""Bad input to sweeps: configs that only the backbone or the adapter library can refuse, and results bundles whose
checksums agree but whose content is wrong. Each fails with exit 2, a message naming the key or field, no traceback,
and nothing written."""

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from modxfer_cli.main import cli

from modxfer.errors import ConfigError, DataError
from modxfer.sweeps import load_config, run_sweep
from modxfer.sweeps.bundle import META, RESULTS, digest, read_bundle

BASE = {"targets": {"xnli": ["en"]}, "compositions": ["target"], "noise": ["clean"], "seeds": [0],
        "budget": {"examples": 16, "epochs": 1, "eval_examples": 8}, "training": {"batch_size": 8, "max_length": 32}}

# config change -> what the message must name (the config's key, never a flag of `modxfer train`)
BAD_CONFIGS = {
    "unknown adapter": ({"training": {**BASE["training"], "adapter": "nosuch"}}, "training.adapter"),
    "trunk under training": ({"training": {**BASE["training"], "trunk_layers": 99}}, "trunk_layers is 99"),
    "trunk at the top": ({"trunk_layers": 2}, "trunk_layers is 2"),
    # seq_bn_inv changes the embeddings, so it cannot sit above the tiny backbone's default 1-layer trunk
    "adapter above a trunk": ({"training": {**BASE["training"], "adapter": "seq_bn_inv"}}, "training.adapter"),
    "missing backbone": ({"backbone": "nonexist-model"}, "backbone: backbone 'nonexist-model'"),
}


def _config(tmp_path: Path, tiny_base: str, changes: dict) -> tuple[Path, Path]:
    out = tmp_path / "run"
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({**BASE, "backbone": tiny_base, "output": str(out), **changes}))
    return path, out


def _tree(folder: Path) -> dict:
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*"))}


def _refused(res, *needles: str) -> None:
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output and "fix:" in res.output, res.output
    for needle in needles:
        assert needle in res.output, res.output


@pytest.mark.parametrize("case", list(BAD_CONFIGS))
def test_bad_config_fails_in_plan_and_in_run_leaving_no_folder(case, tiny_base, tmp_path, data_dir):
    changes, named = BAD_CONFIGS[case]
    path, out = _config(tmp_path, tiny_base, changes)
    plan = CliRunner().invoke(cli, ["sweep", "plan", str(path)])
    _refused(plan, "bad.yaml: ", named)
    assert "--trunk-layers" not in plan.output
    run = CliRunner().invoke(cli, ["sweep", "run", "-q", str(path)])
    _refused(run, named)
    assert run.output == plan.output  # the same checks, the same message
    assert not out.exists()
    status = CliRunner().invoke(cli, ["sweep", "status", str(out)])
    assert status.exit_code == 2  # no half-made run that reports itself healthy


def test_bad_config_leaves_an_existing_run_folder_as_it_was(tiny_base, tmp_path, data_dir):
    path, out = _config(tmp_path, tiny_base, {"training": {**BASE["training"], "trunk_layers": 99}})
    out.mkdir()
    (out / "notes.txt").write_text("an earlier run's folder")
    before = _tree(out)
    with pytest.raises(ConfigError, match="trunk_layers"):
        run_sweep(load_config(path), quiet=True)
    assert _tree(out) == before


def test_good_config_passes_the_same_checks(tiny_base, tmp_path, data_dir):
    path, out = _config(tmp_path, tiny_base, {"training": {**BASE["training"], "trunk_layers": 1}})
    res = CliRunner().invoke(cli, ["sweep", "plan", str(path)])
    assert res.exit_code == 0, res.output
    assert "cells: 1 train + 1 eval = 2" in res.output and not out.exists()


def test_plan_of_a_known_hub_backbone_not_yet_downloaded_checks_its_depth(tmp_path, data_dir):
    # A study may be planned before its backbone is downloaded (the Hub is unreachable here): the plan checks what
    # it can at the backbone's known depth and says what it left to `sweep run`, which refuses without a folder.
    path, out = _config(tmp_path, "xlm-roberta-base", {})
    res = CliRunner().invoke(cli, ["sweep", "plan", str(path)])
    assert res.exit_code == 0 and "not checked:" in res.output, res.output
    _refused(CliRunner().invoke(cli, ["sweep", "run", "-q", str(path)]), "backbone: backbone 'xlm-roberta-base'")
    assert not out.exists()
    path, out = _config(tmp_path, "xlm-roberta-base", {"trunk_layers": 12})
    _refused(CliRunner().invoke(cli, ["sweep", "plan", str(path)]), "has 12 layers")


def test_plan_never_loads_a_known_hub_backbone_that_is_not_here(tmp_path, data_dir, monkeypatch):
    # Online, loading it would download gigabytes of weights for a command that runs nothing.
    from modxfer.sweeps import prepare

    def loads(config):
        raise AssertionError(f"sweep plan loaded {config.backbone}")

    monkeypatch.setattr(prepare, "_backbone_layers", loads)
    monkeypatch.setattr(prepare, "_on_this_machine", lambda name: False)
    path, _ = _config(tmp_path, "xlm-roberta-large", {})
    res = CliRunner().invoke(cli, ["sweep", "plan", str(path)])
    assert res.exit_code == 0 and "known depth of 24 layers" in res.output, res.output


# ------------------------------------------------------------------------------------------------ bundles


def _outcomes(correct: list[int]) -> str:
    n = len(correct)
    return json.dumps({"format": 1, "metric": "accuracy", "lang": "en", "correct": correct, "prediction": [0] * n,
                       "ids": [f"xnli/dev-en.tsv:{i}" for i in range(n)], "reference": [1 - c for c in correct]})


def _rows() -> pd.DataFrame:
    rows = []
    for comp, kind in (("xnli", "target"), ("mnli>xnli", "stack")):
        for lang, family in (("en", "Indo-European"), ("de", "Indo-European")):
            correct = [1, 0, 1, 1] if kind == "stack" else [1, 0, 0, 1]
            rows.append({"task": "xnli", "composition": comp, "kind": kind, "lang": lang, "family": family,
                         "noise": "clean", "seed": 0, "metric": "accuracy", "score": 25.0 * sum(correct), "n": 4,
                         "cell": f"{comp}-{lang}", "noise_rate": float("nan"), "noise_words_rate": float("nan"),
                         "competence": "learned", "outcomes": _outcomes(correct),
                         "metrics.accuracy": 25.0 * sum(correct)})
    return pd.DataFrame(rows)


def _meta() -> dict:
    competence = {"metric": "accuracy", "score": 60.0, "ci": [55.0, 65.0], "n": 100, "chance": 33.33, "floor": 33.33,
                  "floor_method": "chance", "learned": True}
    artifacts = [{"cell": f"k{i}", "id": f"train {c} seed=0", "status": "learned", "competence": competence,
                  "finished": True, "examples": 16, "epochs": 1.0} for i, c in enumerate(("mnli", "mnli>xnli", "xnli"))]
    return {"card": {"kind": "modxfer-results", "version": 1, "run_name": "bad", "rows": 4, "similarity_examples": 16,
                     "backbone": {"name": "embedded", "model_id": "m", "weights_hash": "h"}},
            "config": {"name": "bad"}, "counts": {"eval": {"done": 4, "failed": 0}, "train": {"done": 3}},
            "artifacts": artifacts,
            "similarity": {"textemb": {"measure": "textemb", "intermediates": ["mnli"], "targets": ["xnli"],
                                       "values": [[0.5]], "replicates": [[[0.4]], [[0.6]]]}}}


def _write_bundle(folder: Path, df: pd.DataFrame, meta: dict) -> Path:
    """A bundle whose checksums agree with its content, whatever the content: what a careless writer makes."""
    folder.mkdir(parents=True)
    df.to_parquet(folder / RESULTS, index=False)
    meta["card"]["results_sha256"] = hashlib.sha256((folder / RESULTS).read_bytes()).hexdigest()
    meta["card"]["digest"] = digest(meta)
    (folder / META).write_text(json.dumps(meta))
    return folder


def _drop(df, column):
    return df.drop(columns=[column])


def _set(df, column, values):
    df[column] = values
    return df


# name -> (change to the results table, change to run.json, what the message must name)
BAD_BUNDLES = {
    "score as text": (lambda d: _set(d, "score", ["high"] * len(d)), None, "column 'score', row 0: 'high'"),
    "score missing": (lambda d: _set(d, "score", [float("nan")] * len(d)), None, "column 'score'"),
    "no lang column": (lambda d: _drop(d, "lang"), None, "'lang'"),
    "fractional seed": (lambda d: _set(d, "seed", [0.5] * len(d)), None, "column 'seed', row 0: 0.5"),
    "negative n": (lambda d: _set(d, "n", [-1] * len(d)), None, "column 'n'"),
    "unknown kind": (lambda d: _set(d, "kind", ["stacked"] * len(d)), None, "column 'kind'"),
    "kind and composition disagree": (lambda d: _set(d, "kind", ["fusion"] * len(d)), None, "composition 'xnli'"),
    "unknown task": (lambda d: _set(d, "task", ["nosuch"] * len(d)), None, "column 'task', row 0"),
    "metric column as text": (lambda d: _set(d, "metrics.accuracy", ["x"] * len(d)), None, "'metrics.accuracy'"),
    "outcomes not JSON": (lambda d: _set(d, "outcomes", ["{"] * len(d)), None, "column 'outcomes', row 0"),
    "outcomes short": (lambda d: _set(d, "outcomes", ['{"metric": "accuracy", "ids": ["a"], "correct": []}'] * len(d)),
                       None, "column 'outcomes', row 0: malformed"),
    "repeated row": (lambda d: pd.concat([d, d.iloc[:1]], ignore_index=True), None, "row 4 repeats"),
    "no rows": (lambda d: d.iloc[:0], None, "holds no result rows"),
    "artifact without status": (None, lambda m: m["artifacts"][0].pop("status"), "artifacts[0] has no 'status'"),
    "artifact status unknown": (None, lambda m: m["artifacts"][1].update(status="great"), "artifacts[1].status"),
    "artifact not an object": (None, lambda m: m["artifacts"].__setitem__(0, "x"), "artifacts[0] is 'x'"),
    "competence score as text": (None, lambda m: m["artifacts"][0]["competence"].update(score="high"),
                                 "artifacts[0].competence.score"),
    "competence ci of one": (None, lambda m: m["artifacts"][2].update(competence={"ci": [1.0]}),
                             "artifacts[2].competence.ci"),
    "counts not numbers": (None, lambda m: m["counts"].update(eval="all"), "counts.eval"),
    "similarity without values": (None, lambda m: m["similarity"]["textemb"].pop("values"),
                                  "similarity.textemb has no 'values'"),
    "similarity of the wrong shape": (None, lambda m: m["similarity"]["textemb"].update(values=[[0.5, 0.1]]),
                                      "similarity.textemb is malformed"),
    "replicates of the wrong shape": (None, lambda m: m["similarity"]["textemb"].update(replicates=[0.4, 0.6]),
                                      "similarity.textemb.replicates"),
    "card backbone a list": (None, lambda m: m["card"].update(backbone=["embedded"]), "card.backbone"),
}


def test_a_well_formed_bundle_is_read(tmp_path):
    bundle = read_bundle(_write_bundle(tmp_path / "ok", _rows(), _meta()))
    assert len(bundle.results) == 4 and bundle.results["outcomes"][0]["correct"] == [1, 0, 0, 1]
    assert bundle.similarity["textemb"].values.shape == (1, 1) and bundle.artifacts[0]["status"] == "learned"


def _bad_bundle(case: str, tmp_path):
    """The bundle of BAD_BUNDLES[case], written; with the field its error must name and whether run.json is bad."""
    change_rows, change_meta, named = BAD_BUNDLES[case]
    df, meta = _rows(), _meta()
    if change_rows:
        df = change_rows(df)
        meta["card"]["rows"] = len(df)  # a writer that keeps its count honest: the schema check must still refuse
    if change_meta:
        change_meta(meta)
    return _write_bundle(tmp_path / "bundle", df, meta), named, bool(change_meta)


@pytest.mark.parametrize("case", list(BAD_BUNDLES))
def test_bad_bundle_is_refused_naming_the_field(case, tmp_path):
    folder, named, bad_meta = _bad_bundle(case, tmp_path)
    with pytest.raises(DataError) as e:
        read_bundle(folder)
    assert named in e.value.problem and str(folder / (META if bad_meta else RESULTS)) in e.value.problem
    assert "sweep export" in e.value.fix


@pytest.mark.parametrize("case", ["score as text", "artifact without status"])
def test_report_on_a_bad_bundle_exits_2_and_writes_nothing(case, tmp_path):
    folder, named, _ = _bad_bundle(case, tmp_path)
    res = CliRunner().invoke(cli, ["report", str(folder), "--out", str(tmp_path / "report")])
    _refused(res, named)
    assert not (tmp_path / "report").exists()


def test_bundle_missing_its_results_file_names_it(tmp_path):
    folder = _write_bundle(tmp_path / "bundle", _rows(), _meta())
    (folder / RESULTS).unlink()
    res = CliRunner().invoke(cli, ["report", str(folder), "--out", str(tmp_path / "report")])
    _refused(res, "without its results.parquet")
    assert "sweep.db" not in res.output and not (tmp_path / "report").exists()


def test_status_of_a_run_whose_planning_never_finished_says_so(tmp_path):
    from modxfer.sweeps import Store

    with Store(tmp_path / "half", create=True):
        pass  # what a sweep stopped between creating its store and planning leaves
    res = CliRunner().invoke(cli, ["sweep", "status", str(tmp_path / "half")])
    _refused(res, "no planned cells", "sweep run CONFIG")
    from modxfer.sweeps.store import RunLock

    with RunLock(tmp_path / "half"):  # a sweep that is planning right now is not reported as stopped
        res = CliRunner().invoke(cli, ["sweep", "status", str(tmp_path / "half")])
    assert res.exit_code == 0 and "planning its cells now" in res.output, res.output
