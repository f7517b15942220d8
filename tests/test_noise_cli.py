"""`modxfer noise`: show, list, lexicon through the real CLI group (errors become exit code 2)."""
import pytest
from click.testing import CliRunner

from cli.main import cli


def run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_list_names_every_perturbation():
    from modxfer.noise import PERTURBATIONS

    res = run("noise", "list")
    assert res.exit_code == 0
    for name in PERTURBATIONS:
        assert name in res.output


def test_show_prints_original_and_perturbed_deterministically():
    from modxfer.noise import perturb_text

    text = "कुत्ता बगीचे में सो रहा है"
    res = run("noise", "show", "typo:0.3", "--lang", "hi", "--seed", "3", text)
    assert res.exit_code == 0, res.output
    expected = perturb_text(text, "typo:0.3", seed=3, example_id=0, lang="hi")
    assert expected != text
    assert text in res.output and expected in res.output
    assert res.output == run("noise", "show", "typo:rate=0.3", "--lang", "hi", "--seed", "3", text).output


def test_show_describes_the_keyboard_fallback():
    res = run("noise", "show", "keyboard:0.5", "--lang", "bg", "Кучето спи в градината")
    assert res.exit_code == 0, res.output
    assert "no keyboard layout for language 'bg'" in res.output.replace("\n", " ")


@pytest.mark.parametrize("args,msg", [
    (("typo:zz", "x"), "typo rate='zz'"),
    (("wobble:0.1", "x"), "unknown noise 'wobble'"),
    (("adversarial:3", "x"), "needs the model"),
    (("codeswitch:0.3", "x"), "--lang"),
])
def test_bad_spec_exits_2_with_a_message(args, msg):
    res = CliRunner().invoke(cli, ["noise", "show", *args])
    assert res.exit_code == 2
    assert msg in res.output and "fix:" in res.output


def test_lexicon_command_on_tiny_backbone(tiny_base, data_dir, tmp_path, monkeypatch):
    from modxfer.noise import lexicon as lx

    monkeypatch.setenv("MODXFER_CACHE", str(tmp_path))
    lx._MEMO.clear()
    res = run("noise", "lexicon", "de", "--base", tiny_base, "--min-count", "1", "--show", "3")
    assert res.exit_code == 0, res.output
    assert "de (deu) -> en:" in res.output and "precision" in res.output and "Tatoeba lexicon split" in res.output
    entries = [l for l in res.output.splitlines() if l.startswith("  ") and "\t" in l]
    assert len(entries) == 3
    res = CliRunner().invoke(cli, ["noise", "lexicon", "ur", "--base", tiny_base])
    assert res.exit_code == 2 and "no Tatoeba pairs" in res.output
    lx._MEMO.clear()
