import itertools

import pytest
from click.testing import CliRunner

from modxfer.errors import DataError, UnknownLanguageError, UnknownTaskError
from modxfer.tasks import PER_LANGUAGE_SPLITS, TASKS, get_task, list_tasks
from modxfer_cli.main import cli

EXPECTED_INTERMEDIATE = {"mnli", "snli", "anli", "qqp", "cosmosqa", "siqa", "csqa", "squad", "udpos-en", "panx-en",
                         "hellaswag", "ccg"}
EXPECTED_TARGET = {"xnli", "pawsx", "xcopa", "udpos", "panx", "mlqa", "tatoeba"}


def test_registry_has_every_task_with_its_role():
    assert {t.name for t in list_tasks("intermediate")} == EXPECTED_INTERMEDIATE
    assert {t.name for t in list_tasks("target")} == EXPECTED_TARGET
    assert get_task("xcopa").head == "multiple_choice" and get_task("xcopa").num_choices == 2
    assert get_task("panx").labels[0] == "O" and get_task("udpos").metric == "seqeval"


def test_no_example_is_used_in_two_roles(data_dir):
    """Collect ids by role (intermediate training, target training, evaluation, lexicon) and check disjointness."""
    by_role: dict[str, set] = {"intermediate": set(), "target-train": set(), "eval": set(), "lexicon": set()}
    for task in list_tasks():
        if task.needs_hub:
            continue
        per_split = {}
        for split in task.splits:
            langs = task.languages(data_dir) if split in PER_LANGUAGE_SPLITS else ("en",)
            ids = {r["id"] for lang in langs for r in task.rows(split, lang, data_dir=data_dir)}
            per_split[split] = ids
            role = ("intermediate" if task.role == "intermediate" else "target-train") if split in ("train", "validation") \
                else ("eval" if split == "test" else "lexicon")
            if role != "eval":  # parallel evaluation files share ids across languages by design
                assert not by_role[role] & ids, (task.name, split)
            by_role[role] |= ids
        for a, b in itertools.combinations(per_split, 2):
            assert not per_split[a] & per_split[b], (task.name, a, b)
    for a, b in itertools.combinations(by_role, 2):
        shared = by_role[a] & by_role[b]
        assert not shared, (a, b, sorted(shared)[:3])
    # The partitions are real: both halves of the shared files are used.
    assert len(by_role["intermediate"]) > 20000 and len(by_role["target-train"]) > 20000


def test_parallel_paws_x_lines_never_cross_train_and_test(data_dir):
    pawsx = get_task("pawsx")
    train = {r["id"] for r in pawsx.rows("train", data_dir=data_dir)}
    test_de = {r["id"] for r in pawsx.rows("test", "de", data_dir=data_dir)}
    assert len(train) == 900 and len(test_de) == 1000 and not train & test_de
    # Line-parallel: the same line positions are evaluated in every language.
    assert test_de == {r["id"] for r in pawsx.rows("test", "ja", data_dir=data_dir)}


def test_partitions_are_deterministic(data_dir):
    a = [r["id"] for r in get_task("mnli").rows("train", data_dir=data_dir)]
    from modxfer.tasks.base import _cached_rows
    _cached_rows.cache_clear()
    b = [r["id"] for r in get_task("mnli").rows("train", data_dir=data_dir)]
    assert a == b and len(a) == 4417


def test_limit_picks_the_same_positions_in_parallel_languages(data_dir):
    xnli = get_task("xnli")
    de = xnli.load("test", "de", data_dir=data_dir, limit=40)
    en = xnli.load("test", "en", data_dir=data_dir, limit=40)
    assert de.num_rows == en.num_rows == 40
    assert [i.split(":")[1] for i in de["id"]] == [i.split(":")[1] for i in en["id"]]
    assert set(de["label"]) <= {0, 1, 2}


def test_schemas_per_head(data_dir):
    row = get_task("xnli").load("test", "zh", data_dir=data_dir, limit=3)[0]
    assert set(row) == {"id", "text_a", "text_b", "label"}
    mc = get_task("siqa").load("train", data_dir=data_dir, limit=3)[0]
    assert len(mc["choices"]) == 3 and 0 <= mc["label"] < 3
    tag = get_task("panx").load("test", "de", data_dir=data_dir, limit=3)[0]
    assert len(tag["tokens"]) == len(tag["tags"]) > 0
    qa = get_task("mlqa").load("test", "de", data_dir=data_dir, limit=3)[0]
    start, text = qa["answers"]["answer_start"][0], qa["answers"]["text"][0]
    assert qa["context"][start:start + len(text)] == text
    ret = get_task("tatoeba").load("test", "deu", data_dir=data_dir, limit=3)[0]
    assert set(ret) == {"id", "source", "target"}


def test_languages_are_discovered_from_files_not_a_list(tmp_path):
    (tmp_path / "xnli").mkdir()
    (tmp_path / "xnli" / "dev-xx.tsv").write_text("a\tb\tneutral\nc\td\tentailment\n", encoding="utf-8")
    (tmp_path / "tatoeba").mkdir()
    (tmp_path / "tatoeba" / "tatoeba.qqq-eng.qqq").write_text("x\ny\n", encoding="utf-8")
    (tmp_path / "tatoeba" / "tatoeba.qqq-eng.eng").write_text("X\nY\n", encoding="utf-8")
    assert get_task("xnli").languages(tmp_path) == ("xx",)
    assert get_task("tatoeba").languages(tmp_path) == ("qqq",)
    assert get_task("xnli").load("test", "xx", data_dir=tmp_path)["label"] == [1, 0]


def test_malformed_row_names_file_and_line(tmp_path):
    (tmp_path / "xnli").mkdir()
    (tmp_path / "xnli" / "dev-xx.tsv").write_text("a\tb\tneutral\nonly-two\tfields\n", encoding="utf-8")
    with pytest.raises(DataError) as e:
        get_task("xnli").rows("test", "xx", data_dir=tmp_path)
    assert "dev-xx.tsv:2" in str(e.value) and "expected 3" in str(e.value)
    (tmp_path / "xnli" / "dev-yy.tsv").write_text("a\tb\tmaybe\n", encoding="utf-8")
    with pytest.raises(DataError, match="label 'maybe' is not one of entailment, neutral, contradiction"):
        get_task("xnli").rows("test", "yy", data_dir=tmp_path)


def test_missing_file_unknown_task_unknown_language(tmp_path, data_dir):
    with pytest.raises(DataError, match="missing data file .*dev_matched.jsonl") as e:
        get_task("mnli").rows("train", data_dir=tmp_path)
    assert "MODXFER_DATA_DIR" in e.value.fix
    with pytest.raises(UnknownTaskError, match="did you mean xnli"):
        get_task("xnlii")
    with pytest.raises(UnknownLanguageError, match="no data for language 'klingon'"):
        get_task("xnli").rows("test", "klingon", data_dir=data_dir)
    with pytest.raises(DataError, match="modxfer data fetch hellaswag"):
        get_task("hellaswag").rows("train", data_dir=data_dir)


def test_cli_tasks_lists_sizes_from_disk(data_dir):
    res = CliRunner().invoke(cli, ["tasks", "--data-dir", str(data_dir)])
    assert res.exit_code == 0, res.output
    for name in TASKS:
        assert name in res.output
    assert "4416" in res.output  # XNLI's English training partition


def test_cli_data_check_and_errors(data_dir, tmp_path):
    runner = CliRunner()
    res = runner.invoke(cli, ["data", "check", "xnli", "pawsx", "--data-dir", str(data_dir)])
    assert res.exit_code == 0 and "splits ok" in res.output
    res = runner.invoke(cli, ["data", "check", "nosuchtask", "--data-dir", str(data_dir)])
    assert res.exit_code == 2 and "unknown task 'nosuchtask'" in res.output and "Traceback" not in res.output
    (tmp_path / "xnli").mkdir()
    (tmp_path / "xnli" / "dev-xx.tsv").write_text("broken line\n", encoding="utf-8")
    res = runner.invoke(cli, ["data", "check", "xnli", "--data-dir", str(tmp_path)])
    assert res.exit_code == 2 and "dev-xx.tsv:1" in res.output
