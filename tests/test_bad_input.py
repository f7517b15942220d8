"""Careless and hostile input outside the zoo (issue 13): numbers, configs, data files, `data check`.

Every case is a clean refusal: a ModxferError subclass naming the file (and line) and the fix, exit code 2 from the
CLI, no traceback, no work started.
"""
import math
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from modxfer.errors import ConfigError, DataError
from modxfer.sweeps import load_config, parse_config
from modxfer.tasks import readers
from modxfer_cli.main import cli

BASE = {"intermediates": ["mnli"], "targets": {"xnli": ["en"]}, "compositions": ["target", "stack"],
        "budget": {"examples": 32, "epochs": 1, "eval_examples": 16}}


def _run(*args):
    res = CliRunner().invoke(cli, [str(a) for a in args])
    assert "Traceback" not in res.output and (res.exception is None or isinstance(res.exception, SystemExit)), \
        res.output
    return res


# ------------------------------------------------------------------------------ numbers on the command line
@pytest.mark.parametrize("option, value", [
    ("--epochs", "nan"), ("--epochs", "inf"), ("--epochs", "-1"), ("--epochs", "0"), ("--lr", "nan"),
    ("--lr", "1e999"), ("--lr", "-0.1"), ("--seed", "-1"), ("--seed", str(2**32)), ("--examples", "0"),
    ("--examples", "-1"), ("--batch-size", "0"), ("--trunk-layers", "-1"), ("--trunk-layers", "1.5"),
])
def test_cli_numbers_are_validated_before_any_work(option, value, tmp_path):
    res = _run("train", "xnli", option, value, "--store", tmp_path / "store")
    assert res.exit_code == 2 and f"Invalid value for '{option}'" in res.output
    assert not (tmp_path / "store").exists()


def test_cli_number_bounds_that_are_allowed():
    from modxfer_cli.options import EPOCHS, LAYERS, SEED

    assert SEED.convert("4294967295", None, None) == 2**32 - 1 and LAYERS.convert("0", None, None) == 0
    assert EPOCHS.convert("0.5", None, None) == 0.5


def test_eval_examples_must_be_at_least_one(tmp_path):
    # If the number got through, the command would stop at the missing backbone instead of running.
    res = _run("evaluate", "xnli", "--eval-examples", "-1", "--store", tmp_path / "store", "--base", tmp_path / "none")
    assert res.exit_code == 2 and "--eval-examples" in res.output


# ------------------------------------------------------------------------------ sweep configs
def _config(data_dir, **changes):
    return parse_config({**BASE, **changes}, where="test.yaml")


def _error(data_dir, **changes) -> ConfigError:
    with pytest.raises(ConfigError) as e:
        _config(data_dir, **changes)
    assert len(str(e.value)) < 600  # a short message, whatever the input
    return e.value


@pytest.mark.parametrize("budget, key", [
    ({"epochs": math.nan}, "budget.epochs"), ({"epochs": math.inf}, "budget.epochs"),
    ({"examples": math.inf}, "budget.examples"), ({"examples": -5}, "budget.examples"),
    ({"eval_examples": -1}, "budget.eval_examples"), ({"eval_examples": 0}, "budget.eval_examples"),
    ({"epochs": 1e9}, "budget.epochs"),
])
def test_config_budgets_are_finite_and_in_range(data_dir, budget, key):
    assert key in _error(data_dir, budget=budget).problem


def test_config_training_numbers_and_seeds(data_dir):
    assert "training.learning_rate" in _error(data_dir, training={"learning_rate": math.nan}).problem
    assert "training.max_length" in _error(data_dir, training={"max_length": math.inf}).problem
    assert "too large" in _error(data_dir, seeds=[2**32]).problem
    assert _config(data_dir, seeds=[2**32 - 1]).seeds == (2**32 - 1,)
    assert "resources.train.num_cpus" in _error(data_dir, resources={"train": {"num_cpus": math.nan}}).problem


def test_config_trunk_layers(data_dir):
    assert _config(data_dir).trunk_layers is None
    assert _config(data_dir, trunk_layers=3).trunk_layers == 3
    assert _config(data_dir, training={"trunk_layers": 0}).trunk_layers == 0
    assert _config(data_dir, trunk_layers=None).trunk_layers is None
    for bad in (-1, 1.5, True, "2"):
        assert "trunk_layers must be a whole number >= 0" in _error(data_dir, trunk_layers=bad).problem
    assert "both" in _error(data_dir, trunk_layers=1, training={"trunk_layers": 2}).problem


@pytest.mark.parametrize("name", ["../../evil", "/abs", "a/b", ".hidden", "", "x" * 200, "sp ace"])
def test_config_names_are_slugs(data_dir, name):
    assert "name" in _error(data_dir, name=name).problem


def test_config_paths_are_checked_before_any_work(data_dir, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert "artifacts" in _error(data_dir, artifacts=str(blocker), output=str(tmp_path / "run")).problem
    assert "is under the file" in _error(data_dir, output=str(blocker / "run")).problem
    assert "output" in _error(data_dir, output=str(blocker)).problem
    assert _config(data_dir, output=str(tmp_path / "new" / "run")).output == tmp_path / "new" / "run"


def test_config_compositions_that_use_a_target_as_its_own_intermediate(data_dir):
    e = _error(data_dir, intermediates=["xnli"], targets={"xnli": ["en"], "xcopa": ["it"]}, compositions=["stack"])
    assert "xnli>xnli uses 'xnli' as an intermediate of itself" in e.problem
    # Refused at load by the CLI, before any cell runs.
    cfg = _config(data_dir, intermediates=["xnli"], targets={"xcopa": ["it"]}, compositions=["stack"])
    assert [str(c) for c in cfg.compositions] == ["xnli>xcopa"]


@pytest.mark.parametrize("text, message", [
    ("name: a\nname: b\ntargets: {xnli: [en]}\n", "c.yaml:2: duplicate key 'name'"),
    ("targets:\n  xnli: [en]\n  xnli: [de]\n", "c.yaml:3: duplicate key 'xnli'"),
    ("a: &x [1]\nb: *x\n", "anchors and aliases"),
    ("x: " + "[" * 100_000 + "]" * 100_000 + "\n", "nested more than"),
])
def test_config_yaml_traps(tmp_path, text, message):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(cfg)
    res = _run("sweep", "plan", cfg)
    assert res.exit_code == 2 and message in res.output and len(res.output) < 1000


def test_config_alias_bomb_is_a_short_message(tmp_path):
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    cfg = tmp_path / "bomb.yaml"
    cfg.write_text("\n".join(lines) + "\ntargets: {xnli: [en]}\n")
    res = _run("sweep", "plan", cfg)
    assert res.exit_code == 2 and "anchors and aliases" in res.output and len(res.output) < 1000


def test_config_not_utf8(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_bytes(b"name: ok\ntargets: {xnli: [en]}\nnoise: [\xff]\n")
    res = _run("sweep", "plan", cfg)
    assert res.exit_code == 2 and "c.yaml:3: not UTF-8 text" in res.output


# ------------------------------------------------------------------------------ data files
def test_readers_name_file_and_line_for_undecodable_or_hostile_text(tmp_path):
    tsv = tmp_path / "dev-xx.tsv"
    tsv.write_bytes(b"a\tb\tentailment\nc\td\t\xffneutral\n")
    with pytest.raises(DataError, match=r"dev-xx.tsv:2: not UTF-8 text \(byte offset 19\)"):
        readers.read_tsv(tsv, 3, "a, b, label")
    deep = tmp_path / "deep.jsonl"
    # 40k deep: within a line's length limit (readers.MAX_LINE_CHARS), past the nesting a parser survives
    deep.write_text('{"premise": "p"}\n{"x": ' + "[" * 40_000 + "]" * 40_000 + "}\n")
    with pytest.raises(DataError, match=r"deep.jsonl:2: JSON nested"):
        readers.read_jsonl(deep)
    squad = tmp_path / "squad.json"
    squad.write_text('{"data": ' + "[" * 300 + "]" * 300 + "}")
    with pytest.raises(DataError, match="squad.json: JSON nested more than"):
        readers.read_squad(squad)
    csv = tmp_path / "x.csv"
    csv.write_text("context,question\nok,fine\nok," + "x" * 200_000 + "\n")  # past any sentence's length
    with pytest.raises(DataError, match="x.csv:3: a line of 200,004 characters"):
        readers.read_csv(csv, ["context", "question"])
    csv.write_text('context,question\nok,fine\nok,"' + ("x" * 50_000 + "\n") * 3 + '"\n')  # a quoted field of lines
    with pytest.raises(DataError, match="x.csv:3: not valid CSV"):  # past csv's field size limit
        readers.read_csv(csv, ["context", "question"])


def test_empty_tagging_tokens_are_rejected_with_file_and_line(tmp_path):
    conll = tmp_path / "dev-xx.tsv"
    conll.write_text("Paris\tB-LOC\n\tO\nis\tO\n\nok\tO\n")
    with pytest.raises(DataError, match=r"dev-xx.tsv:2: empty token"):
        readers.read_conll(conll)
    conll.write_text("Paris\tB-LOC\n \tO\n")
    with pytest.raises(DataError, match=r"dev-xx.tsv:2: empty token"):
        readers.read_conll(conll)
    conll.write_text("Paris\t\n")
    with pytest.raises(DataError, match=r"dev-xx.tsv:1: empty tag"):
        readers.read_conll(conll)
    conll.write_text("\u200b\tO\nParis\tB-LOC\n")  # real data (PAN-X zh) has such tokens: kept
    assert readers.read_conll(conll) == [(1, ["\u200b", "Paris"], ["O", "B-LOC"])]


def _data_copy(data_dir: Path, tmp_path: Path) -> Path:
    """A data directory of links to the real files (nothing copied), with an xnli folder of its own."""
    root = tmp_path / "data"
    root.mkdir()
    for p in data_dir.iterdir():
        if p.name != "xnli":
            (root / p.name).symlink_to(p, target_is_directory=p.is_dir())
    (root / "xnli").mkdir()
    for p in (data_dir / "xnli").iterdir():
        (root / "xnli" / p.name).symlink_to(p)
    return root


def test_data_check_reports_every_bad_file_and_checks_the_manifest(data_dir, tmp_path):
    root = _data_copy(data_dir, tmp_path)
    # dev-de cut from 2490 to 100 rows (still parses); dev-fr with one byte that is not UTF-8; udpos: an empty token.
    de, fr = root / "xnli" / "dev-de.tsv", root / "xnli" / "dev-fr.tsv"
    lines = (data_dir / "xnli" / "dev-de.tsv").read_bytes().splitlines(keepends=True)
    de.unlink()
    de.write_bytes(b"".join(lines[:100]))
    fr_bytes = (data_dir / "xnli" / "dev-fr.tsv").read_bytes()
    fr.unlink()
    fr.write_bytes(fr_bytes[:1000] + b"\xff" + fr_bytes[1001:])
    res = _run("data", "check", "xnli", "--data-dir", root)
    assert res.exit_code == 2, res.output
    assert "xnli test fr: malformed data in" in res.output and "dev-fr.tsv:7: not UTF-8 text" in res.output
    assert re.search(r"xnli/dev-de.tsv: \d+ bytes, but xnli/MANIFEST.txt:\d+ lists 487133: the file was cut short",
                     res.output), res.output
    assert "1 split(s) failed the check; 2 file(s) differ from the manifest" in res.output
    # A language file that is listed but gone is reported too.
    de.unlink()
    res = _run("data", "check", "xnli", "--data-dir", root)
    assert res.exit_code == 2 and "xnli/dev-de.tsv: listed in" in res.output and "but missing" in res.output


def test_data_check_passes_the_unmodified_data(data_dir, tmp_path):
    res = _run("data", "check", "xnli", "--data-dir", _data_copy(data_dir, tmp_path))
    assert res.exit_code == 0 and "files match the manifests" in res.output, res.output
