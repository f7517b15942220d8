"""Recompute the similarity matrices stored in a results bundle (run.json), in place, with this modxfer's measures.

    python scripts/recompute_bundle_similarity.py BUNDLE [--data-dir DIR]

Needed once after a measure's definition changes (the corrected TextEmb is centred on a fixed reference set since
similarity cache version 3): `modxfer report BUNDLE` reads the stored matrices, not the backbone. Prints each
pair's old and new value per measure; results.parquet is not touched. See modxfer.sweeps.bundle_similarity.
"""

from __future__ import annotations

import argparse
import sys


def main(argv=None) -> int:
    from modxfer.errors import ModxferError
    from modxfer.sweeps.bundle_similarity import recompute_bundle_similarity

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bundle", help="a results bundle folder (results.parquet and run.json)")
    ap.add_argument("--data-dir", default=None, help="task data (default: the bundle's, else $MODXFER_DATA_DIR)")
    args = ap.parse_args(argv)
    try:
        changes = recompute_bundle_similarity(args.bundle, data_dir=args.data_dir)
    except ModxferError as e:
        print(f"error: {e.problem}\n  fix: {e.fix}", file=sys.stderr)
        return 2
    for measure, pairs in changes.items():
        print(measure)
        for pair, (old, new) in pairs.items():
            show = lambda v: "-" if v is None else f"{v:+.4f}"  # noqa: E731
            print(f"  {pair:<20} {show(old)} -> {show(new)}")
    print(f"rewrote {args.bundle}/run.json (similarity section and card digest)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
