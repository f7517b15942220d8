"""Composition notation: how users write a model setup, parsed and printed back identically.

Training and evaluation turn it into ``adapters.composition`` blocks (``Stack``, ``Fuse``) over the artifacts' own
adapter names.

    xnli                     target adapter only (the baseline every gain is measured against)
    mnli>xnli                Stack(mnli, xnli): intermediate adapter frozen, target adapter trained on top
    mnli>qqp>xnli            a deeper stack
    fuse(mnli,qqp,siqa)>xnli AdapterFusion over intermediate adapters, then the target adapter
    full:mnli>xnli           STILTs: the whole encoder fine-tuned on mnli, then on xnli (no adapters)
    full:xnli                the whole encoder fine-tuned on xnli only

For a target without training data (Tatoeba retrieval) the target part names the task only: ``mnli>tatoeba`` means
"evaluate tatoeba with the mnli adapter active".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import ConfigError

KINDS = ("target", "stack", "fusion", "full")
_NAME = r"[a-z][a-z0-9_-]*"
_FUSE = re.compile(rf"^fuse\(\s*({_NAME}(?:\s*,\s*{_NAME})+)\s*\)$")
_SYNTAX = "write TARGET, INTER>TARGET, INTER>INTER>TARGET, fuse(A,B,...)>TARGET or full:[INTER>]TARGET"


@dataclass(frozen=True)
class Composition:
    target: str
    intermediates: tuple[str, ...] = ()
    kind: str = "target"

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ConfigError(f"unknown composition kind {self.kind!r}", f"use one of {', '.join(KINDS)}")
        if self.kind == "fusion" and len(self.intermediates) < 2:
            raise ConfigError("fusion needs at least two intermediate adapters", _SYNTAX)
        if self.kind == "full" and len(self.intermediates) > 1:
            raise ConfigError("full fine-tuning takes at most one intermediate task", "write full:INTER>TARGET")
        self._check_each_task_once()

    def _check_each_task_once(self) -> None:
        # Here rather than in `parse`, so that every constructor (train's --on, sweep expansion, cards) refuses it:
        # an adapter stacked on itself trains, but its artifact can never be published or reloaded.
        if self.target in self.intermediates:
            raise ConfigError(f"composition {self} uses {self.target!r} as an intermediate of itself: "
                              "it uses a task twice",
                              f"list each task once: compose {self.target} on other tasks (INTER>{self.target})")
        twice = sorted({t for t in self.intermediates if self.intermediates.count(t) > 1})
        if twice and self.kind == "fusion":
            raise ConfigError(f"composition {self} fuses the same adapter twice ({', '.join(twice)})",
                              "list each adapter once")
        if twice:
            raise ConfigError(f"composition {self} uses a task twice ({', '.join(twice)})", "list each task once")

    @classmethod
    def parse(cls, text: str | "Composition") -> "Composition":
        if isinstance(text, Composition):
            return text
        s = str(text).strip().lower().replace(" ", "")
        if not s:
            raise ConfigError("empty composition", _SYNTAX)
        full = s.startswith("full:")
        if full:
            s = s[len("full:"):]
        parts = s.split(">")
        if any(not p for p in parts):
            raise ConfigError(f"cannot parse composition {text!r}: empty part around '>'", _SYNTAX)
        target = parts[-1]
        if not re.fullmatch(_NAME, target):
            raise ConfigError(f"cannot parse composition {text!r}: bad target {target!r}", _SYNTAX)
        inters = parts[:-1]
        if len(inters) == 1 and (m := _FUSE.match(inters[0])):
            if full:
                raise ConfigError(f"cannot parse composition {text!r}: full fine-tuning has no fusion", _SYNTAX)
            return cls(target, tuple(n.strip() for n in m.group(1).split(",")), "fusion")
        for p in inters:
            if not re.fullmatch(_NAME, p):
                raise ConfigError(f"cannot parse composition {text!r}: bad part {p!r}", _SYNTAX)
        if full:
            return cls(target, tuple(inters), "full")
        return cls(target, tuple(inters), "stack" if inters else "target")

    def __str__(self) -> str:
        if self.kind == "fusion":
            return f"fuse({','.join(self.intermediates)})>{self.target}"
        body = ">".join((*self.intermediates, self.target))
        return f"full:{body}" if self.kind == "full" else body

    @property
    def slug(self) -> str:
        """A file-safe name for this composition."""
        return re.sub(r"[^a-z0-9]+", "_", str(self)).strip("_")

    def to_adapters(self, names: dict[str, str] | None = None, target: str | None = None):
        """The ``adapters.composition`` block to activate: intermediates renamed by ``names`` (task -> adapter
        name in the model), then the ``target`` adapter if given; ``None`` for full fine-tuning or a bare encoder."""
        from adapters.composition import Fuse, Stack

        if self.kind == "full":
            return None
        inter = [(names or {}).get(t, t) for t in self.intermediates]
        tail = [target] if target else []
        if self.kind == "fusion":
            return Stack(Fuse(*inter), *tail)
        seq = inter + tail
        return None if not seq else seq[0] if len(seq) == 1 else Stack(*seq)

    def validate(self) -> "Composition":
        """Check every task exists and plays its role: intermediates train in English, the target is a task."""
        from .tasks import get_task

        get_task(self.target)
        for name in self.intermediates:
            task = get_task(name)
            if "train" not in task.splits:
                raise ConfigError(f"{name!r} has no training data, so it cannot be an intermediate adapter",
                                  "use a task with English training data (see `modxfer tasks`)")
        return self
