"""Task similarity and intermediate-task selection: measures (``measures``: TextEmb with its fixed reference set,
TaskEmb, CKA, lexical overlap, format; one module each beside the matrix type and the bootstrap helpers they share),
similarity for the (intermediate, target) pairs of a run (``pairs``), and selection scored against what was measured
(``selection``: NDCG/Regret@k, Poth et al. 2021).

``modxfer.similarity.compute`` and the other names of ``measures.__all__`` are importable from here.

May import: ``modxfer.analysis``, ``modxfer.stats``, ``modxfer.evaluation``, ``modxfer.training`` (TaskEmb and CKA
train and run adapters) and below. Reads no run folders: a run's rows and settings are handed in
(``modxfer.sweeps.runinfo``).
"""
from .measures import (CENTRED, EXAMPLES, MEASURES, TRAINING_FREE, ConfidenceInterval, MeasureSettings, SAME_SOURCE,
                       SimilarityMatrix, check_request, compute, compute_all, cosine, input_text, same_source,
                       similarity, similarity_matrix, task_embedding, task_texts)
from .measures import __all__  # noqa: F401


def __getattr__(name: str):  # the rest of the measures module, as `modxfer.similarity` offered it before
    from . import measures

    return getattr(measures, name)
