import itertools

import pytest
from click.testing import CliRunner

from modxfer.errors import DataError, UnknownLanguageError, UnknownTaskError
from modxfer.tasks import PER_LANGUAGE_SPLITS, TASKS, get_task, list_tasks
from modxfer_cli.main import cli

EXPECTED_INTERMEDIATE = {"mnli", "snli", "anli", "qqp", "cosmosqa", "siqa", "csqa", "squad", "udpos-en", "panx-en",
                         "hellaswag", "ccg"}
EXPECTED_TARGET = {"xnli", "pawsx", "xcopa", "udpos", "panx", "mlqa", "tatoeba", "xquad", "tydiqa", "bucc", "lareqa",
                   "mewslix"}
ROLE_OF_SPLIT = {"train": "training", "validation": "training", "test": "eval", "lexicon": "lexicon",
                 "calibration": "calibration", "candidates": "index"}
SHARED_ACROSS_LANGUAGES = {"eval", "index"}  # parallel evaluation files and multilingual pools repeat ids by design


def test_registry_has_every_task_with_its_role():
    assert {t.name for t in list_tasks("intermediate")} == EXPECTED_INTERMEDIATE
    assert {t.name for t in list_tasks("target")} == EXPECTED_TARGET
    assert get_task("xcopa").head == "multiple_choice" and get_task("xcopa").num_choices == 2
    assert get_task("panx").labels[0] == "O" and get_task("udpos").metric == "seqeval"


def roles_by_task(data_dir) -> dict[str, dict[str, set]]:
    """{role: {task: ids}} for every task with data in ``data_dir`` (its profile); roles as ROLE_OF_SPLIT, with
    training split into intermediate and target training."""
    by_role: dict[str, dict[str, set]] = {}
    for task in list_tasks():
        if not task.available(data_dir):
            continue
        per_split = {}
        for split in task.splits:
            langs = task.languages(data_dir) if split in PER_LANGUAGE_SPLITS else ("en",)
            ids = {r["id"] for lang in langs for r in task.rows(split, lang, data_dir=data_dir)}
            per_split[split] = ids
            role = ROLE_OF_SPLIT[split]
            role = f"{task.role}-{role}" if role == "training" else role
            by_role.setdefault(role, {}).setdefault(task.name, set()).update(ids)
        for a, b in itertools.combinations(per_split, 2):
            assert not per_split[a] & per_split[b], (task.name, a, b)
    return by_role


def check_no_example_in_two_roles(by_role: dict[str, dict[str, set]]) -> None:
    union = {role: set().union(*tasks.values()) for role, tasks in by_role.items()}
    for a, b in itertools.combinations(union, 2):
        shared = union[a] & union[b]
        assert not shared, (a, b, sorted(shared)[:3])
    for role, tasks in by_role.items():
        # Within a role, two tasks use the same examples (MLQA and XQuAD train on the same QA data) or none in common.
        for (ta, a), (tb, b) in itertools.combinations(tasks.items(), 2):
            assert a == b or not a & b, (role, ta, tb, sorted(a & b)[:3])


def test_no_example_is_used_in_two_roles(data_dir):
    """Collect ids by role (intermediate training, target training, evaluation, lexicon) and check disjointness."""
    by_role = roles_by_task(data_dir)
    check_no_example_in_two_roles(by_role)
    # The partitions are real: both halves of the shared files are used.
    assert len(set().union(*by_role["intermediate-training"].values())) > 20000
    assert len(set().union(*by_role["target-training"].values())) > 20000


def test_xcopa_validates_on_a_quarter_of_copa_train(data_dir):
    xcopa = get_task("xcopa")
    train = xcopa.rows("train", data_dir=data_dir)
    val = xcopa.rows("validation", data_dir=data_dir)
    assert (len(train), len(val)) == (300, 100) and not {r["id"] for r in train} & {r["id"] for r in val}
    from modxfer.tasks.loaders import copa
    assert {r["id"] for r in train + val} == {r["id"] for r in copa(data_dir, "xcopa/en_copa/train-en.jsonl")}
    assert "25%" in xcopa.partition_for(data_dir)
    from modxfer.tasks.base import cached_rows
    cached_rows.cache_clear()
    assert [r["id"] for r in xcopa.rows("validation", data_dir=data_dir)] == [r["id"] for r in val]


def test_parallel_paws_x_lines_never_cross_train_and_test(data_dir):
    pawsx = get_task("pawsx")
    train = {r["id"] for r in pawsx.rows("train", data_dir=data_dir)}
    test_de = {r["id"] for r in pawsx.rows("test", "de", data_dir=data_dir)}
    assert len(train) == 900 and len(test_de) == 1000 and not train & test_de
    # Line-parallel: the same line positions are evaluated in every language.
    assert test_de == {r["id"] for r in pawsx.rows("test", "ja", data_dir=data_dir)}


def test_partitions_are_deterministic(data_dir):
    a = [r["id"] for r in get_task("mnli").rows("train", data_dir=data_dir)]
    from modxfer.tasks.base import cached_rows
    cached_rows.cache_clear()
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
