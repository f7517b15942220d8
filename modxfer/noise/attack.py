"""`adversarial:budget=N`: a black-box greedy attack with the model in the loop, at most N edits per example.

The edits are the noise package's own, drawn by the same script-aware generators, so an attacked text is one a
typist (or a code-switching speaker) could produce and differs from random noise only in *where* the edits land:

  unit=chars (default)  one character: typo operations (insert, delete, substitute, transpose), a keyboard slip
                        on the language's layout, or a homoglyph swap.
  unit=words            one word: drop it, duplicate it, swap it with the next word, translate it with the
                        language's bilingual lexicon (when one is registered; see noise/lexicon.py), or misspell
                        it with one character edit. Tagging keeps one word per token, so only translate (to a
                        single word) and misspell apply there.

Greedy search, per example: at each of N steps draw K candidate single edits (seeded by seed, example id and
step), score them in one batch, and keep the one that lowers the gold score most (if any lowers it). The gold
score is the log-probability of the gold answer: the gold class or choice, the mean over words of the gold tag,
or the gold span's start+end log-likelihood (best window) for extractive QA. The search stops as soon as the
example gets worse than its clean prediction: the prediction flips (classification, multiple choice), a correct
tag turns wrong, or the answer stops matching (QA). Examples with nothing correct to flip are not attacked. A
model query is one scored input, so an example costs at most 1 + N*K.

search=random is the control: the same kinds of edits, up to N of them (a draw can find no valid edit), placed at
random without looking at the model, on every example, 2 queries each. "The attack lowers accuracy more than random noise of the same
budget" is the comparison of adversarial:N with adversarial:N,search=random.

Fields follow the noise package's label-preservation rules (apply.py): tags stay aligned because edits
stay inside one token and never empty it; QA answer spans are never edited and their offsets are kept;
the MC `question` template keyword is left alone. Retrieval has no gold score to attack.

In the greedy search each example is scored on its own (its K candidates form one batch), so its result does
not depend on which other examples are attacked alongside it. The random control's texts never depend on the
model, so its perturbed inputs are scored in length-sorted batches like any text noise; its clean inputs are
scored one at a time, as in the greedy search, so both report the same clean score.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

import torch

from ..errors import ConfigError, ModxferError
from .homoglyph import eligible as has_homoglyph
from .homoglyph import swap as homoglyph_swap
from .keyboard import key_slip
from .layouts import layout_for
from .rng import stable_rng
from .scripts import dominant_script, graphemes, is_letter_grapheme, script_of_grapheme
from .spec import NoiseSpec, parse_spec
from .codeswitch import get_lexicon, switch, translatable_spans, translate_word
from .segment import has_content, is_unspaced, join_words, segment_words
from .typo import new_letter, own_letters, substitute_grapheme
from .words import drop_word

CANDIDATES = 16
EDIT_KINDS = ("insert", "delete", "substitute", "transpose", "keyboard", "homoglyph")
WORD_KINDS = ("drop", "duplicate", "swap", "translate", "misspell")
TAGGING_WORD_KINDS = ("translate", "misspell")
_TRIES = 8  # draws per candidate before giving up on a position whose edits all fail (e.g. no layout, no look-alike)


@dataclass
class AttackResult:
    rows: list[dict]  # attacked examples, in input order
    preds: object
    refs: object
    clean_preds: object
    edits: list[int]  # accepted edits per example (<= budget)
    queries: list[int]  # scored inputs per example (<= 1 + budget * K)
    attacked: list[bool]  # whether the example had something correct to attack
    flipped: list[bool]
    scores: dict[str, float] = field(default_factory=dict)


# ------------------------------------------------------------------------------ editable fields
def _slots(row: dict, head: str) -> tuple[list[str], callable]:
    """The texts an attack may edit, and a function putting edited texts back into a copy of the row."""
    if head == "classification":
        keys = ["text_a"] + (["text_b"] if row.get("text_b") else [])

        def rebuild(texts):
            return {**row, **dict(zip(keys, texts))}
        return [row[k] for k in keys], rebuild
    if head == "multiple_choice":
        def rebuild(texts):
            return {**row, "context": texts[0] if row["context"] is not None else None, "choices": list(texts[1:])}
        return [row["context"] or ""] + list(row["choices"]), rebuild
    if head == "tagging":
        def rebuild(texts):
            return {**row, "tokens": list(texts)}
        return list(row["tokens"]), rebuild
    if head == "extractive_qa":
        return _qa_slots(row)
    raise ModxferError(f"the adversarial attack does not support {head} tasks",
                       "attack a classification, multiple-choice, tagging or extractive QA task; for retrieval "
                       "use text noise such as typo:0.05")


def _qa_slots(row: dict):
    """Question and the context outside every answer span; answers are kept verbatim at remapped offsets."""
    context, answers = row["context"], row["answers"]
    spans = sorted((s, s + len(t)) for t, s in zip(answers["text"], answers["answer_start"]) if t)
    regions: list[list[int]] = []
    for s, e in spans:
        if regions and s <= regions[-1][1]:
            regions[-1][1] = max(regions[-1][1], e)
        else:
            regions.append([s, e])
    outside, cursor = [], 0
    for s, e in regions:
        outside.append(context[cursor:s])
        cursor = e
    outside.append(context[cursor:])

    def rebuild(texts):
        question, pieces = texts[0], texts[1:]
        out, starts_of = [], {}
        for k, (s, e) in enumerate(regions):
            out.append(pieces[k])
            starts_of[s] = sum(map(len, out))
            out.append(context[s:e])
        out.append(pieces[-1])
        region_of = {i: s for s, e in regions for i in range(s, e)}
        starts = [starts_of[region_of[a]] + a - region_of[a] if t else _shift(a, regions, starts_of, pieces)
                  for t, a in zip(answers["text"], answers["answer_start"])]
        return {**row, "question": question, "context": "".join(out),
                "answers": {**answers, "text": list(answers["text"]), "answer_start": starts}}
    return [row["question"]] + outside, rebuild


def _shift(pos: int, regions, starts_of, pieces) -> int:
    """Where an empty answer at `pos` (outside every span) lands once the pieces around spans were edited."""
    before = [k for k, (s, _) in enumerate(regions) if s <= pos]
    if not before:
        return min(pos, len(pieces[0]))
    k = before[-1]
    s, e = regions[k]
    return starts_of[s] + (e - s) + min(pos - e, len(pieces[k + 1]))


# ------------------------------------------------------------------------------ candidate edits
def _edit(text: str, i: int, kind: str, rng: random.Random, lang: str | None, keep_one: bool) -> str | None:
    """`text` with one edit of `kind` at letter grapheme i, or None if that edit is impossible there."""
    gs = graphemes(text)
    g = gs[i]
    letters = sum(1 for x in gs if is_letter_grapheme(x))
    extra = own_letters(gs)
    if kind == "delete":
        if keep_one and letters <= 1:
            return None  # a tagging token must not lose its only letter
        new = ""
    elif kind == "insert":
        ins = new_letter(g, rng, extra)
        if ins is None:
            return None
        new = g + ins if rng.random() < 0.5 else ins + g
    elif kind == "substitute":
        new = substitute_grapheme(g, rng, extra)
    elif kind == "transpose":
        if i + 1 >= len(gs) or not is_letter_grapheme(gs[i + 1]) or gs[i + 1] == g:
            return None
        return "".join(gs[:i] + [gs[i + 1], g] + gs[i + 2:])
    elif kind == "keyboard":
        script = script_of_grapheme(g)
        layout, _ = layout_for(lang, script, script == dominant_script(text))
        new = key_slip(g, layout, rng) if layout else None
    else:
        new = homoglyph_swap(g, rng) if has_homoglyph(g) else None
    if new is None or new == g:
        return None
    return "".join(gs[:i] + [new] + gs[i + 1:])


def candidates(texts: list[str], rng: random.Random, k: int, lang: str | None, keep_one: bool = False
               ) -> list[list[str]]:
    """Up to k distinct single-edit variants of `texts`, each changing one letter grapheme of one text."""
    positions = [(s, i) for s, t in enumerate(texts) for i, g in enumerate(graphemes(t)) if is_letter_grapheme(g)]
    out, seen = [], set()
    if not positions:
        return out
    for _ in range(k * _TRIES):
        if len(out) >= k:
            break
        s, i = rng.choice(positions)
        new = _edit(texts[s], i, rng.choice(EDIT_KINDS), rng, lang, keep_one)
        if new is None or (s, new) in seen:
            continue
        seen.add((s, new))
        out.append(texts[:s] + [new] + texts[s + 1:])
    return out


def _misspell(word: str, rng: random.Random, lang: str | None) -> str | None:
    letters = [i for i, g in enumerate(graphemes(word)) if is_letter_grapheme(g)]
    for _ in range(_TRIES):
        if not letters:
            return None
        new = _edit(word, rng.choice(letters), rng.choice(EDIT_KINDS), rng, lang, keep_one=True)
        if new is not None:
            return new
    return None


def _word_edit(text: str, kind: str, rng: random.Random, lang: str | None, lexicon: dict | None) -> str | None:
    """`text` with one word edit of `kind` at a random word, or None if the draw found no valid edit."""
    words, seps = segment_words(text)
    content = [j for j, w in enumerate(words) if has_content(w)]
    if not content:
        return None
    if kind == "translate":
        spans = translatable_spans(words, seps, lexicon) if lexicon else []
        spans = [sp for sp in spans if "".join(words[sp[0]:sp[1]]) != sp[2]]
        if not spans:
            return None
        switch(words, seps, *rng.choice(spans))
        return join_words(words, seps)
    i = rng.choice(content)
    if kind == "drop":
        if len(content) <= 1:
            return None  # a text never loses its last word
        drop_word(words, seps, i)
    elif kind == "duplicate":
        words.insert(i + 1, words[i])
        seps.insert(i + 1, "" if is_unspaced(words[i]) else " ")
    elif kind == "swap":
        later = [j for j in content if j > i]
        if not later or words[later[0]] == words[i]:
            return None
        j = later[0]
        words[i], words[j] = words[j], words[i]
    else:
        new = _misspell(words[i], rng, lang)
        if new is None:
            return None
        words[i] = new
    return join_words(words, seps)


def _token_edit(token: str, kind: str, rng: random.Random, lang: str | None, lexicon: dict | None) -> str | None:
    """A tagging token rewritten as one word: translated (single word only) or misspelled."""
    if kind == "translate":
        new = translate_word(token, lexicon) if lexicon else None
        return new if new and new != token and not any(ch.isspace() for ch in new) else None
    return _misspell(token, rng, lang)


def word_candidates(texts: list[str], rng: random.Random, k: int, lang: str | None, tagging: bool = False,
                    lexicon: dict | None = None) -> list[list[str]]:
    """Up to k distinct single-word-edit variants of `texts` (for tagging, `texts` are the tokens)."""
    slots = [s for s, t in enumerate(texts) if has_content(t)]
    kinds = [k_ for k_ in (TAGGING_WORD_KINDS if tagging else WORD_KINDS) if k_ != "translate" or lexicon]
    out, seen = [], set()
    if not slots:
        return out
    edit = _token_edit if tagging else _word_edit
    for _ in range(k * _TRIES):
        if len(out) >= k:
            break
        s = rng.choice(slots)
        new = edit(texts[s], rng.choice(kinds), rng, lang, lexicon)
        if new is None or new == texts[s] or (s, new) in seen:
            continue
        seen.add((s, new))
        out.append(texts[:s] + [new] + texts[s + 1:])
    return out


# ------------------------------------------------------------------------------ model scoring
class _Scorer:
    """Gold score and prediction for a list of rows, one forward batch per `batch_size` inputs."""

    def __init__(self, evaluator, model, head: str | None, task, forward=None):
        from ..model.batching import eval_batches
        from ..model.features import featurize
        from ..model.forward import Forward

        self.ev, self.model, self.head, self.task = evaluator, model, head, task
        self._batches, self._featurize = eval_batches, featurize
        self.forward = forward if forward is not None else Forward.plain(
            evaluator.bb.tokenizer.pad_token_id, evaluator.precision, evaluator.device)
        self.tok = evaluator.bb.tokenizer
        self.max_len = evaluator._max_len(task)

    @torch.no_grad()
    def __call__(self, rows: list[dict]) -> tuple[list[float], list]:
        from ..model.features import length
        from ..model.modeling import best_span, decode

        kind = self.task.head
        feats = self._featurize(self.task, rows, self.tok, self.max_len, train=kind == "extractive_qa")
        gold = [0.0] * len(feats)
        preds: list = [None] * len(feats)
        # Candidate texts are one-off: their trunk states stay in memory (a repeated query is computed once).
        prepared = self.forward.prepare(feats, persist=False)
        for idx in self._batches([length(f) for f in feats], self.ev.batch_size):
            batch = [feats[i] for i in idx]
            out = self.forward(self.model, self.forward.batch(prepared, idx), self.head)
            for b, (i, p) in enumerate(zip(idx, decode(self.task, out, batch))):
                preds[i] = p
                gold[i] = self._gold(out, b, feats[i])
        if kind == "extractive_qa":
            # Several windows per question: the best window's gold likelihood, SQuAD post-processing for answers.
            per_row = [-math.inf] * len(rows)
            for f, g in zip(feats, gold):
                if g is not None:
                    per_row[f["example"]] = max(per_row[f["example"]], g)
            # Candidates of one example share its id: key the answers by position instead.
            answers = best_span(feats, preds, [{**r, "id": j} for j, r in enumerate(rows)])
            return [g if g > -math.inf else 0.0 for g in per_row], [answers[j] for j in range(len(rows))]
        return gold, preds

    def _gold(self, out, b: int, feat: dict) -> float | None:
        kind = self.task.head
        if kind in ("classification", "multiple_choice"):
            return torch.log_softmax(out.logits[b].float(), -1)[feat["labels"]].item()
        if kind == "tagging":
            logp = torch.log_softmax(out.logits[b].float(), -1)
            labels = torch.tensor(feat["labels"])
            keep = labels != -100
            if not keep.any():
                return 0.0
            return logp[: len(labels)][keep].gather(-1, labels[keep].unsqueeze(-1)).mean().item()
        s, e = feat["start_positions"], feat["end_positions"]
        if s == 0 and e == 0:
            return None  # the answer is not inside this window
        n = len(feat["input_ids"])
        return (torch.log_softmax(out.start_logits[b, :n].float(), -1)[s]
                + torch.log_softmax(out.end_logits[b, :n].float(), -1)[e]).item()


def _correct(task, pred, row) -> int:
    """How much of the example is right: 1/0, or the number of correct tags."""
    from ..scoring.metrics import normalize_squad_answer

    if task.head in ("classification", "multiple_choice"):
        return int(pred == int(row["label"]))
    if task.head == "tagging":
        return sum(p == g for p, g in zip(pred, row["tags"]))
    return int(any(normalize_squad_answer(pred) == normalize_squad_answer(a) for a in row["answers"]["text"]))


# ------------------------------------------------------------------------------ the attack
def run_attack(evaluator, model, head: str | None, task, rows: list[dict], spec: str | NoiseSpec, *, seed: int,
               lang: str | None, candidates_per_step: int = CANDIDATES, forward=None) -> AttackResult:
    spec = parse_spec(spec)
    if spec.name != "adversarial":
        raise ConfigError(f"run_attack needs an adversarial setting, got '{spec}'", "use e.g. adversarial:budget=3")
    if task.head == "retrieval":
        _slots({}, "retrieval")
    if candidates_per_step < 1:
        raise ConfigError(f"candidates_per_step={candidates_per_step} must be at least 1", "use e.g. 16")
    budget, unit, search = int(spec.severity), spec.get("unit", "chars"), spec.get("search", "greedy")
    score = _Scorer(evaluator, model, head, task, forward)
    tagging = task.head == "tagging"
    lexicon = get_lexicon(lang) if unit == "words" else None

    def draw(texts, rng, k):
        if unit == "words":
            return word_candidates(texts, rng, k, lang, tagging, lexicon)
        return candidates(texts, rng, k, lang, keep_one=tagging)

    if search == "random":
        return _noted(_random_edits(task, rows, spec, score, draw, seed, budget, lang), unit, lexicon)
    out_rows, preds, clean_preds, edits, queries, attacked, flipped = [], [], [], [], [], [], []
    for row in rows:
        (g0,), (p0,) = score([row])
        c0 = _correct(task, p0, row)
        clean_preds.append(p0)
        cur_row, cur_g, cur_p, n_edits, n_q = row, g0, p0, 0, 1
        texts, rebuild = _slots(row, task.head)
        if c0 > 0:
            for step in range(budget):
                rng = stable_rng(seed, row["id"], f"attack:{step}", str(spec))
                cands = draw(texts, rng, candidates_per_step)
                if not cands:
                    break
                cand_rows = [rebuild(t) for t in cands]
                gs, ps = score(cand_rows)
                n_q += len(cands)
                best = min(range(len(cands)), key=lambda j: (gs[j], j))
                if gs[best] < cur_g:
                    texts, cur_row, cur_g, cur_p = cands[best], cand_rows[best], gs[best], ps[best]
                    n_edits += 1
                if _correct(task, cur_p, row) < c0:
                    break
        out_rows.append(cur_row)
        preds.append(cur_p)
        edits.append(n_edits)
        queries.append(n_q)
        attacked.append(c0 > 0)
        flipped.append(c0 > 0 and _correct(task, cur_p, row) < c0)
    return _noted(_result(task, rows, lang, out_rows, preds, clean_preds, edits, queries, attacked, flipped),
                  unit, lexicon)


def _noted(res: AttackResult, unit: str, lexicon: dict | None) -> AttackResult:
    """Word attacks say how big a lexicon they could translate with (0: none), since results depend on it."""
    if unit == "words":
        res.scores["lexicon_entries"] = float(len(lexicon or {}))
    return res


def _random_edits(task, rows, spec, score, draw, seed, budget, lang) -> AttackResult:
    """The control: `budget` random edits per example, placed without the model; rows are scored in batches
    (like any text noise), since no choice depends on a score."""
    if not rows:
        return _result(task, rows, lang, [], [], [], [], [], [], [])
    out_rows, edits = [], []
    for row in rows:
        texts, rebuild = _slots(row, task.head)
        n = 0
        for step in range(budget):
            cands = draw(texts, stable_rng(seed, row["id"], f"attack:{step}", str(spec)), 1)
            if cands:
                texts, n = cands[0], n + 1
        out_rows.append(rebuild(texts) if n else row)
        edits.append(n)
    clean_preds = [score([r])[1][0] for r in rows]  # one at a time, as the greedy search does: same clean numbers
    _, preds = score(out_rows)
    right = [_correct(task, p, r) for p, r in zip(clean_preds, rows)]
    attacked = [c > 0 for c in right]
    flipped = [c > 0 and _correct(task, p, r) < c for c, p, r in zip(right, preds, rows)]
    return _result(task, rows, lang, out_rows, list(preds), list(clean_preds), edits, [2] * len(rows), attacked,
                   flipped)


def _result(task, rows, lang, out_rows, preds, clean_preds, edits, queries, attacked, flipped) -> AttackResult:
    from ..scoring import metrics
    from ..model.inference import references

    if task.head == "extractive_qa":
        preds = {r["id"]: p for r, p in zip(rows, preds)}
        clean_preds = {r["id"]: p for r, p in zip(rows, clean_preds)}
    refs = references(task, rows)
    kw = {"lang": lang if task.metric == "mlqa" else None}
    scores = metrics.score_kind(task.metric, preds, refs, **kw)
    scores |= {f"clean_{k}": v for k, v in metrics.score_kind(task.metric, clean_preds, refs, **kw).items()}
    n_attacked = sum(attacked)
    scores["attack_success_rate"] = 100.0 * sum(flipped) / n_attacked if n_attacked else math.nan
    scores["queries_per_example"] = sum(queries) / len(rows) if rows else 0.0
    scores["edits_per_example"] = sum(edits) / len(rows) if rows else 0.0
    return AttackResult(out_rows, preds, refs, clean_preds, edits, queries, attacked, flipped, scores)


def attack(evaluator, model, head: str | None, task, rows: list[dict], spec: str | NoiseSpec, *, seed: int,
           lang: str | None, candidates_per_step: int = CANDIDATES, forward=None):
    """(predictions, references, scores) on the attacked inputs; the hook Evaluator.evaluate calls."""
    res = run_attack(evaluator, model, head, task, rows, spec, seed=seed, lang=lang,
                     candidates_per_step=candidates_per_step, forward=forward)
    return res.preds, res.refs, res.scores
