"""Script-aware, seeded text noise for robustness evaluation, and the metrics that summarise it.

Settings are spec strings (`typo:0.1`, `keyboard:0.05,layout=azerty`, `clean`); see spec.py for
the grammar, apply.py for which example fields each head type perturbs, robustness.py for the
metrics.
"""
from . import codeswitch, diacritics, homoglyph, keyboard, special, typo, whitespace, words  # noqa: F401 - registers
from .apply import HEAD_TYPES, applies_to_language, is_applicable, perturb_dataset, perturb_example, perturb_text
from .codeswitch import CodeSwitch, get_lexicon, load_lexicon, set_lexicon
from .keyboard import NoiseFallbackWarning
from .registry import PERTURBATIONS, Perturbation
from .robustness import (absolute_degradation, aggregate_by_group, attack_success_rate, degradation_auc,
    relative_degradation)
from .spec import NoiseSpec, build, describe, parse_spec, parse_specs

__all__ = [
    "applies_to_language", "parse_spec", "parse_specs", "NoiseSpec", "perturb_text", "perturb_example", "perturb_dataset",
    "PERTURBATIONS", "Perturbation", "describe", "build", "is_applicable", "HEAD_TYPES",
    "CodeSwitch", "set_lexicon", "get_lexicon", "load_lexicon", "NoiseFallbackWarning",
    "absolute_degradation", "relative_degradation", "degradation_auc", "attack_success_rate",
    "aggregate_by_group",
]
