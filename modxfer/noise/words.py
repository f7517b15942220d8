"""Word-level noise: dropout, local shuffle (window 3) and duplication.

Only words with a letter or digit are targets; punctuation stays where it is. `rate` is the
fraction of target words dropped / duplicated / moved. Dropout always leaves one target word,
so a non-empty input never becomes empty (models and tokenizers treat "" specially).
"""
from __future__ import annotations

import random

from .registry import Perturbation, rate_param, register
from .rng import choose, sample_count
from .segment import has_content, is_unspaced, join_words, segment_words

WINDOW = 3


def drop_word(words: list[str], seps: list[str], i: int) -> None:
    """Remove word i and one of the separators around it, keeping the outer ones intact."""
    del words[i]
    left, right = seps[i], seps[i + 1]
    if i == 0:
        keep = left
    elif i == len(words):  # it was the last word
        keep = right
    else:
        keep = left or right
    seps[i:i + 2] = [keep]


@register
class WordDropout(Perturbation):
    name = "word_dropout"
    summary = "drops `rate` of the words (at least one word is kept)"
    params = {"rate": rate_param("fraction of words dropped")}
    primary = "rate"

    def apply(self, text: str, rng: random.Random, lang: str | None) -> str:
        words, seps = segment_words(text)
        targets = [i for i, w in enumerate(words) if has_content(w)]
        k = min(sample_count(rng, len(targets), self.rate), max(len(targets) - 1, 0))
        for i in sorted(rng.sample(targets, k), reverse=True):
            drop_word(words, seps, i)
        return join_words(words, seps)


@register
class WordShuffle(Perturbation):
    name = "word_shuffle"
    summary = f"local shuffle: about `rate` of the words swap with a word at most {WINDOW - 1} positions away"
    params = {"rate": rate_param("expected fraction of words moved")}
    primary = "rate"

    def apply(self, text: str, rng: random.Random, lang: str | None) -> str:
        words, seps = segment_words(text)
        targets = [i for i, w in enumerate(words) if has_content(w)]
        # Each untouched word starts a swap with probability q; a swap moves two words and
        # consumes one later word, so the moved fraction is 2q/(1+q): q = rate/(2-rate).
        q = self.rate / (2.0 - self.rate) if self.rate < 1.0 else 1.0
        touched: set[int] = set()
        for pos, i in enumerate(targets):
            if i in touched or rng.random() >= q:
                continue
            partners = [j for j in targets[pos + 1:pos + WINDOW] if j not in touched and words[j] != words[i]]
            if partners:
                j = rng.choice(partners)
                words[i], words[j] = words[j], words[i]
                touched.update((i, j))
        return join_words(words, seps)


@register
class WordDup(Perturbation):
    name = "word_dup"
    summary = "duplicates `rate` of the words in place"
    params = {"rate": rate_param("fraction of words duplicated")}
    primary = "rate"

    def apply(self, text: str, rng: random.Random, lang: str | None) -> str:
        words, seps = segment_words(text)
        chosen = choose(rng, [i for i, w in enumerate(words) if has_content(w)], self.rate)
        for i in reversed(chosen):
            words.insert(i + 1, words[i])
            seps.insert(i + 1, "" if is_unspaced(words[i]) else " ")
        return join_words(words, seps)
