"""How fast continuum normalisation is, on real MILES spectra, against a plain loop and specutils.

Three ways to divide each spectrum by a pseudo-continuum, timed (wall clock)
on the first ``--n`` MILES spectra (default 1000, i.e. all 984 read):

- ``normalise_continuum`` (``stellar_relevance.io.continuum``): the running
  90th percentile over 100 Angstrom, every spectrum at once (median of
  ``--repeats`` runs);
- the same rule written plainly (``np.percentile`` over each pixel's
  window, one spectrum and one pixel at a time), on ``--plain-n`` spectra
  and scaled to ``--n``; its largest relative difference from the fast one
  is reported (it must be at float32 precision);
- specutils' ``fit_generic_continuum`` (median smoothing and a Chebyshev fit
  per spectrum), on ``--specutils-n`` spectra (default all ``--n``) and
  scaled to ``--n``; the median absolute difference between its normalised
  flux and ours says how far the two rules are apart (they are different
  rules, not two implementations of one).

Prints a Markdown table and writes JSON (``--output``, default
``benchmarks/results/continuum.json``). ``--quick`` uses 50 spectra, 2 for
the plain loop and 10 for specutils.

Usage::

    python benchmarks/continuum.py [--quick] [--n 1000] [--miles DIR] [--output PATH]
"""

from __future__ import annotations

import argparse
import statistics
import warnings
from pathlib import Path

import numpy as np

from _common import SHARED_DATA, Timer, environment, markdown_table, write_json

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = REPO / "benchmarks" / "results" / "continuum.json"
WINDOW_AA = 100.0
PERCENTILE = 90.0


def plain_continuum(flux, wave):
    """The rule written plainly: per spectrum, per pixel, ``np.percentile`` of the finite flux in the window."""
    out = np.empty(flux.shape)
    for r in range(flux.shape[0]):
        for i in range(flux.shape[1]):
            inside = np.abs(wave - wave[i]) <= WINDOW_AA / 2
            values = flux[r, inside]
            out[r, i] = np.percentile(values[np.isfinite(values)], PERCENTILE)
    return out


def specutils_normalised(flux, wave):
    """Each spectrum divided by specutils' ``fit_generic_continuum`` model."""
    import astropy.units as u
    from specutils import Spectrum
    from specutils.fitting import fit_generic_continuum

    out = np.empty(flux.shape)
    axis = wave * u.AA
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the fitter's convergence notes
        for r in range(flux.shape[0]):
            model = fit_generic_continuum(Spectrum(flux=flux[r] * u.dimensionless_unscaled, spectral_axis=axis))
            out[r] = flux[r] / model(axis).value
    return out


def load_flux(folder):
    """All MILES spectra (flux and grid), or None after saying why."""
    from stellar_relevance import DataError, load_miles

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the library's known quirks, reported by read_miles
            return load_miles(folder or SHARED_DATA / "miles")
    except DataError as exc:
        print(f"skipping: MILES not available ({exc})")
        return None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="50 spectra; 2 for the plain loop, 10 for specutils")
    parser.add_argument("--n", type=int, default=None, help="spectra normalised (default 1000; 50 with --quick)")
    parser.add_argument("--plain-n", type=int, default=None, help="spectra for the plain loop (default 10; 2)")
    parser.add_argument("--specutils-n", type=int, default=None, help="spectra for specutils (default --n; 10)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--miles", type=Path, default=None, help="MILES folder (default ../shared/data/miles)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    n = args.n or (50 if args.quick else 1000)

    from stellar_relevance.io import normalise_continuum

    spectra = load_flux(args.miles)
    if spectra is None:
        write_json(args.output, {"skipped": "MILES not found", "environment": environment()})
        return 0
    flux = np.asarray(spectra.flux[:n], dtype=float)
    wave = spectra.wavelength.to_value("Angstrom")
    n = flux.shape[0]
    plain_n = min(n, args.plain_n or (2 if args.quick else 10))
    spec_n = min(n, args.specutils_n or (10 if args.quick else n))
    times = []
    for _ in range(max(1, args.repeats)):
        with Timer() as t:
            fast = normalise_continuum(flux, wave, window=WINDOW_AA, percentile=PERCENTILE)
        times.append(t.seconds)
    fast_s = statistics.median(times)
    with Timer() as t:
        plain = flux[:plain_n] / plain_continuum(flux[:plain_n], wave)
    plain_s = t.seconds * n / plain_n
    max_rel = float(np.max(np.abs(fast[:plain_n] - plain) / np.abs(plain)))
    with Timer() as t:
        theirs = specutils_normalised(flux[:spec_n], wave)
    specutils_s = t.seconds * n / spec_n
    blue = wave < 4500.0
    apart = np.abs(fast[:spec_n] - theirs)
    rows = [
        dict(method="normalise_continuum (running percentile)", spectra_timed=n, seconds=fast_s,
             ms_per_spectrum=1e3 * fast_s / n, speedup=1.0),
        dict(method="plain loop, np.percentile per pixel", spectra_timed=plain_n, seconds=plain_s,
             ms_per_spectrum=1e3 * plain_s / n, speedup=plain_s / fast_s),
        dict(method="specutils fit_generic_continuum", spectra_timed=spec_n, seconds=specutils_s,
             ms_per_spectrum=1e3 * specutils_s / n, speedup=specutils_s / fast_s),
    ]
    agreement = dict(plain_max_rel_diff=max_rel,
                     specutils_median_abs_diff=float(np.median(apart)),
                     specutils_median_abs_diff_blue=float(np.median(apart[:, blue])),
                     specutils_median_abs_diff_red=float(np.median(apart[:, ~blue])))
    print(f"{n} MILES spectra x {flux.shape[1]} pixels; running {PERCENTILE:g}th percentile over {WINDOW_AA:g} A "
          "(seconds scaled to all spectra; speedup = time / normalise_continuum's)")
    print(markdown_table(rows, [("method", "method"), ("spectra_timed", "spectra timed"),
                                ("seconds", f"seconds for {n}"), ("ms_per_spectrum", "ms / spectrum"),
                                ("speedup", "x normalise_continuum")], floatfmt=".3g"))
    print(f"\nplain loop vs fast: largest relative difference {max_rel:.2e}; specutils vs ours: median |difference| "
          f"of the normalised flux {agreement['specutils_median_abs_diff']:.3f} (blue of 4500 A "
          f"{agreement['specutils_median_abs_diff_blue']:.3f}, red {agreement['specutils_median_abs_diff_red']:.3f})")
    write_json(args.output, dict(n_spectra=n, n_pixels=int(flux.shape[1]), window_aa=WINDOW_AA,
                                 percentile=PERCENTILE, quick=bool(args.quick), repeats=args.repeats, rows=rows,
                                 agreement=agreement, environment=environment()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
