"""Issue 25: the hostile and careless inputs that broke, each now a message naming the problem and the fix, exit code
2, no traceback, within 10 s and (for the resource limits) under 1 GB, leaving nothing half-written.

Case 1 (the poisoned store) is tests/test_store_integrity.py, case 11 (`cache clear`) tests/test_cache.py; the rest
are here, numbered as in the issue. Artifacts are fakes (tests/fakes.py): the zoo and store checks, not the model.
The resource limits run in a child process, whose peak memory the kernel reports.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from fakes import stack
from modxfer.store import artifacts as art
from modxfer.store import zoo as Z
from modxfer.errors import ModxferError
from modxfer.io import sha256_file
from modxfer_cli.main import cli

ROOT = Path(__file__).resolve().parents[1]
GB = 1 << 30


def _refused(res, *words):
    out = " ".join(res.output.split())
    assert res.exit_code == 2, out
    assert "Traceback" not in res.output and (res.exception is None or isinstance(res.exception, SystemExit)), out
    assert "fix:" in out, out
    for w in words:
        assert w in out, (w, out)
    return out


# The child reports its own peak at exit: VmHWM, its address space's high-water mark (Linux). Neither the parent's
# RUSAGE_CHILDREN (the largest child this pytest process ever waited for: an earlier test's training child passes
# 1 GB in a full run) nor the child's own ru_maxrss (Linux keeps the forked parent's peak across exec) measures it.
_PEAK = ("import atexit, re, sys; atexit.register(lambda: sys.stderr.write('\\nMODXFER_PEAK_KB=%s\\n' % "
         "re.search(r'VmHWM:\\s*(\\d+)', open('/proc/self/status').read()).group(1))); ")


def _peak(stderr: str) -> tuple[str, int]:
    """(stderr without the peak line, the child's peak resident memory in bytes)."""
    m = re.search(r"\nMODXFER_PEAK_KB=(\d+)\n", stderr)
    assert m, stderr[-500:]
    return stderr[:m.start()] + stderr[m.end():], int(m.group(1)) * 1024


def _child(args, env=None, timeout=60):
    """`modxfer ARGS` in a child process: (exit code, output, seconds, peak resident memory in bytes)."""
    code = _PEAK + "from modxfer_cli.main import main; sys.argv = ['modxfer'] + sys.argv[1:]; main()"
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True, timeout=timeout,
                       env={**os.environ, "COLUMNS": "200", **(env or {})})
    seconds = time.perf_counter() - t0
    stderr, peak = _peak(p.stderr)
    out = " ".join((p.stdout + stderr).split())
    return p.returncode, out, seconds, peak


def _limited(args, *words, env=None, seconds=10.0):
    rc, out, took, peak = _child(args, env)
    assert rc == 2 and "Traceback" not in out and "fix:" in out, out
    for w in words:
        assert w in out, (w, out)
    # a child's own start (python, click, the imports a command needs) is part of the 10 s
    assert took < seconds and peak < GB, (took, peak / 1e6, out)
    return out


@pytest.fixture()
def zoo(tmp_path, monkeypatch):
    """A published zoo (mnli, and mnli>xnli on it), and the CLI's backbone stood in for (fake weights)."""
    import modxfer.backbone
    import modxfer.training  # noqa: F401 - imported before the patch below, so it never binds it

    monkeypatch.setattr(modxfer.backbone, "load_backbone", lambda base: None)
    store = tmp_path / "store"
    _, target = stack(store)
    root = tmp_path / "zoo"
    entry = Z.publish(target.path, root, store=store)
    return root, entry


def _index(root, fn):
    idx = json.loads((root / "index.json").read_text())
    for e in idx["entries"]:
        fn(e)
    (root / "index.json").write_text(json.dumps(idx))


def _resize(root, e):
    e["size_bytes"] = sum((root / e["path"] / r).stat().st_size for r in e["files"])


def _edit_card(root, entry, fn):
    """Change an entry's card and fix up its checksum and size, as a hostile publisher would."""
    path = root / entry.path / "card.json"
    card = json.loads(path.read_text())
    fn(card)
    path.write_text(re.sub(r'"HUGE"', "1" + "0" * 400, json.dumps(card)))  # 10**400, which json.dumps cannot write

    def fix(e):
        if e["name"] == entry.name:
            e["files"]["card.json"] = sha256_file(path)
            _resize(root, e)
    _index(root, fix)


def _install(root, name, store, *extra):
    return CliRunner().invoke(cli, ["zoo", "install", name, "--zoo", str(root), "--store", str(store), *extra])


def _nothing_stored(store):
    return not store.exists() or not [p for p in store.rglob("*") if p.is_file() and not p.name.endswith(".lock")]


# ------------------------------------------------------------------------------ 2. sizes a zoo hands over
@pytest.mark.parametrize("case", ["sparse card, sizes agreeing", "sparse card, sizes not", "20 GB weights",
                                  "20 GB index", "2 MB card"])
def test_issue25_02_no_file_a_zoo_hands_over_is_read_or_hashed_past_its_limit(zoo, tmp_path, case):
    root, entry = zoo
    folder = root / entry.path
    if case.startswith("sparse card"):
        with open(folder / "card.json", "r+b") as f:
            f.truncate(4 * GB)  # a hole: no disk used, 4 GB read if anyone reads it
        if case.endswith("agreeing"):
            _index(root, lambda e: _resize(root, e) if e["name"] == entry.name else None)
        words = ["size_bytes", "more than an adapter entry may have"] if case.endswith("agreeing") else \
            ["its files hold", "but the index says size_bytes"]
    elif case == "20 GB weights":
        with open(folder / "adapter" / "adapter.safetensors", "r+b") as f:
            f.truncate(20 * GB)
        words = ["its files hold 21,47", "but the index says size_bytes"]
    elif case == "20 GB index":
        with open(root / "index.json", "r+b") as f:
            f.truncate(20 * GB)
        words = ["index.json is 21,474,836,480 bytes, more than the 16,777,216"]
    else:
        _edit_card(root, entry, lambda c: c.update({"notes": "x" * (2 << 20)}))
        words = ["card.json is 2,09", "more than a card may have"]
    store = tmp_path / "store2"
    t0 = time.perf_counter()
    res = _install(root, entry.name, store)
    assert time.perf_counter() - t0 < 10
    _refused(res, *words)
    assert _nothing_stored(store)


def test_issue25_02_the_size_checks_run_in_bounded_memory(zoo, tmp_path):
    """The same refusal in a child process: the kernel's count of its peak memory, under 1 GB for a 4 GB card."""
    root, entry = zoo
    with open(root / entry.path / "card.json", "r+b") as f:
        f.truncate(4 * GB)
    code = _PEAK + "from modxfer import zoo as Z; Z.install(sys.argv[1], sys.argv[2], store=sys.argv[3])"
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-c", code, entry.name, str(root), str(tmp_path / "s")], capture_output=True,
                       text=True, timeout=60)
    took = time.perf_counter() - t0
    stderr, peak = _peak(p.stderr)
    assert "its files hold" in stderr and "DataError" in stderr, stderr[-500:]
    assert took < 10 and peak < GB, (took, peak)


# ------------------------------------------------------------------------------ 3. the grid of a sweep
def _config(tmp_path, **over) -> Path:
    cfg = {"name": "t", "targets": {"xnli": "all"}, "compositions": ["target"], "noise": ["clean"], "seeds": [0],
           "output": str(tmp_path / "run")}
    cfg.update(over)
    path = tmp_path / "sweep.yaml"
    path.write_text(json.dumps(cfg))  # JSON is YAML
    return path


def test_issue25_03_a_huge_grid_is_refused_from_its_counts(tmp_path, data_dir):
    noise = [f"typo:{i / 1000:g}" for i in range(1, 201)]
    cfg = _config(tmp_path, seeds=list(range(10_000)), noise=noise)
    assert cfg.stat().st_size > 40_000
    _limited(["sweep", "plan", cfg], "the grid has 30,000,000 evaluation cells", "10,000 seeds x 200 noise settings",
             "more than the 100,000", "split the study into several configs")


def test_issue25_03_a_config_file_is_refused_by_its_size_before_it_is_read(tmp_path):
    cfg = _config(tmp_path)
    with open(cfg, "r+b") as f:
        f.truncate(20 * GB)  # sparse: 20 GB if read
    _limited(["sweep", "plan", cfg], "sweep.yaml is 21,474,836,480 bytes, more than the 1,048,576",
             "check that this is the config you meant")


# ------------------------------------------------------------------------------ 4. a results bundle
def _bundle(tmp_path, rows: int, claimed: int) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from modxfer.sweeps.bundle import KIND, META, RESULTS, VERSION, digest

    folder = tmp_path / "bundle"
    folder.mkdir()
    pq.write_table(pa.table({"score": np.zeros(rows)}), folder / RESULTS, compression="zstd")
    meta = {"card": {"kind": KIND, "version": VERSION, "rows": claimed, "run_name": "b",
                     "results_sha256": sha256_file(folder / RESULTS)},
            "config": {}, "counts": {}, "artifacts": [], "similarity": {}}
    meta["card"]["digest"] = digest(meta)
    (folder / META).write_text(json.dumps(meta))
    return folder


@pytest.mark.parametrize("claimed", [10, 2_000_000])
def test_issue25_04_a_decompression_bomb_bundle_is_refused_before_it_is_read(tmp_path, claimed):
    folder = _bundle(tmp_path, 2_000_000, claimed)
    assert (folder / "results.parquet").stat().st_size < 1 << 20
    words = ["holds 2,000,000 rows, but run.json says 10"] if claimed == 10 else \
        ["declares 2,000,000 rows", "more than a results table may have (200,000 rows"]
    _limited(["report", folder], *words)


def test_a_bundle_whose_rows_repeat_a_long_value_is_refused_while_it_is_read(tmp_path, monkeypatch):
    # Dictionary encoding declares one long value once in the footer, however many rows repeat it: 40 rows of one
    # 300 KB string declare about 0.3 MB and decode to 12 MB. The read itself stops at the decoded limit.
    import pyarrow as pa
    import pyarrow.parquet as pq

    from modxfer.sweeps import bundle as B
    from modxfer.errors import DataError

    folder = _bundle(tmp_path, 40, 40)
    pq.write_table(pa.table({"score": np.zeros(40), "outcomes": ["x" * 300_000] * 40}), folder / "results.parquet",
                   compression="zstd")
    meta = json.loads((folder / "run.json").read_text())
    meta["card"]["results_sha256"] = sha256_file(folder / "results.parquet")
    meta["card"]["digest"] = B.digest(meta)
    (folder / "run.json").write_text(json.dumps(meta))
    monkeypatch.setattr(B, "MAX_DECODED_BYTES", 4 << 20)
    with pytest.raises(DataError, match="decodes to more than 4,194,304 bytes"):
        B.read_bundle(folder)


def test_issue25_04_a_huge_results_file_is_refused_before_it_is_hashed(tmp_path):
    folder = _bundle(tmp_path, 10, 10)
    with open(folder / "results.parquet", "r+b") as f:
        f.truncate(20 * GB)
    _limited(["report", folder], "results.parquet is 21,474,836,480 bytes, more than a results table may have")


# ------------------------------------------------------------------------------ 5. long lines
def _data(tmp_path, data_dir, task="xcopa") -> Path:
    import shutil

    root = tmp_path / "data"
    shutil.copytree(data_dir / task, root / task)
    return root


def test_issue25_05_data_check_flags_a_line_longer_than_any_sentence(tmp_path, data_dir):
    root = _data(tmp_path, data_dir)
    path = root / "xcopa" / "it" / "test.it.jsonl"
    lines = path.read_text().splitlines()
    row = json.loads(lines[4])
    row["premise"] = " ".join(["la"] * 100_000)  # 300k characters of one repeated word
    lines[4] = json.dumps(row)
    path.write_text("\n".join(lines) + "\n")
    _limited(["data", "check", "xcopa", "--data-dir", root], f"{path}:5", "a line of 300,", "more than the 100,000")


def test_issue25_05_the_realised_noise_rate_is_linear_in_the_line_length():
    from modxfer.noise import perturb_text
    from modxfer.noise.rate import changed

    line = " ".join(["the", "a", "of", "and", "the", "a"] * 17_000)  # ~100k words, repetitive
    for spec, unit in (("typo:0.2", "chars"), ("word_dropout:0.2", "words"), ("word_dup:0.1", "chars")):
        noisy = perturb_text(line, spec, seed=0, example_id=0, lang="en")
        t0 = time.perf_counter()
        rate = changed([(line, noisy)], unit)
        assert time.perf_counter() - t0 < 2 and 0 < rate < 1, (spec, rate)
    # short texts keep the exact alignment: a dropped word is a fifth of five words
    assert changed([("a bb ccc dd e", "a bb dd e")], "words") == 0.2


# ------------------------------------------------------------------------------ 6. integers beyond float range
@pytest.mark.parametrize("field", ["epochs", "learning_rate", "final_loss", "metrics"])
def test_issue25_06_huge_integers_in_a_card_are_a_message(zoo, tmp_path, field):
    root, entry = zoo
    if field == "metrics":
        _edit_card(root, entry, lambda c: c["metrics"]["validation"].update({"accuracy": "HUGE"}))
        name = "metrics.validation.accuracy"
    else:
        _edit_card(root, entry, lambda c: c.update({field: "HUGE"}))
        name = field
    assert "1" + "0" * 400 in (root / entry.path / "card.json").read_text()
    _refused(_install(root, entry.name, tmp_path / "s"), f"{name} is 1000", "re-publish")
    assert _nothing_stored(tmp_path / "s")


@pytest.mark.parametrize("where", [("budget", "epochs"), ("budget", "examples"), ("training", "learning_rate")])
def test_issue25_06_huge_integers_in_a_sweep_config_are_a_message(tmp_path, data_dir, where):
    cfg = _config(tmp_path, **{where[0]: {where[1]: "HUGE"}})
    cfg.write_text(cfg.read_text().replace('"HUGE"', "1" + "0" * 400))
    res = CliRunner().invoke(cli, ["sweep", "plan", str(cfg)])
    _refused(res, f"{where[0]}.{where[1]} must be")


# ------------------------------------------------------------------------------ 7. a full disk
def test_issue25_07_a_full_disk_at_the_end_of_training_keeps_the_trained_weights(tiny_base, data_dir, tmp_path,
                                                                                monkeypatch):
    import safetensors.torch

    real = safetensors.torch.save_file
    store = tmp_path / "store"

    elsewhere = tmp_path / "elsewhere"  # the only disk with room: the store's and the cache's are full

    def full(tensors, filename, *a, **kw):
        if not str(filename).startswith(str(elsewhere)):
            raise safetensors.SafetensorError("Error while serializing: IoError(Os { code: 28, kind: StorageFull, "
                                              "message: \"No space left on device\" })")
        return real(tensors, filename, *a, **kw)

    import adapters.loading

    monkeypatch.setattr(safetensors.torch, "save_file", full)
    monkeypatch.setattr(adapters.loading, "save_file", full)  # the adapters library's own binding
    monkeypatch.setenv("TMPDIR", str(tmp_path / "elsewhere"))
    (tmp_path / "elsewhere").mkdir()
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    res = CliRunner().invoke(cli, ["train", "mnli", "--store", str(store), "--base", tiny_base, "--data-dir",
                                   str(data_dir), "--examples", "48", "--batch-size", "16", "--epochs", "1",
                                   "--precision", "fp32", "--quiet"])
    out = _refused(res, "No space left on device", "are kept, complete, in", "free some space",
                   "then move them into the store")
    kept = Path(re.search(r"kept, complete, in (\S+)", out).group(1))
    assert elsewhere in kept.parents
    assert art.is_intact(kept, art.load(kept).key)  # a whole artifact, checksums and all
    assert _nothing_stored(store)  # nothing half-written in the store
    key = art.load(kept).key
    dest = art.path_for(store, "mnli", key)
    dest.parent.mkdir(parents=True, exist_ok=True)
    os.rename(kept, dest)  # the fix the message gives: then it is found, verified, and reused
    assert art.find(store, "mnli", key) is not None


def test_issue25_07_a_store_without_room_is_refused_before_training(tiny_base, data_dir, tmp_path, monkeypatch):
    import shutil
    from collections import namedtuple

    import modxfer.training

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage(1 << 30, 1 << 30, 1000))
    monkeypatch.setattr(modxfer.training, "_fit", lambda *a, **kw: pytest.fail("trained on a full disk"))
    res = CliRunner().invoke(cli, ["train", "mnli", "--store", str(tmp_path / "store"), "--base", tiny_base,
                                   "--data-dir", str(data_dir), "--examples", "48", "--precision", "fp32", "--quiet"])
    _refused(res, "has 0.0 MB free", "mnli needs about", "free some space")


def test_issue25_07_a_full_disk_during_install_is_a_message(zoo, tmp_path, monkeypatch):
    import errno

    root, entry = zoo

    class Full:
        def __init__(self, *a, **kw):
            self.f = open(*a, **kw)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

    from modxfer.store import entries

    monkeypatch.setattr(entries, "open", Full, raising=False)  # the copy into the store (entries.copy_file)
    store = tmp_path / "full-store"
    _refused(_install(root, entry.name, store), "No space left on device", "free some space")
    assert not any(p.is_dir() and not p.name.startswith(".") for p in store.rglob("*/*"))  # no folder half-written


def test_issue25_07_a_full_disk_anywhere_is_a_message_not_a_traceback(tmp_path, monkeypatch):
    import errno

    import modxfer_cli.data_cmd as data_cmd

    def full(*a, **kw):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "x"))

    monkeypatch.setattr(data_cmd, "check_data", full)
    _refused(CliRunner().invoke(cli, ["data", "check", "xcopa"]), "the disk is full writing", "free some space")
    monkeypatch.setattr(data_cmd, "check_data", lambda *a, **kw: 1 / 0)  # anything else is a bug: shown
    assert isinstance(CliRunner().invoke(cli, ["data", "check", "xcopa"]).exception, ZeroDivisionError)


# ------------------------------------------------------------------------------ 8. competence
@pytest.mark.parametrize("value, field", [({"score": "56.8", "learned": True}, "competence.score"),
                                          ({"score": 50.0, "learned": "yes"}, "competence.learned"),
                                          ({"ci": [1, "x"]}, "competence.ci[1]"), ("good", "competence")])
def test_issue25_08_a_cards_competence_is_validated(zoo, tmp_path, value, field):
    root, entry = zoo
    _edit_card(root, entry, lambda c: c.update({"competence": value}))
    _refused(_install(root, entry.name, tmp_path / "s"), f"{field} is")
    assert _nothing_stored(tmp_path / "s")


# ------------------------------------------------------------------------------ 9. strict data readers
@pytest.mark.parametrize("case, words", [
    ("label 5", ["label '5' is not a choice index (0, 1)"]), ("label true", ["label 'True' is not a choice index"]),
    ("label 1e400", ["out of range"]), ("NaN", ["NaN is not a number JSON allows"]),
    ("duplicate key", ["duplicate key 'label'"]), ("BOM", [":1: the file starts with a byte-order mark"]),
    ("NUL", [":3: a NUL byte"]),
])
def test_issue25_09_data_readers_are_strict(tmp_path, data_dir, case, words):
    root = _data(tmp_path, data_dir)
    path = root / "xcopa" / "it" / "test.it.jsonl"
    text = path.read_text()
    lines = text.splitlines()
    edits = {"label 5": ('"label": 0', '"label": 5'), "label true": ('"label": 0', '"label": true'),
             "label 1e400": ('"label": 0', '"label": 1e400'), "NaN": ('"label": 0', '"label": NaN'),
             "duplicate key": ('"label": 0', '"label": 1, "label": 0'), "NUL": ("e", "e\x00")}
    if case == "BOM":
        path.write_text("\ufeff" + text)
    else:
        old, new = edits[case]
        line = next(i for i, x in enumerate(lines) if old in x and i >= 2)
        lines[line] = lines[line].replace(old, new, 1)
        path.write_text("\n".join(lines) + "\n")
    res = CliRunner().invoke(cli, ["data", "check", "xcopa", "--data-dir", str(root)])
    out = _refused(res, *words)
    assert str(path) in out


# ------------------------------------------------------------------------------ 10. publishing
def test_issue25_10_publish_refuses_a_hard_link_and_copies_only_the_kinds_files(tmp_path):
    store = tmp_path / "store"
    _, target = stack(store)
    secret = tmp_path / "credentials.json"
    secret.write_text('{"token": "PRIVATE"}')
    (target.path / "adapter" / "extra_config.json").write_text('{"x": 1}')  # JSON, but no file an adapter has
    cfg = target.path / "head" / "head_config.json"
    cfg.unlink()
    os.link(secret, cfg)
    res = CliRunner().invoke(cli, ["zoo", "publish", str(target.path), "--zoo", str(tmp_path / "zoo"), "--store",
                                   str(store)])
    _refused(res, "head_config.json has sha256", "was recorded")  # the store's record already tells
    recorded = (target.path / "card.json").read_text()
    card = json.loads(recorded)
    del card["checksums"]  # an artifact stored before checksums: its record is made now, link and all
    (target.path / "card.json").write_text(json.dumps(card))
    res = CliRunner().invoke(cli, ["zoo", "publish", str(target.path), "--zoo", str(tmp_path / "zoo"), "--store",
                                   str(store)])
    _refused(res, "head_config.json has 2 hard links", "replace it by a copy of its own")
    assert not list((tmp_path / "zoo").rglob("xnli/*/head/*"))  # the intermediate it stacks on went; not it
    cfg.unlink()
    cfg.write_text(json.dumps({"config": {"name": "head/head_config.json"}}))  # the bytes the fake wrote
    (target.path / "card.json").write_text(recorded)
    entry = Z.publish(target.path, tmp_path / "zoo", store=store)
    assert "adapter/extra_config.json" not in entry.files and "PRIVATE" not in "".join(
        p.read_text(errors="ignore") for p in (tmp_path / "zoo").rglob("*") if p.is_file())


def test_issue25_10_a_file_swapped_while_publishing_is_not_published(tmp_path, monkeypatch):
    from modxfer.store import publish as zoo_publish

    store = tmp_path / "store"
    _, target = stack(store)
    real = zoo_publish.copy_file

    def swapped(src, dst, **kw):  # another process rewrites the weights between the check and the copy
        if src.name == "adapter.safetensors":
            from safetensors.numpy import save_file

            save_file({"weight": np.ones((4, 4), np.float32)}, str(src))
        return real(src, dst, **kw)

    monkeypatch.setattr(zoo_publish, "copy_file", swapped)
    res = CliRunner().invoke(cli, ["zoo", "publish", str(target.path), "--zoo", str(tmp_path / "zoo"), "--store",
                                   str(store)])
    _refused(res, "changed while it was published", "publish again")
    assert not (tmp_path / "zoo" / "xnli").exists() or not any((tmp_path / "zoo" / "xnli").iterdir())


def test_issue25_10_publish_strips_local_paths_from_provenance(zoo, tmp_path):
    root, entry = zoo
    a = Z.install(entry.name, root, store=tmp_path / "s")
    assert art.load(a.path).card["provenance"]["zoo"] == str(root.resolve())
    again = Z.publish(a.path, tmp_path / "zoo2", store=tmp_path / "s")
    card = json.loads((tmp_path / "zoo2" / again.path / "card.json").read_text())
    assert "zoo" not in card["provenance"] and str(tmp_path) not in json.dumps(card)
    assert card["provenance"]["entry"] == entry.name  # what it was, without where it sat


# ------------------------------------------------------------------------------ 12. plan checks
def test_issue25_12_codeswitch_needs_a_lexicon_for_every_language(tmp_path, data_dir):
    cfg = _config(tmp_path, targets={"xnli": ["de", "ur"]}, noise=["clean", "codeswitch:0.5"])
    _refused(CliRunner().invoke(cli, ["sweep", "plan", str(cfg)]), "codeswitch:0.5", "xnli/ur",
             "no Tatoeba pairs")
    cfg = _config(tmp_path, targets={"xnli": ["en", "de"]}, noise=["clean", "codeswitch:0.5"])
    assert CliRunner().invoke(cli, ["sweep", "plan", str(cfg)]).exit_code == 0  # English is never code-switched
    # A lexicon of the user's own needs no Tatoeba pairs (a config that planned before the check must still plan),
    # but it must exist.
    lex = tmp_path / "ur.txt"
    lex.write_text("house گھر\n", encoding="utf-8")
    cfg = _config(tmp_path, targets={"xnli": ["ur"]}, noise=["clean", f"codeswitch:0.5,lexicon={lex}"])
    res = CliRunner().invoke(cli, ["sweep", "plan", str(cfg)])
    assert res.exit_code == 0, res.output
    cfg = _config(tmp_path, targets={"xnli": ["ur"]}, noise=["clean", f"codeswitch:0.5,lexicon={tmp_path}/none.txt"])
    _refused(CliRunner().invoke(cli, ["sweep", "plan", str(cfg)]), "none.txt", "which does not exist")


# Python's int() and float() read "0_1" as 1, "1_0" as 10 and Arabic-Indic "٠.١" as 0.1
@pytest.mark.parametrize("spec", ["typo:0_1", "adversarial:1_0", "typo:\u0660.\u0661"])
def test_issue25_12_rates_are_parsed_strictly(tmp_path, data_dir, spec):
    cfg = _config(tmp_path, noise=["clean", spec])
    _refused(CliRunner().invoke(cli, ["sweep", "plan", str(cfg)]), "is not")
    _refused(CliRunner().invoke(cli, ["noise", "show", spec, "some text"]), "is not")


# ------------------------------------------------------------------------------ 13. the zoo's README
def test_issue25_13_the_zoo_readme_names_entries_the_index_has():
    text = (ROOT / "adapters_zoo" / "README.md").read_text()
    named = re.findall(r"zoo install ([A-Za-z0-9_.-]+-[0-9a-f]{8})", text)
    assert named and set(named) <= {e.name for e in Z.read_index(ROOT / "adapters_zoo")}, named


# ------------------------------------------------------------------------------ 2, on the hub: limits before download
def _fake_hub(monkeypatch, remote: Path, sizes=None):
    """huggingface_hub's three calls `pull` makes, served from a local folder laid out as the repository is."""
    import shutil
    import types

    import huggingface_hub

    calls = []

    def hf_hub_download(repo_id, filename, revision=None, token=None, local_dir=None):
        calls.append(("file", filename))
        Path(local_dir).mkdir(parents=True, exist_ok=True)
        return shutil.copy(remote / filename, Path(local_dir) / filename)

    def snapshot_download(repo_id, revision=None, token=None, local_dir=None, allow_patterns=()):
        calls.append(("snapshot", tuple(allow_patterns)))
        for rel in allow_patterns:  # exact names: the only patterns pull passes
            (Path(local_dir) / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(remote / rel, Path(local_dir) / rel)
        return str(local_dir)

    class HfApi:
        def __init__(self, token=None):
            pass

        def model_info(self, repo_id, revision=None, files_metadata=False):
            files = [p for p in remote.rglob("*") if p.is_file()]
            return types.SimpleNamespace(siblings=[types.SimpleNamespace(
                rfilename=str(p.relative_to(remote)), size=(sizes or {}).get(str(p.relative_to(remote)),
                                                                               p.stat().st_size)) for p in files])

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", hf_hub_download)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    monkeypatch.setattr(huggingface_hub, "HfApi", HfApi)
    return calls


def test_a_hub_zoo_is_checked_from_its_index_and_sizes_before_anything_else_is_downloaded(zoo, tmp_path, monkeypatch):
    from modxfer.store import hub

    monkeypatch.setenv("MODXFER_CACHE", str(tmp_path / "cache"))
    root, entry = zoo
    (root / "junk.bin").write_bytes(b"x" * 1000)  # in the repository, listed nowhere: never downloaded
    calls = _fake_hub(monkeypatch, root)
    got = hub.pull("someone/zoo")
    assert calls[0] == ("file", "index.json") and calls[-1][0] == "snapshot"
    assert "junk.bin" not in calls[-1][1] and not (got / "junk.bin").exists()
    assert Z.read_index(got) and all((got / e.path / rel).is_file() for e in Z.read_index(got) for rel in e.files)
    # A listed file the hub says is larger than the index's size_bytes: refused before the snapshot is fetched.
    big = f"{entry.path}/adapter/adapter.safetensors"
    calls = _fake_hub(monkeypatch, root, sizes={big: 20 * GB})
    with pytest.raises(ModxferError, match="size_bytes"):
        hub.pull("someone/other-zoo")
    assert [c[0] for c in calls] == ["file"]
