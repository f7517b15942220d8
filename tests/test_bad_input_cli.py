"""Bad input on the command line found by the CLI review: each is refused with the problem and the fix, exit code 2,
no traceback, and nothing written (compositions that use a task twice, similarity without its reference data, a
layer the encoder lacks, an intermediate-only evaluation target, no data directory, noise options that were ignored)."""
import pytest
from click.testing import CliRunner

from modxfer_cli.main import cli


def _refused(*args, words=()):
    res = CliRunner().invoke(cli, [str(a) for a in args])
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output and (res.exception is None or isinstance(res.exception, SystemExit))
    for w in words:
        assert w in res.output, (w, res.output)
    return res


# ------------------------------------------------------------------------------ 1: a task used twice
@pytest.mark.parametrize("args, words", [
    (["xnli", "--on", "xnli"], ["xnli>xnli", "intermediate of itself", "task twice"]),
    (["xnli", "--on", "xnli", "--full"], ["full:xnli>xnli", "intermediate of itself"]),
    (["xnli", "--on", "mnli", "--on", "mnli"], ["mnli>mnli>xnli", "uses a task twice (mnli)"]),
    (["xnli", "--on", "mnli", "--on", "mnli", "--fuse"], ["fuse(mnli,mnli)>xnli", "same adapter twice"]),
])
def test_train_refuses_a_composition_that_uses_a_task_twice(args, words, tmp_path):
    _refused("train", *args, "--store", tmp_path / "store", words=[*words, "fix:"])
    assert not (tmp_path / "store").exists()


# ------------------------------------------------------------------------------ 2: similarity without its reference
@pytest.mark.parametrize("measure", ["textemb", "textemb-whiten"])
def test_centred_similarity_without_its_reference_data_is_refused(measure, tmp_path):
    # A pair alone is a valid request now (the reference, not the company, centres it), but a data directory without
    # the reference tasks is refused, before the backbone loads (the named backbone does not exist).
    (tmp_path / "data").mkdir()
    _refused("similarity", "mnli", "xnli", "-m", measure, "--base", tmp_path / "none",
             "--data-dir", tmp_path / "data",
             words=["fixed reference of 16 tasks", "16 of them have no usable training data", "snli", "modxfer data fetch",
                    "textemb-raw"])


def test_similarity_refuses_lang_for_measures_that_do_not_take_one(tmp_path):
    _refused("similarity", "mnli", "siqa", "xnli", "-m", "lexical", "--lang", "de", "--base", tmp_path / "none",
             words=["'lexical'", "only cka takes a language", "drop --lang"])


def test_similarity_names_the_epochs_option_the_user_passed(tmp_path):
    _refused("similarity", "mnli", "siqa", "xnli", "--train-epochs", "0", words=["'--train-epochs'"])


# ------------------------------------------------------------------------------ 3, 4: evaluate
@pytest.mark.parametrize("layer", ["99", "-99"])
def test_evaluate_refuses_a_layer_the_encoder_lacks(layer, tiny_base, tmp_path, data_dir):
    _refused("evaluate", "tatoeba", "--languages", "deu", "--layer", layer, "--base", tiny_base,
             "--store", tmp_path / "store", "--quiet", words=[f"layer {layer}", "2-layer encoder", "--layer"])


def test_evaluate_refuses_an_intermediate_only_target(tiny_base, tmp_path, data_dir):
    _refused("evaluate", "mnli", "--base", tiny_base, "--store", tmp_path / "store", "--quiet",
             words=["'mnli' is an intermediate task", "no test data", "mnli>xnli", "train xnli --on mnli"])


# ------------------------------------------------------------------------------ 5: no data directory
def test_no_data_directory_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MODXFER_DATA_DIR", raising=False)
    monkeypatch.setenv("MODXFER_CACHE", str(tmp_path / "cache"))
    for args in (["tasks"], ["data", "check"], ["train", "xnli", "--store", tmp_path / "store"]):
        res = _refused(*args, words=["no task data directory found", "MODXFER_DATA_DIR (not set)",
                                     str(tmp_path / "cache" / "data"), "pass --data-dir"])
        assert "does not exist" not in res.output
    assert not (tmp_path / "store").exists()
    assert not (tmp_path / "cache" / "backbones").exists()  # refused before any backbone was converted


def test_data_dir_variable_pointing_nowhere_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("MODXFER_DATA_DIR", str(tmp_path / "missing"))
    _refused("tasks", words=["MODXFER_DATA_DIR environment variable points to a missing folder", "unset it"])
    _refused("tasks", "--data-dir", tmp_path / "gone", words=[f"data directory {tmp_path / 'gone'} does not exist"])


# ------------------------------------------------------------------------------ 6: noise options
def test_keyboard_noise_refuses_an_unknown_language():
    _refused("noise", "show", "keyboard:0.1", "--lang", "xx", "hello", words=["unknown language 'xx'"])


def test_codeswitch_lexicon_that_is_a_folder_is_named_as_such(tmp_path):
    res = _refused("noise", "show", f"codeswitch:0.3,lexicon={tmp_path}", "hello", words=["is a folder", "file"])
    assert "does not exist" not in res.output


def test_similarity_library_refuses_missing_reference_data_before_loading(tmp_path):
    from modxfer.similarity import measures as S
    from modxfer.errors import DataError

    (tmp_path / "data").mkdir()
    with pytest.raises(DataError, match="fixed reference of 16 tasks") as e:
        S.compute("textemb", ["mnli"], ["xnli"], base=str(tmp_path / "none"), data_dir=tmp_path / "data")
    assert "textemb-raw" in e.value.fix
    with pytest.raises(DataError, match="no usable training data in"):
        S.check_request(S.MEASURES, ["mnli"], ["xnli"], data_dir=tmp_path / "data")
    # uncentred measures need no reference; with the task data, one pair is a request like any other
    S.check_request(["textemb-raw", "lexical", "format"], ["mnli"], ["xnli"], data_dir=tmp_path / "data")
    S.check_request(S.MEASURES, ["mnli"], ["xnli"])
