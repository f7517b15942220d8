"""Where trained models live and how they travel: the artifact store (``artifacts``: keys, save, load, checksums),
the cards that say how each was made (``cards``), the caches of regenerable parts (``cache``), per-file checksums
(``checksums``), provenance of the code that made something (``provenance``), and the adapter zoo with its hub
transport and publishing (``zoo``, ``hub``, ``publish``).

May import: ``modxfer.scoring``, ``modxfer.composition``, ``modxfer.tasks``, ``modxfer.languages``, ``modxfer.io``,
``modxfer.errors``. Never the model: what must load weights into a backbone is passed in (``zoo.install``'s
``backbone`` checks its own fit).
"""
