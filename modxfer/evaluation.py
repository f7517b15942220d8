"""Zero-shot evaluation of a composition across languages and noise settings.

An :class:`Evaluator` holds the backbone, the models of recently used compositions and the tokenized (and
perturbed) inputs, so a sweep over compositions x languages x noise tokenizes each input set once and reads the
backbone from disk once.
"""

from __future__ import annotations

import json
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence


from . import artifacts as art
from . import metrics
from . import precision as prec
from .composition import Composition
from .errors import ModxferError
from .features import featurize
from .inference import embed, predict, references, retrieval_predictions
from .io import atomic_write_text
from .modeling import backbone, fresh_model
from .tasks import Task, get_task
from .training import TrainSettings, TrainingPlan, load_adapter, load_full_encoder

log = logging.getLogger(__name__)


@dataclass
class EvalResult:
    """One row per (language, noise setting): the task's metrics in percent, with what produced them."""

    rows: list[dict] = field(default_factory=list)

    def to_pandas(self):
        import pandas as pd

        return pd.DataFrame([{k: v for k, v in r.items() if k != "metrics"} | r["metrics"] for r in self.rows])

    def average(self, noise: str = "clean") -> float | None:
        scores = [r["score"] for r in self.rows if r["noise"] == noise]
        return sum(scores) / len(scores) if scores else None

    def robustness(self) -> dict[str, list[dict]]:
        """Degradation from clean per language, degradation-curve areas and family/script averages
        (see :func:`modxfer.noise.robustness.summarize`)."""
        from .noise.robustness import summarize

        return summarize(self.rows)

    def table(self, title: str | None = None):
        """A rich table: languages down, noise settings across, the task's headline metric in cells."""
        from rich.table import Table

        noises = list(dict.fromkeys(r["noise"] for r in self.rows))
        langs = list(dict.fromkeys(r["lang"] for r in self.rows))
        cell = {(r["lang"], r["noise"]): r["score"] for r in self.rows}
        metric = self.rows[0]["metric"] if self.rows else ""
        t = Table(title=title or (f"{self.rows[0]['composition']} on {self.rows[0]['task']} ({metric})" if self.rows else ""))
        t.add_column("lang")
        for n in noises:
            t.add_column(n, justify="right")
        for lang in langs:
            t.add_row(lang, *(f"{cell[(lang, n)]:.1f}" if (lang, n) in cell else "-" for n in noises))
        t.add_row("[bold]avg[/bold]", *(f"[bold]{self.average(n):.1f}[/bold]" for n in noises))
        return t


class Evaluator:
    def __init__(self, base: str = "embedded", *, precision: str = "auto", store=None, data_dir=None,
                 batch_size: int = 64, max_length: int = 128, cache_models: int = 2):
        self.base = base
        self.bb = backbone(base)
        self.precision = prec.resolve(precision, prec.default_device())
        self.store, self.data_dir = store, data_dir
        self.batch_size, self.max_length = batch_size, max_length
        self.device = prec.default_device()
        self._features: dict[tuple, tuple[list[dict], list]] = {}
        self._models: OrderedDict[tuple, tuple] = OrderedDict()
        self._cache_models = cache_models
        self._keys: dict[tuple, str] = {}

    # ------------------------------------------------------------------ artifacts
    def artifacts_for(self, comp: Composition, settings: TrainSettings) -> list[art.Artifact]:
        """The trained pieces a composition needs, found in the store by key (never trained here)."""
        task = get_task(comp.target)
        pieces: list[Composition] = []
        if comp.kind == "full":
            pieces = [Composition(comp.intermediates[0], (), "full")] if comp.intermediates else []
            if task.head != "retrieval":
                pieces = [comp]
        else:
            pieces = [Composition(n) for n in comp.intermediates]
            if task.head != "retrieval":
                pieces.append(comp)
        found = []
        for piece in pieces:
            a = art.find(self.store, piece.target, self._key(piece, settings))
            if a is None:
                raise ModxferError(f"no trained artifact for {piece} with these settings (seed {settings.seed}, "
                                   f"{settings.examples} examples, {settings.epochs} epochs, config {settings.config})",
                                   f"train it first: modxfer train {_train_command(piece)} with the same options")
            a.check_backbone(self.bb.weights_hash, self.bb.hidden_size, self.bb.model_id)
            found.append(a)
        return found

    def _key(self, piece: Composition, settings: TrainSettings) -> str:
        # Computing a key reads and hashes the training data; a sweep asks for the same ones many times.
        cache_key = (str(piece), settings)
        if cache_key not in self._keys:
            self._keys[cache_key] = TrainingPlan(piece, settings, self.data_dir, self.store).key
        return self._keys[cache_key]

    def model_for(self, comp: Composition, pieces: list[art.Artifact]):
        """A model with the composition active, and the name of its head (None for retrieval)."""
        key = (str(comp), tuple(p.key for p in pieces))
        if key in self._models:
            self._models.move_to_end(key)
            return self._models[key]
        model = fresh_model(self.bb)
        head = None
        task = get_task(comp.target)
        target = pieces[-1] if pieces and pieces[-1].task == comp.target else None
        if comp.kind == "full":
            if pieces:
                load_full_encoder(model, pieces[-1])
        else:
            inter = [load_adapter(model, p) for p in pieces if p is not target]
            target_name = load_adapter(model, target) if target is not None else None
            if comp.kind == "fusion":
                model.load_adapter_fusion(str(target.path / "fusion"), load_as=",".join(inter), with_head=False,
                                          use_safetensors=True)
            setup = comp.to_adapters(dict(zip(comp.intermediates, inter)), target=target_name)
            if setup is not None:
                model.set_active_adapters(setup)
        if target is not None and task.head != "retrieval":
            head = target.adapter_name
            model.load_head(str(target.path / "head"), load_as=head, use_safetensors=True)
        model.to(self.device).eval()
        self._models[key] = (model, head)
        while len(self._models) > self._cache_models:
            self._models.popitem(last=False)
        return model, head

    # ------------------------------------------------------------------ data
    def inputs(self, task: Task, lang: str, noise, seed: int, examples: int | None):
        """Rows and features for (task, language, noise, seed): perturbed and tokenized once per Evaluator."""
        key = (task.name, lang, str(noise), seed, examples, self.max_length)
        if key not in self._features:
            rows = task.load("test", lang, data_dir=self.data_dir, limit=examples).to_list()
            if noise.name == "codeswitch":
                from .noise.lexicon import ensure_lexicon

                ensure_lexicon(lang, backbone=self.bb, data_dir=self.data_dir)
            elif noise.name == "adversarial" and noise.get("unit") == "words":
                self._word_attack_lexicon(lang)
            if noise.name not in ("clean", "adversarial"):  # the attack perturbs with the model in the loop
                from .noise import perturb_example

                rows = [perturb_example(r, task.head, noise, seed=seed, lang=lang) for r in rows]
            feats = None if task.head == "retrieval" else featurize(task, rows, self.bb.tokenizer, self._max_len(task))
            self._features[key] = (rows, feats)
        return self._features[key]

    def _word_attack_lexicon(self, lang: str) -> None:
        """Register `lang`'s lexicon so the word attack can translate; without one it only drops, moves and misspells."""
        import warnings

        from .noise.keyboard import NoiseFallbackWarning
        from .noise.lexicon import ensure_lexicon

        from .languages import get as language

        if language(lang).iso3 == "eng":
            return  # English is what the lexicons translate into
        try:
            ensure_lexicon(lang, backbone=self.bb, data_dir=self.data_dir)
        except ModxferError as e:
            warnings.warn(f"adversarial unit=words on '{lang}' runs without translation edits: {e.problem}",
                          NoiseFallbackWarning, stacklevel=3)

    def _max_len(self, task: Task) -> int:
        return 256 if task.head == "tagging" else self.max_length  # long sentences must not lose tagged words

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, composition, task: str | None = None, *, languages: str | Sequence[str] = "all",
                 noise: Iterable = ("clean",), seed: int = 0, examples: int | None = None, layer: int = -1,
                 out_dir: str | Path | None = None, progress: bool = True, train_examples: int | None = 2000,
                 **train_settings) -> EvalResult:
        """Score ``composition`` on ``task``'s test data in each language and noise setting.

        ``train_examples`` and ``train_settings`` (config, epochs, seed is shared, ...) identify the trained
        artifacts, exactly as they were passed to :func:`modxfer.train`.
        """
        from .noise import parse_specs

        comp = Composition.parse(composition)
        task_obj = get_task(task or comp.target)
        if task_obj.name != comp.target:
            raise ModxferError(f"composition {comp} targets {comp.target!r}, not {task_obj.name!r}",
                               f"evaluate {comp} on --task {comp.target}, or compose for {task_obj.name}")
        comp.validate()
        langs = self._languages(task_obj, languages)
        specs = parse_specs(noise) if isinstance(noise, str) else [parse_specs(str(n))[0] for n in noise]
        train_settings.setdefault("precision", self.precision)
        settings = TrainSettings(examples=train_examples, seed=seed, base=self.base, **train_settings)
        pieces = self.artifacts_for(comp, settings)
        model, head = self.model_for(comp, pieces)
        result = EvalResult()
        from tqdm.auto import tqdm

        grid = [(lang, spec) for spec in specs for lang in langs]
        for lang, spec in tqdm(grid, desc=f"eval {comp}", disable=not progress, leave=False):
            t0 = time.perf_counter()
            rows, feats = self.inputs(task_obj, lang, spec, seed, examples)
            if spec.name == "adversarial":
                from .noise.attack import attack

                preds, refs, scores = attack(self, model, head, task_obj, rows, spec, seed=seed, lang=lang)
            else:
                preds, refs, scores = self._score(task_obj, model, head, rows, feats, lang, layer)
            row = {"composition": str(comp), "task": task_obj.name, "lang": lang, "noise": str(spec), "seed": seed,
                   "metric": metrics.primary(task_obj.metric), "metrics": {k: round(v, 4) for k, v in scores.items()},
                   "n": len(rows), "artifacts": [p.key for p in pieces], "seconds": round(time.perf_counter() - t0, 3)}
            row["score"] = row["metrics"][row["metric"]]
            result.rows.append(row)
            if out_dir is not None:
                _save_predictions(Path(out_dir), comp, task_obj, lang, str(spec), rows, preds, refs)
        return result

    def _languages(self, task: Task, languages) -> list[str]:
        available = task.languages(self.data_dir)
        if languages in ("all", None):
            return list(available)
        langs = [l.strip() for l in languages.split(",")] if isinstance(languages, str) else list(languages)
        for lang in langs:
            task.check_language(lang, self.data_dir)
        return langs

    def _score(self, task, model, head, rows, feats, lang, layer):
        if task.head == "retrieval":
            tok = self.bb.tokenizer
            kw = dict(tokenizer=tok, layer=layer, precision=self.precision, batch_size=self.batch_size, device=self.device)
            src = embed(model, [r["source"] for r in rows], **kw)
            tgt = embed(model, [r["target"] for r in rows], **kw)
            gold = list(range(len(rows)))
            fwd = retrieval_predictions(src, tgt)
            back = retrieval_predictions(tgt, src)
            scores = metrics.score_kind("retrieval", fwd, gold)
            scores["accuracy_en_to_xx"] = metrics.score_kind("retrieval", back, gold)["accuracy"]
            return fwd, gold, scores
        preds = predict(model, task, rows, head, tokenizer=self.bb.tokenizer, precision=self.precision,
                        batch_size=self.batch_size, max_length=self._max_len(task), features=feats, device=self.device)
        refs = references(task, rows)
        return preds, refs, metrics.score_kind(task.metric, preds, refs, lang=lang if task.metric == "mlqa" else None)


def evaluate(composition, task: str | None = None, *, base: str = "embedded", precision: str = "auto", store=None,
             data_dir=None, batch_size: int = 64, **kw) -> EvalResult:
    """One-shot evaluation; see :meth:`Evaluator.evaluate`."""
    return Evaluator(base, precision=precision, store=store, data_dir=data_dir, batch_size=batch_size).evaluate(
        composition, task, **kw)


def _train_command(comp: Composition) -> str:
    parts = [comp.target] + [f"--on {n}" for n in comp.intermediates]
    if comp.kind == "fusion":
        parts.append("--fuse")
    if comp.kind == "full":
        parts.append("--full")
    return " ".join(parts)


def _save_predictions(out: Path, comp, task, lang, noise, rows, preds, refs) -> None:
    path = out / "predictions" / comp.slug / task.name / f"{lang}.{noise.replace(':', '-').replace(',', '_')}.jsonl"
    if isinstance(preds, dict):
        lines = [{"id": r["id"], "prediction": preds[r["id"]], "reference": refs[r["id"]]} for r in rows]
    else:
        lines = [{"id": r["id"], "prediction": _label(task, p), "reference": _label(task, g)}
                 for r, p, g in zip(rows, preds, refs)]
    atomic_write_text(path, "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines))


def _label(task: Task, value):
    if task.head == "classification" and isinstance(value, int):
        return task.labels[value]
    return value
