"""Which pixels of the MILES stellar library carry [Fe/H]? (the paper's Fig. 11)
=============================================================================

Needs the MILES spectra: set STELREL_MILES_DIR to the folder, pass --miles,
or `pip install --no-deps sdss-mangadap` (it ships them). Without them the
example says so and exits 0.

    python examples/rank_miles.py --out results-miles      # ~2 min on 1 CPU thread
    python examples/rank_miles.py --quick                  # seconds, for CI
"""

import argparse
import sys
import tempfile
import warnings

import torch

from stellar_relevance import DataError, load_miles, rank_spectra


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--miles", help="MILES folder (default: $STELREL_MILES_DIR or sdss-mangadap's copy)")
    parser.add_argument("--out", help="output folder (default: a temporary folder)")
    parser.add_argument("--quick", action="store_true", help="a few epochs only: checks the plumbing, not the science")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the reader's quirk warnings; `stelrel rank miles` shows them
            spectra = load_miles(args.miles)
    except DataError as exc:
        print(f"skipping: MILES not available ({exc})")
        return 0
    settings = dict(max_epochs=4, min_epochs=2, batch_size=256, ks=(30, "all"), retrain_ks=(),
                    n_random=1, n_permutations=100) if args.quick else {}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*masked pixels")
        result = rank_spectra(spectra, "FEH", random_state=0, **settings)

    m = result.metrics
    print(f"[Fe/H] test MAE {m['test_mae']:.3f} dex with all {spectra.n_pixels} pixels ({result.split_text})")
    if m.get("topk_mae") is not None:
        print(f"top-30 retrained: {m['topk_mae']:.3f} dex; random-30: {m['topk_mae_random']:.3f} dex")
    print(f"top-30 index enrichment: p = {m['overall_p_value']:.3g}")
    for claim in m["claims"]:
        print(f"  [{'holds' if claim['holds'] else 'does not hold'}] {claim['claim']}: {claim['observed']}")
    out = args.out or tempfile.mkdtemp(prefix="stelrel-miles-")
    written = result.save(out)
    print(f"report: {written['report.html']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
