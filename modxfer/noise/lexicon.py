"""Bilingual lexicons (word in language X -> English word) induced by aligning the backbone's own embeddings.

The method is SimAlign (Jalili Sabet et al., 2020): embed a sentence and its English translation with the
frozen encoder, take a middle layer (SimAlign found layer 8 of mBERT's 12 best; the default here is the same
2/3 of the depth), average each word's sub-word vectors, and align words through the cosine similarity
matrix with mutual argmax ("argmax") or its iterative extension that also aligns words left over by the
first pass ("itermax", SimAlign's best for distant languages). Aligned word pairs are counted over the
corpus; each source word keeps its most frequent English partner if it was aligned to it at least
`min_count` times and in at least `min_share` of its alignments.

The corpus is the Tatoeba `lexicon` split of the language (20% of its pairs, never evaluated), so code-
switching noise built from it never saw the retrieval test pairs. A further 20% of those pairs is held
back from induction (by hash of the pair id) to estimate the lexicon's precision: over every word of a
held-back source sentence that has an entry, the fraction whose English translation occurs among the words
of the paired English sentence. This is a proxy for precision: a correct entry can miss (the translator
paraphrased) and a wrong one can hit by chance (function words), but it is measured on pairs the induction
never saw and compares methods and layers on the same footing.

Words are segmented as the noise package does (segment.py), so in unspaced scripts (Chinese, Japanese,
Thai) each grapheme is a word, which is exactly what code-switching looks up there.
"""
from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

import regex
import torch

from ..errors import ConfigError, ModxferError
from ..io import atomic_write_json, cache_dir
from .codeswitch import set_lexicon, tatoeba_code  # noqa: F401 - tatoeba_code is used here and imported from here
from .segment import has_content, segment_words

METHODS = ("argmax", "itermax")
HOLDOUT = 0.2
FORMAT = 2  # 2: English forms taken from mid-sentence occurrences
_EDGE_RE = regex.compile(r"^[\p{P}\p{S}]*(.*?)[\p{P}\p{S}]*$", regex.S)
_MEMO: dict[tuple, "Lexicon"] = {}


@dataclass(frozen=True)
class Settings:
    layer: int | None = None  # None: round(2/3 * num_layers)
    method: str = "itermax"
    min_count: int = 2
    min_share: float = 0.3

    def check(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(f"unknown alignment method {self.method!r}", f"use one of: {', '.join(METHODS)}")
        if self.min_count < 1 or not 0.0 <= self.min_share <= 1.0:
            raise ConfigError(f"lexicon filters min_count={self.min_count}, min_share={self.min_share} are out of range",
                              "use min_count >= 1 and min_share in [0, 1]")


@dataclass
class Lexicon:
    lang: str  # the Tatoeba code of the source language (deu, cmn, ...)
    entries: dict[str, str]
    precision: float | None  # held-out estimate in percent (None: no held-back word had an entry)
    checked: int  # held-back source words with an entry (the precision's denominator)
    coverage: float  # percent of held-back source words that have an entry
    method: str
    layer: int
    min_count: int
    min_share: float
    pairs_used: int
    pairs_heldout: int
    backbone: str  # weights hash
    data: str  # fingerprint of the lexicon split
    induce_ids: list[str] = field(default_factory=list)
    heldout_ids: list[str] = field(default_factory=list)
    format: int = FORMAT

    @property
    def size(self) -> int:
        return len(self.entries)

    def to_json(self) -> dict:
        return asdict(self) | {"size": self.size}

    @classmethod
    def from_json(cls, obj: dict) -> "Lexicon":
        obj = {k: v for k, v in obj.items() if k != "size"}
        return cls(**obj)


# ---------------------------------------------------------------------------------------------- words
def words_with_spans(text: str) -> list[tuple[str, int, int]]:
    """Content words of `text` without edge punctuation, with their character spans."""
    words, seps = segment_words(text)
    out, pos = [], len(seps[0])
    for w, sep in zip(words, seps[1:]):
        m = _EDGE_RE.match(w)
        core = m.group(1)
        if core and has_content(core):
            out.append((core, pos + m.start(1), pos + m.end(1)))
        pos += len(w) + len(sep)
    return out


@torch.no_grad()
def word_vectors(encoder, tokenizer, texts: list[str], layer: int, batch_size: int = 32, max_length: int = 128
                 ) -> list[tuple[list[str], torch.Tensor]]:
    """Per text: its words and [n_words, H] vectors, each the mean of the sub-words overlapping the word.

    Sub-words are mapped to words through character offsets of the untouched text, so unspaced scripts are
    tokenized as the model normally sees them (not one grapheme per "word" with spaces forced between).
    """
    out: list[tuple[list[str], torch.Tensor]] = [None] * len(texts)  # type: ignore[list-item]
    order = sorted(range(len(texts)), key=lambda i: (-len(texts[i]), i))
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        enc = tokenizer([texts[i] for i in idx], padding=True, truncation=True, max_length=max_length,
                        return_offsets_mapping=True, return_tensors="pt")
        offsets = enc.pop("offset_mapping")
        hidden = encoder(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"],
                         output_hidden_states=True).hidden_states[layer].float()
        for b, i in enumerate(idx):
            spans = words_with_spans(texts[i])
            vecs = torch.zeros(len(spans), hidden.shape[-1])
            counts = torch.zeros(len(spans))
            for t, (s, e) in enumerate(offsets[b].tolist()):
                if e <= s or not enc["attention_mask"][b, t]:
                    continue  # special tokens and padding have empty offsets
                for w, (_, ws, we) in enumerate(spans):
                    if s < we and e > ws:
                        vecs[w] += hidden[b, t]
                        counts[w] += 1
            keep = [w for w in range(len(spans)) if counts[w] > 0]  # words cut off by truncation
            out[i] = ([spans[w][0] for w in keep], vecs[keep] / counts[keep].unsqueeze(-1))
    return out


# ------------------------------------------------------------------------------------------ alignment
def _mutual(sim: torch.Tensor) -> torch.Tensor:
    m, n = sim.shape
    fwd = torch.zeros(m, n)
    fwd[torch.arange(m), sim.argmax(1)] = 1
    bwd = torch.zeros(m, n)
    bwd[sim.argmax(0), torch.arange(n)] = 1
    return fwd * bwd


def align(sim: torch.Tensor, method: str = "itermax", max_count: int = 2, alpha: float = 0.9) -> list[tuple[int, int]]:
    """Aligned (source, target) word index pairs from a similarity matrix, as in SimAlign's reference code.

    itermax repeats the mutual argmax over similarities damped by `alpha` where one side is already
    aligned and zeroed where both are, so a word left out by the first pass can still find a partner.
    """
    m, n = sim.shape
    if m == 0 or n == 0:
        return []
    inter = _mutual(sim)
    if method == "itermax" and min(m, n) > 2:
        for _ in range(max_count - 1):
            free_x = 1.0 - inter.sum(1, keepdim=True).clamp(0, 1).expand(m, n)
            free_y = 1.0 - inter.sum(0, keepdim=True).clamp(0, 1).expand(m, n)
            if free_x.sum() < 1 or free_y.sum() < 1:
                break
            mask = (alpha * free_x + alpha * free_y).clamp(0, 1)
            either_free = 1.0 - (1.0 - free_x) * (1.0 - free_y)
            new = _mutual(sim * mask) * either_free
            if not (new * (1 - inter)).any():
                break
            inter = (inter + new).clamp(0, 1)
    return [tuple(p) for p in inter.nonzero().tolist()]


def _cosine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.normalize(a, dim=-1) @ torch.nn.functional.normalize(b, dim=-1).T


# ------------------------------------------------------------------------------------------ induction
def lexicon_pairs(lang: str, data_dir=None) -> tuple[list[dict], list[dict]]:
    """(induction pairs, held-back pairs) from the Tatoeba `lexicon` split; never the test split."""
    from ..tasks import get_task
    from ..tasks.partition import split_keys

    code = tatoeba_code(lang, data_dir)
    rows = get_task("tatoeba").rows("lexicon", code, data_dir=data_dir)
    parts = split_keys([r["id"] for r in rows], f"lexicon-holdout:{code}", {"heldout": HOLDOUT, "induce": 1 - HOLDOUT})
    return [r for r in rows if r["id"] in parts["induce"]], [r for r in rows if r["id"] in parts["heldout"]]


def induce(pairs: list[dict], encoder, tokenizer, num_layers: int, settings: Settings = Settings()
           ) -> tuple[dict[str, str], int]:
    """Lexicon {source word (case-folded): English word} from aligned pairs; returns it and the layer used."""
    settings.check()
    layer = settings.layer if settings.layer is not None else round(2 * num_layers / 3)
    if not 0 <= layer <= num_layers:
        raise ConfigError(f"layer {layer} does not exist in a {num_layers}-layer encoder",
                          f"use a layer between 0 and {num_layers}")
    src = word_vectors(encoder, tokenizer, [p["source"] for p in pairs], layer)
    tgt = word_vectors(encoder, tokenizer, [p["target"] for p in pairs], layer)
    counts: dict[str, Counter] = defaultdict(Counter)
    surface: dict[str, Counter] = defaultdict(Counter)
    for (sw, sv), (tw, tv) in zip(src, tgt):
        for i, j in align(_cosine(sv, tv), settings.method):
            counts[sw[i].casefold()][tw[j].casefold()] += 1
        # Surface forms away from the sentence start say how a word is written ("I", "Mary", "today").
        for j, w in enumerate(tw):
            surface[w.casefold()][w] += 1 if j == 0 else 1000
    entries = {}
    for word in sorted(counts):
        # Ties break alphabetically so the lexicon does not depend on dict insertion order.
        (best, n), = sorted(counts[word].items(), key=lambda kv: (-kv[1], kv[0]))[:1]
        if n >= settings.min_count and n / sum(counts[word].values()) >= settings.min_share:
            entries[word] = sorted(surface[best].items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
    return entries, layer


def estimate_precision(entries: dict[str, str], pairs: list[dict]) -> tuple[float | None, int, float]:
    """(precision %, words checked, coverage %) on held-back pairs; see the module docstring."""
    hits = checked = total = 0
    for p in pairs:
        english = {w.casefold() for w, _, _ in words_with_spans(p["target"])}
        for w, _, _ in words_with_spans(p["source"]):
            total += 1
            tgt = entries.get(w.casefold())
            if tgt is not None:
                checked += 1
                hits += tgt.casefold() in english
    return (100.0 * hits / checked if checked else None), checked, (100.0 * checked / total if total else 0.0)


def _fingerprint(rows: list[dict]) -> str:
    h = hashlib.blake2b(digest_size=8)
    for r in rows:
        h.update(f"{r['id']}\t{r['source']}\t{r['target']}\n".encode("utf-8"))
    return h.hexdigest()


def lexicon_path(weights_hash: str, code: str) -> Path:
    return cache_dir() / "lexicons" / weights_hash[:12] / f"{code}.json"


def build_lexicon(lang: str, backbone, data_dir=None, settings: Settings = Settings(), *, force: bool = False) -> Lexicon:
    """Induce (or load from the cache) the lexicon for `lang` with `backbone` (a Backbone or its name)."""
    if isinstance(backbone, str):
        from ..model.modeling import backbone as load

        backbone = load(backbone)
    settings.check()
    code = tatoeba_code(lang, data_dir)
    induce_rows, held = lexicon_pairs(code, data_dir)
    data = _fingerprint(induce_rows + held)
    layer = settings.layer if settings.layer is not None else round(2 * backbone.num_layers / 3)
    want = dict(method=settings.method, layer=layer, min_count=settings.min_count, min_share=settings.min_share,
                backbone=backbone.weights_hash, data=data, format=FORMAT)
    key = tuple(sorted(want.items())) + (code,)
    if not force and key in _MEMO:
        return _MEMO[key]
    path = lexicon_path(backbone.weights_hash, code)
    if not force and path.is_file():
        try:
            lex = Lexicon.from_json(json.loads(path.read_text(encoding="utf-8")))
            if all(getattr(lex, k) == v for k, v in want.items()):
                _MEMO[key] = lex
                return lex
        except (ValueError, TypeError, KeyError):
            pass  # unreadable or from another format: rebuilt below
    encoder = backbone.encoder()
    entries, layer = induce(induce_rows, encoder, backbone.tokenizer, backbone.num_layers, settings)
    precision, checked, coverage = estimate_precision(entries, held)
    lex = Lexicon(lang=code, entries=entries, precision=None if precision is None else round(precision, 2),
                  checked=checked, coverage=round(coverage, 2), method=settings.method, layer=layer,
                  min_count=settings.min_count, min_share=settings.min_share, pairs_used=len(induce_rows),
                  pairs_heldout=len(held), backbone=backbone.weights_hash, data=data,
                  induce_ids=[r["id"] for r in induce_rows], heldout_ids=[r["id"] for r in held])
    atomic_write_json(path, lex.to_json())
    from ..io import mark

    mark(path.parent)  # `cache clear` deletes only entries their writer marked
    _MEMO[key] = lex
    return lex


def ensure_lexicon(lang: str, backbone, data_dir=None, settings: Settings = Settings()) -> Lexicon:
    """Build or load the lexicon for `lang` and register it, so `codeswitch:RATE` works for text in `lang`."""
    from .. import languages

    lex = build_lexicon(lang, backbone, data_dir, settings)
    if not lex.entries:
        raise ModxferError(f"the lexicon induced for '{lang}' is empty ({lex.pairs_used} Tatoeba pairs, "
                           f"min_count={lex.min_count})",
                           "lower min_count, or give codeswitch a lexicon file (codeswitch:0.3,lexicon=path)")
    info = languages.get(lang)
    # Tasks name languages in different code styles (XNLI "de", Tatoeba "deu"); register under all of them.
    for code in dict.fromkeys((lang, info.code, info.iso3, lex.lang)):
        set_lexicon(code, lex.entries)
    return lex
