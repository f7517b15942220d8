"""Zero-shot evaluation of a composition across languages and noise settings.

An :class:`Evaluator` holds the backbone, the models of recently used compositions and the tokenized (and
perturbed) inputs, so a sweep over compositions x languages x noise tokenizes each input set once and reads the
backbone from disk once.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence


from ..store import artifacts as art
from ..scoring import metrics
from . import retrieval
from ..model import precision as prec
from ..composition import Composition
from ..errors import ConfigError, ModxferError
from ..model.features import featurize
from ..model.inference import embed, predict, references
from ..io import atomic_write_text, progress_interval
from ..model.forward import Forward
from ..model.host import Host, host_for
from ..model.modeling import backbone
from ..scoring.outcomes import collect as collect_outcomes
from ..tasks import Task, get_task, list_tasks
from ..training import TrainSettings, TrainingPlan, full_encoder

log = logging.getLogger(__name__)


@dataclass
class EvalResult:
    """One row per (language, noise setting): the task's metrics in percent, with what produced them."""

    rows: list[dict] = field(default_factory=list)

    def to_pandas(self):
        """One row per (language, noise setting) with its metrics as columns; the per-example outcomes are not in
        it (hundreds of values per cell): ``outcomes()`` gives them, one row per example."""
        import pandas as pd

        return pd.DataFrame([{k: v for k, v in r.items() if k not in ("metrics", "outcomes")} | r["metrics"]
                             for r in self.rows])

    def outcomes(self):
        """One row per (language, noise setting, example): what each example contributed to its cell's score
        (``modxfer.scoring.outcomes``: ``correct`` for accuracy, entity counts for seqeval, EM/F1 for QA)."""
        import pandas as pd

        from ..scoring.outcomes import FIELDS

        out = []
        for r in self.rows:
            o = r.get("outcomes")
            if not isinstance(o, dict):
                continue
            fields = FIELDS[o["metric"]]
            for i, example in enumerate(o["ids"]):
                out.append({"composition": r.get("composition"), "task": r.get("task"), "lang": r["lang"],
                            "noise": r["noise"], "seed": r.get("seed"), "id": example,
                            **{f: o[f][i] for f in fields}})
        return pd.DataFrame(out)

    def average(self, noise: str = "clean") -> float | None:
        scores = [r["score"] for r in self.rows if r["noise"] == noise]
        return sum(scores) / len(scores) if scores else None

    def robustness(self) -> dict[str, list[dict]]:
        """Degradation from clean per language, degradation-curve areas and family/script averages
        (see :func:`modxfer.noise.robustness.summarize`)."""
        from ..noise.robustness import summarize

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
        self._features: OrderedDict[tuple, tuple[list[dict], list]] = OrderedDict()
        self._cache_inputs = 64  # input sets kept tokenized (a sweep revisits each for every composition)
        self._full: tuple[tuple, object] | None = None  # the one fine-tuned encoder kept loaded
        self._keys: dict[tuple, str] = {}
        self._forwards: dict[int, Forward] = {}
        self._pools: dict[tuple, dict] = {}

    @property
    def host(self) -> Host:
        return host_for(self.bb, self.device)

    def forward_for(self, layers: int) -> Forward:
        if layers not in self._forwards:
            self._forwards[layers] = Forward(self.bb, layers, self.precision, self.device)
        return self._forwards[layers]

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
                a = self._in_another_precision(piece, settings)
            if a is None:
                # the budget that piece trains with
                own = settings.for_role(get_task(piece.target).role, piece.kind, piece.target)
                frozen = piece.kind == "full" and settings.freeze_embeddings
                raise ModxferError(f"no trained artifact for {piece} with these settings (seed {settings.seed}, "
                                   f"{own.examples} examples, {own.epochs} epochs, config {settings.config}"
                                   + (", word embeddings frozen" if frozen else "") + ")",
                                   f"train it first: modxfer train {_train_command(piece)} --examples {own.examples} "
                                   f"--epochs {own.epochs:g}" + (" --freeze-embeddings" if frozen else "")
                                   + " with the same other options"
                                   + ("; or, if it was trained with --freeze-embeddings, pass that flag here too"
                                      if piece.kind == "full" and not frozen else ""))
            a.check_backbone(self.bb.weights_hash, self.bb.hidden_size, self.bb.model_id)
            found.append(a)
        return found

    def _in_another_precision(self, piece: Composition, settings: TrainSettings) -> art.Artifact | None:
        """The same training request made in another precision: a zoo entry or an artifact trained on another machine
        (``--precision auto`` picks fp32 on one CPU, bf16 on another) is the same model, evaluated here in this
        precision. The precision it was trained in stays on its card; the rows say the one it was evaluated in."""
        for other in prec.TRAINED:
            if other == settings.precision:
                continue
            a = art.find(self.store, piece.target, self._key(piece, dataclasses.replace(settings, precision=other)))
            if a is not None:
                log.warning("%s: found it trained in %s; evaluating it in %s", piece, other, self.precision)
                return a
        return None

    def _key(self, piece: Composition, settings: TrainSettings) -> str:
        # Computing a key reads and hashes the training data; a sweep asks for the same ones many times.
        cache_key = (str(piece), settings)
        if cache_key not in self._keys:
            self._keys[cache_key] = TrainingPlan(piece, settings, self.data_dir, self.store).key
        return self._keys[cache_key]

    def model_for(self, comp: Composition, pieces: list[art.Artifact]):
        """The model with the composition active (the shared host, or a fine-tuned encoder of its own) and the name
        of its head (None for retrieval)."""
        task = get_task(comp.target)
        target = pieces[-1] if pieces and pieces[-1].task == comp.target else None
        head = target.adapter_name if target is not None and task.head != "retrieval" else None
        if comp.kind == "full":
            key = tuple(p.key for p in pieces)
            if self._full is None or self._full[0] != key:
                self._full = None
                self.host.release()  # two encoders never sit in memory together
                model = full_encoder(self.bb, pieces[-1] if pieces else None, lazy=True, device=self.device)
                if head is not None:
                    with Host.damaged(target, "head", lambda: None):  # the model is dropped on failure
                        model.load_head(str(target.path / "head"), load_as=head, use_safetensors=True)
                    model.active_head = head
                self._full = (key, model.to(self.device).eval())
            return self._full[1], head
        self._full = None
        host = self.host
        inter = [host.load_adapter(p) for p in pieces if p is not target]
        target_name = host.load_adapter(target) if target is not None else None
        if comp.kind == "fusion":
            host.load_fusion(target, inter)
        if head is not None:
            host.load_head(target)
        setup = comp.to_adapters(dict(zip(comp.intermediates, inter)), target=target_name)
        host.activate(setup, head)
        return host, head

    def release_full(self) -> None:
        """Free the fine-tuned encoder kept for the last full composition evaluated."""
        if self._full is not None:
            self._full = None
            import gc

            gc.collect()

    @staticmethod
    def trunk_layers(pieces: list[art.Artifact]) -> int:
        """K of the pieces' trunk (cards before the trunk existed: 0); pieces of one composition always agree."""
        ks = {int(p.card.get("trunk_layers", 0)) for p in pieces if p.kind != "full"}
        if len(ks) > 1:
            raise ModxferError(f"the pieces of this composition were trained above different trunks ({sorted(ks)})",
                               "train them with the same --trunk-layers")
        return ks.pop() if ks else 0

    # ------------------------------------------------------------------ data
    def inputs(self, task: Task, lang: str, noise, seed: int, examples: int | None):
        """Rows and features for (task, language, noise, seed): perturbed and tokenized once per Evaluator."""
        key = (task.name, lang, str(noise), seed, examples, self.max_length)
        if key not in self._features:
            rows = task.load("test", lang, data_dir=self.data_dir, limit=examples).to_list()
            if noise.name == "codeswitch":
                from ..noise.lexicon import ensure_lexicon

                ensure_lexicon(lang, backbone=self.bb, data_dir=self.data_dir)
            elif noise.name == "adversarial" and noise.get("unit") == "words":
                self._word_attack_lexicon(lang)
            if noise.name not in ("clean", "adversarial"):  # the attack perturbs with the model in the loop
                from ..noise import perturb_example

                rows = [perturb_example(r, task.head, noise, seed=seed, lang=lang) for r in rows]
            feats = None if task.head == "retrieval" else featurize(task, rows, self.bb.tokenizer, self._max_len(task))
            self._features[key] = (rows, feats)
            while len(self._features) > self._cache_inputs:
                self._features.popitem(last=False)
        self._features.move_to_end(key)
        return self._features[key]

    def _word_attack_lexicon(self, lang: str) -> None:
        """Register `lang`'s lexicon so the word attack can translate; without one it only drops, moves and misspells."""
        import warnings

        from ..noise.keyboard import NoiseFallbackWarning
        from ..noise.lexicon import ensure_lexicon

        from ..languages import get as language

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
        from ..noise import parse_specs

        comp = Composition.parse(composition)
        task_obj = get_task(task or comp.target)
        if task_obj.name != comp.target:
            raise ModxferError(f"composition {comp} targets {comp.target!r}, not {task_obj.name!r}",
                               f"evaluate {comp} on --task {comp.target}, or compose for {task_obj.name}")
        _check_evaluable(task_obj)
        comp.validate()
        self._check_layer(layer)
        langs = self._languages(task_obj, languages)
        specs = parse_specs(noise) if isinstance(noise, str) else [parse_specs(str(n))[0] for n in noise]
        train_settings.setdefault("precision", self.precision)
        settings = TrainSettings(examples=train_examples, seed=seed, base=self.base, **train_settings)
        pieces = self.artifacts_for(comp, settings)
        model, head = self.model_for(comp, pieces)
        forward = self.forward_for(0 if comp.kind == "full" else self.trunk_layers(pieces))
        # Candidate pools (LAReQA, Mewsli-X) are encoded once per model, across languages and noise settings.
        pool_key = (str(comp), tuple(p.key for p in pieces), layer)
        if pool_key not in self._pools:
            self._pools.clear()  # a pool can be large (Mewsli-X: ~1M entities): keep one model's
        pool = self._pools.setdefault(pool_key, {})
        result = EvalResult()
        from tqdm.auto import tqdm

        grid = [(lang, spec) for spec in specs for lang in langs]
        for lang, spec in tqdm(grid, desc=f"eval {comp}", disable=not progress, leave=False,
                               mininterval=progress_interval()):
            t0 = time.perf_counter()
            rows, feats = self.inputs(task_obj, lang, spec, seed, examples)
            if spec.name == "adversarial":
                from ..noise.attack import attack

                preds, refs, scores = attack(self, model, head, task_obj, rows, spec, seed=seed, lang=lang,
                                             forward=forward)
            else:
                preds, refs, scores = self._score(task_obj, model, head, rows, feats, lang, layer, forward, pool)
            row = {"composition": str(comp), "task": task_obj.name, "lang": lang, "noise": str(spec), "seed": seed,
                   "metric": metrics.primary(task_obj.metric), "metrics": {k: round(v, 4) for k, v in scores.items()},
                   "n": len(rows), "artifacts": [p.key for p in pieces], "seconds": round(time.perf_counter() - t0, 3)}
            row["score"] = row["metrics"][row["metric"]]
            row["outcomes"] = collect_outcomes(task_obj, rows, preds, refs, lang)
            row.update(self.noise_rates(task_obj, lang, spec, seed, examples, rows))
            row["trunk_layers"], row["precision"] = forward.layers, self.precision
            result.rows.append(row)
            if out_dir is not None:
                _save_predictions(Path(out_dir), comp, task_obj, lang, str(spec), rows, preds, refs)
        return result

    def _check_layer(self, layer) -> None:
        # hidden_states holds the embeddings and then every layer: L + 1 entries, indexed from either end.
        depth = self.bb.num_layers
        if isinstance(layer, bool) or not isinstance(layer, int) or not -depth - 1 <= layer <= depth:
            raise ConfigError(f"layer {layer!r} does not exist in this {depth}-layer encoder ({self.bb.name})",
                              f"pass --layer between 0 (the embeddings) and {depth}, or a negative index down to "
                              f"{-depth - 1} (-1: the last layer)")

    def _languages(self, task: Task, languages) -> list[str]:
        available = task.languages(self.data_dir)
        if languages in ("all", None):
            return list(available)
        langs = [l.strip() for l in languages.split(",")] if isinstance(languages, str) else list(languages)
        for lang in langs:
            task.check_language(lang, self.data_dir)
        return langs

    def noise_rates(self, task: Task, lang: str, spec, seed: int, examples: int | None, rows: list[dict]) -> dict:
        """Share of characters and of words the noise actually changed (None for clean text and the attack)."""
        if spec.name in ("clean", "adversarial"):
            return {"noise_rate": None, "noise_words_rate": None}
        from ..noise.spec import parse_specs

        clean, _ = self.inputs(task, lang, parse_specs("clean")[0], seed, examples)
        return {"noise_rate": _changed(clean, rows, "chars"), "noise_words_rate": _changed(clean, rows, "words")}

    def _score(self, task, model, head, rows, feats, lang, layer, forward, pool: dict | None = None):
        if task.head == "retrieval":
            def encode(texts):
                return embed(model, texts, tokenizer=self.bb.tokenizer, layer=layer, precision=self.precision,
                             batch_size=self.batch_size, device=self.device)

            return retrieval.score(task, rows, encode, lang, cache=pool,
                                   **retrieval.support(task, lang, self.data_dir))
        preds = predict(model, task, rows, head, tokenizer=self.bb.tokenizer, precision=self.precision,
                        batch_size=self.batch_size, max_length=self._max_len(task), features=feats, device=self.device,
                        forward=forward)
        refs = references(task, rows)
        return preds, refs, metrics.score_kind(task.metric, preds, refs, lang=lang if task.metric == "mlqa" else None)


def evaluate(composition, task: str | None = None, *, base: str = "embedded", precision: str = "auto", store=None,
             data_dir=None, batch_size: int = 64, **kw) -> EvalResult:
    """One-shot evaluation; see :meth:`Evaluator.evaluate`."""
    _check_evaluable(get_task(task or Composition.parse(composition).target))  # before the backbone loads
    return Evaluator(base, precision=precision, store=store, data_dir=data_dir, batch_size=batch_size).evaluate(
        composition, task, **kw)


def _check_evaluable(task: Task) -> None:
    """Intermediate-only tasks (English training data, no test split) are trained on, never evaluated."""
    if "test" in task.splits:
        return
    targets = [t.name for t in list_tasks("target") if t.head == task.head and "train" in t.splits] or ["xnli"]
    example = targets[0]
    raise ConfigError(f"{task.name!r} is an intermediate task: it has no test data to evaluate on",
                      f"evaluate a target task composed on it, e.g. `modxfer evaluate {task.name}>{example}` after "
                      f"`modxfer train {example} --on {task.name}` (target tasks: see `modxfer tasks`)")


def _train_command(comp: Composition) -> str:
    parts = [comp.target] + [f"--on {n}" for n in comp.intermediates]
    if comp.kind == "fusion":
        parts.append("--fuse")
    if comp.kind == "full":
        parts.append("--full")
    return " ".join(parts)


def _save_predictions(out: Path, comp, task, lang, noise, rows, preds, refs) -> None:
    path = out / "predictions" / comp.slug / task.name / f"{_slug(lang)}.{_slug(noise)}.jsonl"
    if isinstance(preds, dict):
        lines = [{"id": r["id"], "prediction": preds[r["id"]], "reference": refs[r["id"]]} for r in rows]
    else:
        lines = [{"id": r["id"], "prediction": _label(task, p), "reference": _label(task, g)}
                 for r, p, g in zip(rows, preds, refs)]
    atomic_write_text(path, "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines))


def _slug(text: str) -> str:
    """A file-name-safe spelling of a language code or noise spec (specs may hold paths: lexicon=../x)."""
    import hashlib
    import re

    safe = re.sub(r"[^A-Za-z0-9_=+-]+", "-", text.replace(":", "-").replace(",", "_")).strip("-.")[:60]
    if safe != text.replace(":", "-").replace(",", "_"):
        safe += "-" + hashlib.sha256(text.encode()).hexdigest()[:8]  # distinct specs never share a file
    return safe or "x"


def _texts(row: dict) -> list[str]:
    """The text a row's noise can touch: its string fields and lists of strings (never ids, labels or tags)."""
    out = []
    for k, v in row.items():
        if k in ("id", "tags", "label", "answers"):
            continue
        if isinstance(v, str):
            out.append(v)
        elif isinstance(v, list) and all(isinstance(x, str) for x in v):
            out.append(" ".join(v) if k == "tokens" else "\n".join(v))
    return out


def _changed(clean: list[dict], noisy: list[dict], unit: str) -> float | None:
    """1 - matched / max(len) over all texts, in characters or words (``noise.rate``: linear in a line's length)."""
    from ..noise.rate import changed

    return changed(((a, b) for a_row, b_row in zip(clean, noisy) for a, b in zip(_texts(a_row), _texts(b_row))), unit)


def _label(task: Task, value):
    if task.head == "classification" and isinstance(value, int):
        return task.labels[value]
    return value
