"""Sweeps: config validation, planning, the run store, resume after kill -9, failures, and Ray vs local."""

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from modxfer.errors import ConfigError, ModxferError
from modxfer.sweeps import RunLock, Store, build_plan, estimate, load_config, load_results, parse_config, run_sweep
from modxfer.sweeps import config as sweep_config
from modxfer.sweeps.worker import CellRunner, runner_settings
from modxfer_cli.main import cli

ROOT = Path(__file__).resolve().parents[1]

BASE = {
    "intermediates": ["mnli", "siqa"],
    "targets": {"xnli": ["en", "de"]},
    "compositions": ["target", "stack"],
    "noise": ["clean", "typo:0.1"],
    "seeds": [0],
    "budget": {"examples": 32, "epochs": 1, "eval_examples": 16},
    "training": {"batch_size": 16, "max_length": 64},
}
# Compared row for row between runs; `cell` is the content key, so equal keys mean equal inputs.
RESULT_COLUMNS = ["cell", "task", "composition", "lang", "noise", "seed", "metric", "score", "n"]


def _config(data_dir, **changes):
    return parse_config({**BASE, **changes}, where="test.yaml")


def _error(data_dir, **changes) -> ConfigError:
    with pytest.raises(ConfigError) as e:
        _config(data_dir, **changes)
    return e.value


# ----------------------------------------------------------------------------------------- config


def test_typo_key_names_the_key_and_the_close_match(data_dir):
    e = _error(data_dir, intermediats=["mnli"])
    assert e.problem == "test.yaml: unknown key 'intermediats' in the top level (did you mean 'intermediates'?)"
    assert "allowed keys in the top level: name, backbone, intermediates, targets" in e.fix
    e = _error(data_dir, budget={"exampels": 10})
    assert e.problem == "test.yaml: unknown key 'exampels' in budget (did you mean 'examples', 'eval_examples'?)"
    assert e.fix == "allowed keys in budget: examples, epochs, eval_examples, full, intermediate, targets"


def test_unknown_task_and_wrong_role(data_dir):
    e = _error(data_dir, intermediates=["mnlii"])
    assert e.problem == "test.yaml: intermediates: unknown task 'mnlii' (did you mean mnli, xnli, snli?)"
    assert "use one of: mnli, snli" in e.fix
    e = _error(data_dir, targets={"xnlj": ["en"]})
    assert e.problem == "test.yaml: targets: unknown task 'xnlj' (did you mean xnli?)"
    e = _error(data_dir, targets={"mnli": ["en"]})
    assert e.problem == "test.yaml: targets: 'mnli' has no test data, so it cannot be evaluated"
    e = _error(data_dir, intermediates=["hellaswag"])
    assert e.problem.startswith("test.yaml: intermediates: 'hellaswag' has no offline training data")


def test_language_not_in_task(data_dir):
    e = _error(data_dir, targets={"xnli": ["en", "xx"]})
    assert e.problem == "test.yaml: targets.xnli: task 'xnli' has no data for language 'xx'"
    assert e.fix.startswith("use languages it has: ar, bg, de, el, en,")
    e = _error(data_dir, targets={"xcopa": ["de"]})  # German exists, but not in XCOPA
    assert e.problem == "test.yaml: targets.xcopa: task 'xcopa' has no data for language 'de'"
    e = _error(data_dir, targets={"xnli": ["family:Indo-Europian"]})
    assert "no language here has family 'Indo-Europian'; did you mean 'Indo-European'?" in e.problem


def test_language_selection_by_list_all_family_and_iso3(data_dir):
    from modxfer.tasks import get_task

    cfg = _config(data_dir, targets={"xnli": "all", "xcopa": ["family:Austronesian", "tur", "it"]})
    assert cfg.target("xnli").languages == get_task("xnli").languages(data_dir)
    assert cfg.target("xcopa").languages == ("id", "tr", "it")  # Indonesian is XCOPA's one Austronesian language
    cfg = _config(data_dir, targets=["xnli"], languages=["de", "deu", "en"])  # duplicates by alias kept once
    assert cfg.target("xnli").languages == ("de", "en")


def test_bad_noise_spec(data_dir):
    e = _error(data_dir, noise=["clean", "typoo:0.1"])
    assert e.problem == "test.yaml: noise: unknown noise 'typoo' in spec 'typoo:0.1'"
    assert e.fix.startswith("use one of: adversarial, clean, codeswitch")
    e = _error(data_dir, noise=["typo:1.5"])
    assert e.problem.startswith("test.yaml: noise: noise spec 'typo:1.5': typo rate='1.5' is not")


def test_impossible_budgets(data_dir):
    e = _error(data_dir, budget={"examples": 0})
    assert e.problem == "test.yaml: budget.examples must be a whole number >= 1, got 0"
    e = _error(data_dir, budget={"epochs": -1})
    assert e.problem == "test.yaml: budget.epochs must be a number > 0, got -1"
    e = _error(data_dir, budget={"eval_examples": 2.5})
    assert e.problem == "test.yaml: budget.eval_examples must be a whole number >= 1, got 2.5"
    e = _error(data_dir, seeds=[0, -1])
    assert e.problem == "test.yaml: seeds: -1 is not a whole number >= 0"
    e = _error(data_dir, precision="fp16")
    assert e.problem == "test.yaml: precision 'fp16' is not allowed" and e.fix == "use one of: auto, bf16, fp32"
    # More eval examples than a language has is fine: they are clipped (XCOPA has 500 per language).
    cfg = _config(data_dir, targets={"xcopa": ["it"]}, budget={"eval_examples": 10_000})
    assert estimate(build_plan(cfg))["eval_examples"] == 500 * 3 * 2  # 3 compositions x 2 noise settings


def test_precisions_mirror_the_library():
    from modxfer.model.precision import PRECISIONS

    assert sweep_config.PRECISIONS == PRECISIONS


def test_composition_errors(data_dir):
    e = _error(data_dir, intermediates=["mnli"], compositions=["fusion"])
    assert e.problem == "test.yaml: compositions: 'fusion' fuses at least two intermediates; intermediates has 1: mnli"
    e = _error(data_dir, compositions=["anli>xnli"])
    assert e.problem == "test.yaml: compositions: 'anli>xnli' uses 'anli', not in intermediates (mnli, siqa)"
    e = _error(data_dir, compositions=["mnli>pawsx"])
    assert e.problem == "test.yaml: compositions: 'mnli>pawsx' targets 'pawsx', which is not in targets"
    e = _error(data_dir, compositions=["stak"])
    assert e.problem == "test.yaml: compositions: 'stak' is neither a composition kind nor a target (did you mean 'stack'?)"
    e = _error(data_dir, compositions=["mnli>>xnli"])
    assert e.problem.startswith("test.yaml: compositions: cannot parse composition 'mnli>>xnli'")


def test_load_config_file_errors(tmp_path, data_dir):
    bad = tmp_path / "bad.yaml"
    bad.write_text("targets: [xnli\n")
    with pytest.raises(ConfigError, match="bad.yaml is not valid YAML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.yaml")
    good = tmp_path / "study.yaml"
    good.write_text(yaml.safe_dump(BASE))
    cfg = load_config(good, output=tmp_path / "out")
    assert cfg.name == "study" and cfg.output == tmp_path / "out" and cfg.artifacts == tmp_path / "out" / "artifacts"


def test_cli_reports_config_errors_without_traceback(tmp_path, data_dir):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({**BASE, "seeds": "zero"}))
    res = CliRunner().invoke(cli, ["sweep", "plan", str(cfg)])
    assert res.exit_code == 2
    assert "error: c.yaml: seeds: 'zero' is not a whole number >= 0" in res.output and "Traceback" not in res.output


# ------------------------------------------------------------------------------------------- plan


def test_plan_cells_and_dependencies(data_dir):
    cfg = _config(data_dir, targets={"xnli": ["en", "de"], "xcopa": ["it"]},
                  compositions=["target", "stack", "fusion", "full", "full:mnli>xnli"], seeds=[0, 1])
    plan = build_plan(cfg)
    per_seed_train = ["xnli", "xcopa", "mnli", "siqa", "full:xnli", "full:xcopa", "full:mnli", "mnli>xnli",
                      "siqa>xnli", "mnli>xcopa", "siqa>xcopa", "fuse(mnli,siqa)>xnli", "fuse(mnli,siqa)>xcopa",
                      "full:mnli>xnli"]
    assert sorted(c.id for c in plan.train_cells) == sorted(f"train {c} seed={s}" for s in (0, 1) for c in per_seed_train)
    # evals: (6 xnli compositions x 2 languages + 5 xcopa compositions x 1) x 2 noise x 2 seeds
    assert len(plan.eval_cells) == (6 * 2 + 5 * 1) * 2 * 2
    by = plan.by_id
    assert by["train fuse(mnli,siqa)>xcopa seed=1"].needs == ("train mnli seed=1", "train siqa seed=1")
    assert by["train full:mnli>xnli seed=0"].needs == ("train full:mnli seed=0",)
    assert by["train xnli seed=0"].needs == ()
    assert by["eval mnli>xnli de typo:0.1 seed=1"].needs == ("train mnli>xnli seed=1",)
    position = {c.id: i for i, c in enumerate(plan.cells)}
    assert all(position[n] < position[c.id] for c in plan.cells for n in c.needs)
    # every cell that builds on mnli (seed 0), directly or not, is its dependent
    deps = plan.dependents()["train mnli seed=0"]
    assert "eval fuse(mnli,siqa)>xnli en clean seed=0" in deps and "train siqa>xnli seed=0" not in deps


def test_no_cell_code_switches_english_into_english(data_dir):
    cfg = _config(data_dir, noise=["clean", "codeswitch:0.3"])
    ids = [c.id for c in build_plan(cfg).eval_cells]
    assert "eval mnli>xnli de codeswitch:0.3 seed=0" in ids and "eval mnli>xnli en clean seed=0" in ids
    assert not [i for i in ids if " en codeswitch" in i]


def test_intermediate_budget_is_its_own(data_dir):
    cfg = _config(data_dir, budget={**BASE["budget"], "intermediate": {"examples": 64, "epochs": 2},
                                    "full": {"examples": 16}})
    assert cfg.budget_for("target", "mnli") == (64, 2.0) and cfg.budget_for("stack", "xnli") == (32, 1.0)
    assert cfg.budget_for("full", "mnli") == (16, 1.0)
    settings = cfg.train_settings(0, "target")
    assert settings["intermediate_examples"] == 64 and settings["intermediate_epochs"] == 2.0
    e = _error(data_dir, budget={**BASE["budget"], "intermediate": {"examples": 0}})
    assert e.problem == "test.yaml: budget.intermediate.examples must be a whole number >= 1, got 0"


def test_full_budget_can_freeze_word_embeddings(data_dir):
    cfg = _config(data_dir, compositions=["target", "full"], budget={**BASE["budget"], "full": {"freeze_embeddings": True}})
    assert cfg.train_settings(0, "full")["freeze_embeddings"] is True
    assert "freeze_embeddings" not in cfg.train_settings(0, "target")
    unset = _config(data_dir, compositions=["target", "full"], budget={**BASE["budget"], "full": {"freeze_embeddings": False}})
    assert "freeze_embeddings" not in unset.train_settings(0, "full")  # false is the default: keys stay as they were
    e = _error(data_dir, compositions=["full"], budget={**BASE["budget"], "full": {"freeze_embeddings": "yes"}})
    assert e.problem == "test.yaml: budget.full.freeze_embeddings must be true or false, got 'yes'"


def test_target_budget_is_its_own(data_dir):
    cfg = _config(data_dir, targets={"xnli": ["en", "de"], "xcopa": ["et"]},
                  budget={**BASE["budget"], "targets": {"xnli": {"examples": 48}}})
    assert cfg.budget_for("stack", "xnli") == (48, 1.0) and cfg.budget_for("target", "xnli") == (48, 1.0)
    assert cfg.budget_for("stack", "xcopa") == (32, 1.0) and cfg.budget_for("target", "mnli") == (32, 1.0)
    assert cfg.budget_for("full", "xnli") == (32, 1.0)
    assert cfg.train_settings(0, "stack")["target_budgets"] == (("xnli", 48, None),)
    runner = CellRunner(runner_settings(cfg))
    # workers build the same keys (with "auto" precision resolved once, by the driver)
    assert runner.train_settings(0, "stack")["target_budgets"] == (("xnli", 48, None),)
    e = _error(data_dir, budget={**BASE["budget"], "targets": {"xnlii": {"examples": 48}}})
    assert "budget.targets names 'xnlii', which is not one of the targets (xnli)" in e.problem
    assert "did you mean 'xnli'" in e.fix
    e = _error(data_dir, budget={**BASE["budget"], "targets": {"xnli": {"epochs": -1}}})
    assert e.problem == "test.yaml: budget.targets.xnli.epochs must be a number > 0, got -1"
    e = _error(data_dir, budget={**BASE["budget"], "targets": {"xnli": {"steps": 3}}})
    assert "unknown key 'steps'" in e.problem
    e = _error(data_dir, budget={**BASE["budget"], "targets": {"mnli": {"examples": 48}}})
    assert "an intermediate task" in e.problem and "budget.intermediate" in e.fix
    e = _error(data_dir, compositions=["full"], budget={**BASE["budget"], "targets": {"xnli": {"examples": 48}}})
    assert "no composition trains an adapter for xnli" in e.problem


def test_plan_command_prints_every_budget(tmp_path, data_dir):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({**BASE, "output": str(tmp_path / "run"), "budget": {
        **BASE["budget"], "intermediate": {"examples": 64}, "targets": {"xnli": {"examples": 48, "epochs": 2}}}}))
    res = CliRunner().invoke(cli, ["sweep", "plan", str(cfg)])
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "budget: 32 training examples x 1 epochs; intermediate adapters 64 x 1; xnli adapters 48 x 2, 16 eval" in text


def test_plan_of_a_retrieval_target_needs_only_intermediates(data_dir):
    cfg = _config(data_dir, intermediates=["mnli"], targets={"tatoeba": ["deu"]}, compositions=["stack"],
                  noise=["clean"])
    plan = build_plan(cfg)
    assert [c.id for c in plan.train_cells] == ["train mnli seed=0"]
    assert plan.eval_cells[0].needs == ("train mnli seed=0",)


def test_plan_command_prints_grid_counts_and_estimate(tmp_path, data_dir):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({**BASE, "output": str(tmp_path / "run")}))
    res = CliRunner().invoke(cli, ["sweep", "plan", str(cfg), "--cells"])
    assert res.exit_code == 0, res.output
    assert "cells: 5 train + 12 eval = 17" in res.output
    assert "estimated cost: 160 training examples" in res.output
    assert "eval siqa>xnli de typo:0.1 seed=0" in res.output
    assert not (tmp_path / "run").exists()  # planning does nothing else


def test_quickstart_config_meets_the_brief(data_dir):
    from modxfer import languages as L
    from modxfer.tasks import get_task

    cfg = load_config(ROOT / "configs" / "quickstart.yaml")
    assert len(cfg.intermediates) >= 3 and "xnli" in [t.task for t in cfg.targets]
    assert len({get_task(t.task).head for t in cfg.targets}) >= 2
    langs = {lang for t in cfg.targets for lang in t.languages}
    assert len(langs) >= 8 and len({L.get(lang).family for lang in langs}) >= 4
    assert cfg.noise[0] == "clean" and len(cfg.noise) >= 4
    assert {c.kind for c in cfg.compositions} == {"target", "stack", "fusion", "full"}


# ------------------------------------------------------------------------------------------ store


def _cells(n=3):
    return [(f"k{i}", f"cell {i}", "eval", {"i": i}, [f"k{i - 1}"] if i else []) for i in range(n)]


ROW = {"composition": "xnli", "task": "xnli", "lang": "de", "noise": "clean", "seed": 0, "metric": "accuracy",
       "score": 50.0, "metrics": {"accuracy": 50.0}, "n": 10}


def test_store_finish_is_all_or_nothing(tmp_path):
    with Store(tmp_path, create=True) as s:
        s.sync_plan(_cells(), {"name": "t"})
        s.start("k0")
        bad = [ROW, {**ROW, "lang": "en", "n": "not a number"}]
        with pytest.raises(ValueError):
            s.finish("k0", rows=bad)
        assert s.results() == [] and s.cells()[0]["status"] == "running"
        s.finish("k0", rows=[ROW, {**ROW, "lang": "en"}])
        s.finish("k0", rows=[ROW])  # a rerun replaces the cell's rows, never duplicates them
        assert [(r["cell"], r["lang"]) for r in s.results()] == [("k0", "de")]
        assert s.cells()[0]["status"] == "done" and s.cells()[0]["attempts"] == 1


def test_store_keeps_status_across_plans_and_reopens_stale_cells(tmp_path):
    with Store(tmp_path, create=True) as s:
        s.sync_plan(_cells(3), {})
        s.start("k0"); s.finish("k0", rows=[ROW])
        s.start("k1"); s.fail("k1", "boom")
        s.block(["k2"], "needs cell 1")
        s.sync_plan(_cells(4), {})  # a changed config adds k3; k0..k2 keep what they had
        assert [c["status"] for c in s.cells()] == ["done", "failed", "blocked", "pending"]
        s.start("k3")  # then the process dies: k3 stays 'running'
    with Store(tmp_path) as s:
        assert s.reopen(retry_failed=False) == {"running": 1, "blocked": 1}
        assert [c["status"] for c in s.cells()] == ["done", "failed", "pending", "pending"]
        assert s.reopen(retry_failed=True)["failed"] == 1
        assert s.counts()["eval"] == {"pending": 3, "running": 0, "done": 1, "failed": 0, "blocked": 0}
        s.sync_plan(_cells(1), {})  # a smaller plan: results of cells outside it are not reported
        assert len(s.results()) == 1 and len(s.cells()) == 1


def test_store_refuses_a_non_run_directory_and_a_second_runner(tmp_path):
    with pytest.raises(ModxferError, match="is not a sweep run directory"):
        Store(tmp_path / "nothing")
    with RunLock(tmp_path):
        with pytest.raises(ModxferError, match=f"is being run by pid {os.getpid()}"):
            with RunLock(tmp_path):
                pass
    with RunLock(tmp_path):  # released on exit
        pass


# ----------------------------------------------------------------------- end to end (tiny backbone)


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """The tiny backbone runs fastest on one thread; on a busy 2-core machine two threads thrash (10x slower).
    Subprocesses and Ray workers inherit OMP_NUM_THREADS (Ray sets it to a task's num_cpus anyway)."""
    import torch

    before, env = torch.get_num_threads(), os.environ.get("OMP_NUM_THREADS")
    torch.set_num_threads(1)
    os.environ["OMP_NUM_THREADS"] = "1"
    yield
    torch.set_num_threads(before)
    if env is None:
        os.environ.pop("OMP_NUM_THREADS", None)
    else:
        os.environ["OMP_NUM_THREADS"] = env


def _write_config(path: Path, tiny_base: str, out: Path, **changes) -> Path:
    path.write_text(yaml.safe_dump({**BASE, "backbone": tiny_base, "output": str(out), **changes}))
    return path


def _frame(run_dir) -> pd.DataFrame:
    df = load_results(run_dir)
    return df[RESULT_COLUMNS].sort_values(["composition", "lang", "noise", "seed"]).reset_index(drop=True)


@pytest.fixture(scope="module")
def baseline(tiny_base, tmp_path_factory, data_dir):
    """An uninterrupted local run of the base grid: the reference the other runs must equal."""
    root = tmp_path_factory.mktemp("baseline")
    cfg = load_config(_write_config(root / "c.yaml", tiny_base, root / "run"))
    summary = run_sweep(cfg, quiet=True)
    assert (summary.total, summary.done, summary.failed, summary.ran) == (17, 17, 0, 17)
    return root / "run"


def test_uninterrupted_run_records_results_and_artifacts(baseline, tiny_base, tmp_path):
    df = load_results(baseline)
    assert len(df) == 12 and not df.duplicated(["composition", "lang", "noise", "seed"]).any()
    assert set(df["composition"]) == {"xnli", "mnli>xnli", "siqa>xnli"} and (df["n"] == 16).all()
    assert df["score"].between(0, 100).all() and set(df["kind"]) == {"target", "stack"}
    assert "metrics.accuracy" in df and (df["family"] == "Indo-European").all()
    with Store(baseline) as s:
        arts = s.artifacts()
        assert len(arts) == 5 and all(Path(a["path"]).is_dir() and len(a["sha256"]) == 64 for a in arts)
        assert all(c["seconds"] is not None and c["attempts"] == 1 for c in s.cells())
    # Rerunning is a no-op: every cell is found done by key.
    cfg = load_config(_write_config(tmp_path / "c.yaml", tiny_base, baseline))
    assert run_sweep(cfg, quiet=True).ran == 0


def test_export_csv_and_parquet(baseline, tmp_path):
    runner = CliRunner()
    for fmt in ("csv", "parquet"):
        out = tmp_path / f"r.{fmt}"
        res = runner.invoke(cli, ["sweep", "export", str(baseline), "--format", fmt, "-o", str(out)])
        assert res.exit_code == 0 and "wrote 12 rows" in res.output, res.output
        back = pd.read_csv(out) if fmt == "csv" else pd.read_parquet(out)
        pd.testing.assert_frame_equal(back[RESULT_COLUMNS], load_results(baseline)[RESULT_COLUMNS], check_dtype=False)


def test_changed_input_reruns_exactly_what_it_affects(baseline, tiny_base, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(baseline, run)
    cfg = load_config(_write_config(tmp_path / "c.yaml", tiny_base, run, targets={"xnli": ["en", "de", "fr"]}))
    assert run_sweep(cfg, quiet=True).ran == 3 * 2  # only the new language's eval cells; training is reused
    cfg = load_config(_write_config(tmp_path / "c.yaml", tiny_base, run, compositions=["target"],
                                    budget={**BASE["budget"], "eval_examples": 8}))
    assert run_sweep(cfg, quiet=True).ran == 2 * 2  # new eval budget: every eval cell of the plan, no training


def test_target_budget_retrains_that_targets_adapters_only(baseline, tiny_base, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(baseline, run)
    cfg = load_config(_write_config(tmp_path / "c.yaml", tiny_base, run,
                                    budget={**BASE["budget"], "targets": {"xnli": {"examples": 24}}}))
    summary = run_sweep(cfg, quiet=True)
    # xnli and its two stacks retrain (the intermediates are reused), and every eval cell finds what they built
    assert (summary.ran, summary.failed) == (3 + 12, 0)
    with Store(run) as s:
        examples = {c["id"]: json.loads(a["card"])["data"]["examples"]
                    for c in s.cells() for a in s.artifacts() if a["cell"] == c["key"]}
    assert examples == {"train mnli seed=0": 32, "train siqa seed=0": 32, "train xnli seed=0": 24,
                        "train mnli>xnli seed=0": 24, "train siqa>xnli seed=0": 24}


def _done(db: Path) -> int:
    if not db.is_file():
        return 0
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return con.execute("SELECT COUNT(*) FROM cells WHERE status='done'").fetchone()[0]
    except sqlite3.OperationalError:  # tables not created yet
        return 0
    finally:
        con.close()


def _run_and_kill(config: Path, db: Path, after_done: int, timeout: float = 120) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "modxfer_cli.main", "sweep", "run", str(config), "--quiet"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + timeout
    try:
        while _done(db) < after_done:
            if proc.poll() is not None:
                raise AssertionError(f"sweep exited before it was killed: {proc.stderr.read().decode()[-2000:]}")
            assert time.time() < deadline, "sweep made no progress"
            time.sleep(0.05)
        res = CliRunner().invoke(cli, ["sweep", "status", str(db.parent)])
        assert f"a sweep is running here (pid {proc.pid} on" in res.output, res.output
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()


@pytest.mark.e2e
def test_kill_9_twice_then_resume_equals_uninterrupted_run(baseline, tiny_base, tmp_path):
    run = tmp_path / "run"
    config = _write_config(tmp_path / "c.yaml", tiny_base, run)
    db = run / "sweep.db"
    _run_and_kill(config, db, after_done=2)  # during training
    first = _done(db)
    res = CliRunner().invoke(cli, ["sweep", "status", str(run)])
    assert "no sweep is running here now" in res.output
    with Store(run) as s:
        for c in s.cells():
            assert c["status"] in ("done", "pending", "running")
            if c["status"] == "running":  # left behind by the killed process
                assert f"interrupted {c['id']}" in res.output
    _run_and_kill(config, db, after_done=9)  # during evaluation
    assert 2 <= first < _done(db) < 17
    res = subprocess.run([sys.executable, "-m", "modxfer_cli.main", "sweep", "run", str(config), "--quiet"],
                         capture_output=True, text=True, timeout=180)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "17/17 cells done" in res.stdout
    pd.testing.assert_frame_equal(_frame(run), _frame(baseline))
    with Store(run) as s:
        assert [c["status"] for c in s.cells()] == ["done"] * 17
        # at most the two cells the kills interrupted were started twice; nothing ran three times
        attempts = [c["attempts"] for c in s.cells()]
        assert max(attempts) <= 2 and sum(a == 2 for a in attempts) <= 2


@pytest.mark.e2e
def test_failing_cell_is_recorded_others_continue_and_retry_fixes_it(baseline, tiny_base, tmp_path):
    run, store = tmp_path / "run", tmp_path / "store"
    # Reuse the baseline's trained artifacts except siqa's, whose folder is blocked by a file: training siqa fails
    # for real (it cannot write its artifact), and everything built on it cannot run.
    shutil.copytree(baseline / "artifacts", store, ignore=shutil.ignore_patterns("siqa"))
    (store / "siqa").write_text("not a folder")
    config = _write_config(tmp_path / "c.yaml", tiny_base, run, artifacts=str(store))
    summary = run_sweep(load_config(config), quiet=True)
    assert (summary.done, summary.failed, summary.blocked) == (11, 1, 5)
    res = CliRunner().invoke(cli, ["sweep", "status", str(run)])
    assert res.exit_code == 0
    assert "failed train siqa seed=0 (attempt 1)" in res.output
    flat = " ".join(res.output.split())  # rich wraps long lines
    assert "ModxferError: cannot create the folder" in flat and "is a file, not a folder" in flat  # what went wrong
    res = CliRunner().invoke(cli, ["sweep", "status", str(run), "--traceback"])
    assert "Traceback (most recent call last)" in res.output and "in atomic_dir" in res.output
    assert "blocked 5 cell(s): needs train siqa seed=0, which failed" in res.output
    assert len(load_results(run)) == 8

    # Without --retry-failed a rerun leaves the failure alone; with it, the sweep completes.
    assert run_sweep(load_config(config), quiet=True).ran == 0
    (store / "siqa").unlink()
    summary = run_sweep(load_config(config), retry_failed=True, quiet=True)
    assert (summary.done, summary.failed, summary.blocked, summary.ran) == (17, 0, 0, 6)
    pd.testing.assert_frame_equal(_frame(run), _frame(baseline))


@pytest.mark.e2e
def test_ray_executor_equals_local(baseline, tiny_base, tmp_path):
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        cfg = load_config(_write_config(tmp_path / "c.yaml", tiny_base, tmp_path / "run"))
        summary = run_sweep(cfg, executor="ray", quiet=True)
    finally:
        ray.shutdown()
    assert (summary.done, summary.failed) == (17, 0)
    pd.testing.assert_frame_equal(_frame(tmp_path / "run"), _frame(baseline))
    with Store(tmp_path / "run") as s:
        assert len({c["worker"] for c in s.cells()}) >= 2  # cells really ran in separate Ray workers


def test_robustness_command_summarises_the_run(baseline, tmp_path):
    out = tmp_path / "robustness.json"
    res = CliRunner().invoke(cli, ["sweep", "robustness", str(baseline), "--by", "script", "-o", str(out)],
                             terminal_width=200)
    assert res.exit_code == 0, res.output
    assert "Latin" in res.output and "typo:0.1" in res.output
    summary = json.loads(out.read_text())
    df = load_results(baseline)
    clean = df[df["noise"] == "clean"].set_index(["composition", "lang"])["score"]
    for rec in summary["degradation"]:
        noisy = df[(df["composition"] == rec["composition"]) & (df["lang"] == rec["lang"]) & (df["noise"] == rec["noise"])]
        assert rec["abs_degradation"] == pytest.approx(clean[(rec["composition"], rec["lang"])] - noisy["score"].iloc[0])
    assert len(summary["degradation"]) == len(df) // 2


def test_robustness_command_needs_noise_and_a_run(tmp_path):
    res = CliRunner().invoke(cli, ["sweep", "robustness", str(tmp_path)])
    assert res.exit_code == 2 and "not a sweep run directory" in res.output and "Traceback" not in res.output


def test_report_from_the_run(baseline, tmp_path, data_dir):
    from modxfer.io import sha256_file

    out = tmp_path / "report"
    res = CliRunner().invoke(cli, ["report", str(baseline), "--out", str(out), "--similarity-examples", "16",
                                   "--data-dir", str(data_dir)])
    assert res.exit_code == 0, res.output
    assert {p.name for p in out.iterdir()} >= {"report.md", "report.json", "similarity_gain.png",
                                                "similarity_robustness.png", "degradation_by_family.png"}
    card = json.loads((out / "report.json").read_text())["card"]
    assert card["results_db_sha256"] == sha256_file(baseline / "sweep.db") and card["rows"] == 12
    assert card["similarity"]["examples"] == 16 and card["config"]["noise"] == ["clean", "typo:0.1"]
    analysis = json.loads((out / "report.json").read_text())["analysis"]
    assert {r["composition"] for r in analysis["table"] if r["measure"] == "gain"} == {"mnli>xnli", "siqa>xnli"}
    md = (out / "report.md").read_text()
    for section in ("## Evidence", "## Findings", "clean accuracy by language", "Task similarity", "gain over the baseline",
                    "degradation from clean", "![Similarity vs transfer gain](similarity_gain.png)"):
        assert section in md
    # A second report replaces the first in one step; a failed one leaves nothing behind.
    assert CliRunner().invoke(cli, ["report", str(baseline), "--out", str(out), "--similarity-examples", "16",
                                    "--data-dir", str(data_dir)]).exit_code == 0
    bad = CliRunner().invoke(cli, ["report", str(tmp_path / "none"), "--out", str(tmp_path / "r2")])
    assert bad.exit_code == 2 and "not a sweep run directory" in bad.output and not (tmp_path / "r2").exists()
    # It never replaces a folder that is not a previous report (e.g. the run itself).
    res = CliRunner().invoke(cli, ["report", str(baseline), "--out", str(baseline), "--similarity-examples", "16",
                                   "--data-dir", str(data_dir)])
    assert res.exit_code == 2 and "does not hold a previous modxfer report" in res.output
    assert (baseline / "sweep.db").is_file()


def test_report_with_a_single_intermediate_has_nothing_to_correlate(tmp_path):
    from modxfer.analysis import analyse

    rows = pd.DataFrame([dict(task="xnli", composition=c, lang=l, noise="clean", score=s, metric="accuracy")
                         for c, s in (("xnli", 40.0), ("mnli>xnli", 45.0)) for l in ("de", "fr", "hi")])
    a = analyse(rows, {("mnli", "xnli"): 0.99})
    assert (a.correlations["reason"] == "too few pairs (1 < 5)").all() and a.findings.empty


def test_report_from_a_results_bundle_is_reproducible_without_the_run(baseline, tmp_path, data_dir):
    bundle = tmp_path / "bundle"
    res = CliRunner().invoke(cli, ["sweep", "export", str(baseline), "--format", "bundle", "-o", str(bundle),
                                   "--similarity-examples", "16", "--data-dir", str(data_dir)])
    assert res.exit_code == 0, res.output
    assert {p.name for p in bundle.iterdir()} == {"results.parquet", "run.json"}
    # The run's folder (sweep.db, artifacts) is gone: the bundle alone makes the report, and makes it again the same.
    moved = tmp_path / "elsewhere" / "bundle"
    moved.parent.mkdir()
    bundle.rename(moved)
    reports = []
    for name in ("a", "b"):
        res = CliRunner().invoke(cli, ["report", str(moved), "--out", str(tmp_path / name), "--data-dir", str(data_dir)])
        assert res.exit_code == 0, res.output
        doc = json.loads((tmp_path / name / "report.json").read_text())
        doc["card"].pop("created"), doc["card"].pop("timing")
        reports.append(doc)
    assert reports[0] == reports[1]
    from_run = CliRunner().invoke(cli, ["report", str(baseline), "--out", str(tmp_path / "run"),
                                        "--similarity-examples", "16", "--data-dir", str(data_dir)])
    assert from_run.exit_code == 0, from_run.output
    run_doc = json.loads((tmp_path / "run" / "report.json").read_text())
    assert run_doc["analysis"] == reports[0]["analysis"] and run_doc["competence"] == reports[0]["competence"]
    assert run_doc["selection"] == reports[0]["selection"]  # one set of similarity matrices either way
    assert reports[0]["card"]["bundle"] == run_doc["card"]["run_name"] and "run_dir" not in reports[0]["card"]
    # A bundle never replaces the run, nor a folder that is not a bundle.
    for target in (baseline, tmp_path / "a"):
        res = CliRunner().invoke(cli, ["sweep", "export", str(baseline), "--format", "bundle", "-o", str(target)])
        assert res.exit_code == 2 and "Traceback" not in res.output, res.output
    assert (baseline / "sweep.db").is_file() and (tmp_path / "a" / "report.json").is_file()
    # Edited competence or similarity is refused too.
    original = (moved / "run.json").read_text()
    meta = json.loads(original)
    meta["artifacts"][0]["status"] = "learned" if meta["artifacts"][0]["status"] != "learned" else "not learned"
    (moved / "run.json").write_text(json.dumps(meta))
    res = CliRunner().invoke(cli, ["report", str(moved), "--out", str(tmp_path / "c")])
    assert res.exit_code == 2 and "digest" in res.output
    (moved / "run.json").write_text(original)
    # A changed results table is refused, naming the file and the fix.
    data = (moved / "results.parquet").read_bytes()
    (moved / "results.parquet").write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    res = CliRunner().invoke(cli, ["report", str(moved), "--out", str(tmp_path / "c")])
    assert res.exit_code == 2 and "does not match the sha256" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "c").exists()
