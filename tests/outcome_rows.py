"""Synthetic evaluation rows with per-example outcomes and known true accuracies, for the analysis and report tests:
every model of a (task, language) sees the same examples, and an example's outcome follows a latent difficulty
shared by all models half of the time, so comparisons are paired as real ones are."""
import numpy as np

from modxfer.scoring import outcomes as O

LANGS = ("de", "ru", "hi", "zh", "tr", "sw")
CHOICES = {"xnli": 3, "xcopa": 2}


def outcome_rows(acc: dict, *, task="xnli", langs=LANGS, n=120, seed=0, rates=None, competence=None) -> list[dict]:
    """Rows of ``task`` with outcomes: ``acc`` maps composition -> {noise: true accuracy}; an accuracy of None means
    the noise changed nothing (the clean outcomes again). ``rates`` maps noise or (noise, lang) to the realised
    rate (default 0.1)."""
    gen = np.random.default_rng(seed)
    rates, competence, rows = rates or {}, competence or {}, []
    for lang in langs:
        u = gen.random(n)
        ids = [f"{task}/{lang}:{i}" for i in range(n)]
        refs = gen.integers(0, CHOICES[task], n).tolist()
        for comp, by_noise in acc.items():
            clean = None
            for noise, p in by_noise.items():
                correct = clean if p is None else (np.where(gen.random(n) < 0.5, u, gen.random(n)) < p).astype(int)
                clean = correct if noise == "clean" else clean
                preds = [r if c else (r + 1) % CHOICES[task] for r, c in zip(refs, correct)]
                rec = O.collect(task, [{"id": i} for i in ids], preds, refs)
                rate = None if noise == "clean" else rates.get((noise, lang), rates.get(noise, 0.1))
                rows.append(dict(task=task, composition=comp, lang=lang, noise=noise, seed=0, metric="accuracy",
                                 score=O.rescore(rec), n=n, outcomes=rec, noise_rate=rate, noise_words_rate=rate,
                                 competence=competence.get(comp, "learned")))
    return rows


# Six intermediates for xnli; mnli shares xnli's data source (MNLI dev_matched feeds XNLI's English training set).
XNLI_SIMS = {("mnli", "xnli"): 0.95, ("anli", "xnli"): 0.8, ("snli", "xnli"): 0.7, ("qqp", "xnli"): 0.5,
             ("siqa", "xnli"): 0.3, ("cosmosqa", "xnli"): 0.2}
GAINS = {"mnli": 0.2, "anli": 0.08, "snli": 0.05, "qqp": 0.02, "siqa": 0.0, "cosmosqa": -0.02}


def xnli_rows(**kw):
    acc = {"xnli": {"clean": 0.55, "typo:0.1": 0.45}}
    acc.update({f"{i}>xnli": {"clean": 0.55 + g, "typo:0.1": 0.45 + g} for i, g in GAINS.items()})
    acc.update(kw.pop("extra", {}))
    return outcome_rows(acc, **kw)
