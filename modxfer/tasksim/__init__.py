"""Task similarity measures behind :mod:`modxfer.similarity` (TextEmb, TaskEmb, CKA, lexical overlap, format).

Import from :mod:`modxfer.similarity`; these modules hold one measure each, plus the matrix type and the bootstrap
helpers they share.
"""
