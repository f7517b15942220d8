"""The ``modxfer`` command line: a thin layer over the public Python API (installed as ``modxfer_cli``)."""
