"""Noise spec strings: `typo:0.1`, `typo:rate=0.1`, `keyboard:0.05,layout=azerty`, `clean`.

The canonical form (str(spec)) names the primary parameter positionally and the others as
key=value in sorted order, omitting defaults; it is what seeds the per-example random streams,
so `typo:0.1` and `typo:rate=0.1` produce the same noisy text.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterable

from ..errors import ConfigError
from .registry import PERTURBATIONS, Param, Perturbation

_FLOAT_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,3})?", re.ASCII)
_INT_RE = re.compile(r"[+-]?[0-9]{1,18}", re.ASCII)
_EXAMPLE = "e.g. typo:0.1, typo:rate=0.1, keyboard:0.05,layout=azerty, clean"


@dataclass(frozen=True)
class NoiseSpec:
    name: str
    params: tuple[tuple[str, Any], ...] = ()

    def get(self, key: str, default: Any = None) -> Any:
        return dict(self.params).get(key, default)

    @property
    def severity(self) -> float | int | None:
        """The primary parameter (rate or budget); None for clean."""
        primary = PERTURBATIONS[self.name].primary
        return self.get(primary) if primary else None

    def __str__(self) -> str:
        cls = PERTURBATIONS[self.name]
        values = dict(self.params)
        items = []
        if cls.primary is not None:
            items.append(_format(values[cls.primary]))
        for key in sorted(values):
            if key != cls.primary and values[key] != cls.params[key].default:
                items.append(f"{key}={_format(values[key])}")
        return self.name + (":" + ",".join(items) if items else "")


def _format(value: Any) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def _valid_names() -> str:
    return ", ".join(sorted(PERTURBATIONS))


def _coerce(name: str, key: str, raw: str, param: Param, spec: str) -> Any:
    def bad() -> ConfigError:
        expect = param.expect or (f"one of {', '.join(param.choices)}" if param.choices else param.kind.__name__)
        return ConfigError(f"noise spec '{spec}': {name} {key}={raw!r} is not {expect}",
                           f"write it as {name}:{key}=<{expect}> ({_EXAMPLE})")
    # Python's int() and float() accept "0_1", " 1", "nan", "inf" and "١": a typo must not become another rate.
    if (param.kind is float and not _FLOAT_RE.fullmatch(raw)) or (param.kind is int and not _INT_RE.fullmatch(raw)):
        raise bad()
    try:
        value = param.kind(raw)
    except ValueError:
        raise bad() from None
    if param.kind is float and not math.isfinite(value):  # 1e400
        raise bad()
    if param.choices is not None and value not in param.choices:
        raise bad()
    if param.check is not None and not param.check(value):
        raise bad()
    return value


def parse_spec(text: str | NoiseSpec) -> NoiseSpec:
    if isinstance(text, NoiseSpec):
        return text
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"empty or non-text noise spec {text!r}", f"use one of {_valid_names()} ({_EXAMPLE})")
    spec = text.strip()
    name, _, rest = spec.partition(":")
    name = name.strip().lower()
    cls = PERTURBATIONS.get(name)
    if cls is None:
        raise ConfigError(f"unknown noise '{name}' in spec '{spec}'",
                          f"use one of: {_valid_names()} ({_EXAMPLE})")
    values: dict[str, Any] = {}
    items = [item.strip() for item in rest.split(",")] if rest.strip() else []
    for pos, item in enumerate(items):
        key, eq, raw = item.partition("=")
        if not eq:
            if pos != 0 or cls.primary is None:
                hint = f"{name} takes no parameters" if not cls.params else (
                    f"only the first value may omit its name; name it as key=value "
                    f"with key one of: {', '.join(cls.params)}")
                raise ConfigError(f"noise spec '{spec}': unexpected value '{item}'", hint)
            key, raw = cls.primary, item
        key, raw = key.strip(), raw.strip()
        if key not in cls.params:
            valid = ", ".join(cls.params) or "none"
            raise ConfigError(f"noise spec '{spec}': {name} has no parameter '{key}'",
                              f"valid parameters of {name}: {valid}")
        if key in values:
            raise ConfigError(f"noise spec '{spec}': {key} given twice", "give each parameter once")
        values[key] = _coerce(name, key, raw, cls.params[key], spec)
    for key, param in cls.params.items():
        if key not in values:
            if param.default is None and key == cls.primary:
                raise ConfigError(f"noise spec '{spec}': {name} needs its {key}",
                                  f"write e.g. {name}:{_example_value(param)} or {name}:{key}={_example_value(param)}")
            if param.default is not None:
                values[key] = param.default
    return NoiseSpec(name, tuple(sorted(values.items())))


def _example_value(param: Param) -> str:
    return "0.1" if param.kind is float else "3" if param.kind is int else (param.choices or ("value",))[0]


def parse_specs(text: str | Iterable[str | NoiseSpec]) -> list[NoiseSpec]:
    """A list of settings, e.g. "clean,typo:0.05,keyboard:0.1" (also ';'-separated or a list).

    A comma-separated piece of the form key=value continues the previous spec, so
    "clean,keyboard:0.1,layout=azerty" is two settings. Duplicates (same canonical form) are
    kept once, in first-seen order.
    """
    if isinstance(text, str):
        pieces: list[str] = []
        for part in text.replace(";", ",").split(","):
            part = part.strip()
            if not part:
                continue
            if "=" in part and ":" not in part and pieces:
                pieces[-1] += "," + part
            else:
                pieces.append(part)
        items: list[str | NoiseSpec] = pieces
    else:
        items = list(text)
    if not items:
        raise ConfigError("no noise settings given", f"list them comma-separated ({_EXAMPLE})")
    out: list[NoiseSpec] = []
    for item in items:
        spec = parse_spec(item)
        if spec not in out:
            out.append(spec)
    return out


@lru_cache(maxsize=256)
def build(spec: NoiseSpec) -> Perturbation:
    return PERTURBATIONS[spec.name](**dict(spec.params))


def describe(spec: str | NoiseSpec, lang: str | None = None) -> str:
    """What the setting does, including any fallback taken for `lang`."""
    spec = parse_spec(spec)
    return f"{spec}: {build(spec).describe(lang)}"


# Settings whose output depends on the text's language (keyboard: the layout). codeswitch checks its own through the
# lexicon it needs; the others ignore the language.
_READS_LANGUAGE = ("keyboard",)


def check_language(spec: str | NoiseSpec, lang: str | None) -> None:
    """Refuse a language code the language table does not know, for settings that read it, instead of silently
    falling back as for a language with no layout (a typo such as `xx` would otherwise pass unnoticed).

    Raises:
        UnknownLanguageError: ``lang`` is not a known code or name.
    """
    if lang is not None and parse_spec(spec).name in _READS_LANGUAGE:
        from ..languages import get

        get(lang)
