"""The README's Python snippet runs as written, on the tiny model with tiny budgets: the same calls, in the same
order, with only the budgets, the backbone and the run folder swapped for the test's."""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _snippet() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert blocks, "the README has no Python snippet"
    return blocks[0]


@pytest.mark.e2e
def test_the_readme_python_snippet_runs(tiny_base, data_dir, tmp_path, monkeypatch):
    from synthetic import study_rows, write_store

    monkeypatch.setenv("MODXFER_STORE", str(tmp_path / "store"))
    run = write_store(tmp_path / "run", study_rows(n=30, tasks={"xnli": ("en", "de", "hi")}, noises=("clean",)))
    code = _snippet()
    swaps = [("train_examples=2000", f"train_examples=32, epochs=1.0, base={tiny_base!r}, examples=12"),
             ('examples=2000)', f"examples=32, epochs=1.0, base={tiny_base!r})"),
             ('"runs/quickstart"', repr(str(run)))]
    for old, new in swaps:
        assert old in code, old  # the snippet still says what this test swaps
        code = code.replace(old, new)
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    assert scope["result"].rows and scope["baseline"].rows
    assert {r["lang"] for r in scope["result"].rows} == {"de", "hi", "zh"}
    assert (run / "report" / "report.md").is_file()


def test_the_readme_noise_show_example_changes_its_text():
    import shlex

    from click.testing import CliRunner

    from modxfer_cli.main import cli

    line = next(x for x in (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
                if x.startswith("modxfer noise show "))
    args = shlex.split(line.split("#")[0])[1:]
    text = args[-1]
    res = CliRunner().invoke(cli, args, terminal_width=200)
    assert res.exit_code == 0, res.output
    row = next(x for x in res.output.splitlines() if x.count("│") >= 3)  # the table's row: clean │ noisy
    clean, noisy = [c.strip() for c in row.strip("│ ").split("│")][:2]
    assert clean == text and noisy != text


def test_cli_warnings_are_one_readable_line():
    import warnings

    from click.testing import CliRunner

    from modxfer_cli.main import cli

    before = warnings.formatwarning
    try:
        assert CliRunner().invoke(cli, ["tasks"]).exit_code == 0
        text = warnings.formatwarning(UserWarning("word_dropout noise would merge or split tokens;\n tagging examples "
                                                  "are left unchanged"), UserWarning, "/x/evaluator.py", 203, "rows = ...")
        assert text == ("warning: word_dropout noise would merge or split tokens; tagging examples are left "
                        "unchanged\n")  # no file, line number or source line
    finally:
        warnings.formatwarning = before


@pytest.mark.e2e
def test_training_progress_into_a_file_is_a_few_lines(tiny_base, data_dir, tmp_path, capfd):
    from modxfer.training import train

    train("xnli", base=tiny_base, store=tmp_path / "s", data_dir=data_dir, progress=True, examples=96, epochs=2.0,
          batch_size=8)  # 24 steps: one line each into a file before
    lines = [x for x in capfd.readouterr().err.replace("\r", "\n").splitlines() if "train xnli" in x]
    assert 1 <= len(lines) <= 5, lines
