import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))


def _data_dir() -> Path | None:
    env = os.environ.get("MODXFER_DATA_DIR")
    for p in ([Path(env)] if env else []) + [ROOT.parent / "shared" / "data"]:
        if p.is_dir():
            return p.resolve()
    return None


DATA_DIR = _data_dir()


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if DATA_DIR is None:
        pytest.skip("task data not found: set MODXFER_DATA_DIR")
    return DATA_DIR


@pytest.fixture(autouse=True)
def _env(monkeypatch, tmp_path_factory):
    # Tests never write to the user's cache; the converted embedded model is shared across the session.
    if DATA_DIR is not None:
        monkeypatch.setenv("MODXFER_DATA_DIR", str(DATA_DIR))
    monkeypatch.setenv("MODXFER_CACHE", os.environ.get("MODXFER_TEST_CACHE", str(ROOT / ".cache-test")))


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory) -> str:
    """Path of a tiny random BERT backbone (2 layers, hidden 32) with a trained 1.2k-piece tokenizer."""
    from tiny import build_tiny_backbone

    return str(build_tiny_backbone(tmp_path_factory.mktemp("tiny-backbone"), DATA_DIR))
