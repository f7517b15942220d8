"""The frozen encoder and what runs it: backbone loading (``backbone``), the adapter host and model building
(``host``, ``modeling``), the cached frozen trunk (``trunk``), forward passes and batched inference (``forward``,
``inference``, ``batching``, ``features``), precision, heap trimming, lazily read embeddings, and whether stored
weights fit a backbone (``weights_fit``).

May import: ``modxfer.store`` and everything below it. Knows nothing of training loops, evaluation, noise or
statistics.
"""
