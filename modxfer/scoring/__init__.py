"""How a task's predictions become numbers: the official metrics (``metrics``, and ``xtreme_metric`` as an
``evaluate`` module), per-example outcomes that let any resample be rescored exactly (``outcomes``), and competence,
whether a trained model cleared its floor on its own validation data (``competence``).

May import: ``modxfer.tasks``, ``modxfer.languages``, ``modxfer.io``, ``modxfer.errors``.
"""
