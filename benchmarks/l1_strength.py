"""Which ``penalty="l1"`` (or ``"group"``) strength zeroes pixels on an easy case and keeps the planted lines?

600 pixels (3880 .. 4420 A) of ``make_synthetic_spectra`` hold four planted
[Fe/H] lines (Ca II K, Ca II H, Fe I 4383, Fe I 4404) besides nuisance and
Teff / log g lines. For each ``eigenvalue_penalty`` (the proximal step's
strength, in Adam's metric: an input stays off while its mean data-loss
gradient is below it; stellar_relevance.nn.proximal) a SpectralRelevanceRegressor
is trained as ``stelrel rank`` trains (200-50-50, batch 128, early stopping
with patience 100 after ``min_epochs``) on 80 % of the stars, and the table
gives the support (pixels with a non-zero eigenvalue), the planted lines with
a support pixel within 2 A of their centre, the support pixels outside every
planted [Fe/H] line, the test MAE and the largest change of a test prediction
when every pixel outside the support is replaced by its training mean.

    python benchmarks/l1_strength.py --seeds 0 1 --strengths 0.001 0.002 0.003 0.005 0.01
    python benchmarks/l1_strength.py --penalty group --seeds 0 1 --strengths 0.003
"""

import argparse
import time

import numpy as np

from stellar_relevance import SpectralRelevanceRegressor, make_synthetic_spectra

WINDOW = (3880.0, 600)  # first wavelength [A], pixels


def case(seed, n_spectra=600):
    spectra = make_synthetic_spectra(n_spectra=n_spectra, random_state=seed)
    wave = np.asarray(spectra.wavelength.value)
    start = int(np.searchsorted(wave, WINDOW[0]))
    cols = slice(start, start + WINDOW[1])
    X, y = spectra.to_xy("FEH")
    lines = spectra.meta["planted_lines"]
    centres = np.asarray(lines["center"], float)[np.asarray(lines["sensitive_to"]) == "FEH"]
    w = wave[cols]
    centres = centres[(centres > w[0]) & (centres < w[-1])]
    return np.asarray(X, np.float32)[:, cols], np.asarray(y, float), w, centres


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--strengths", type=float, nargs="+", default=[0.01, 0.1, 0.3, 1.0, 3.0])
    parser.add_argument("--penalty", choices=("l1", "group"), default="l1")
    parser.add_argument("--max-epochs", type=int, default=1000)
    parser.add_argument("--min-epochs", type=int, default=300)
    args = parser.parse_args(argv)
    print("| seed | penalty | eigenvalue_penalty | support | support % | planted lines found | support pixels off the lines "
          "| test MAE | max change masked | epochs | s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for seed in args.seeds:
        X, y, wave, centres = case(seed)
        order = np.random.default_rng(seed).permutation(len(y))
        test, train = order[: len(y) // 5], order[len(y) // 5:]
        on_line = np.any(np.abs(wave[:, None] - centres[None, :]) <= 2.0, axis=1)
        for strength in args.strengths:
            t0 = time.perf_counter()
            model = SpectralRelevanceRegressor(
                (200, 50, 50), penalty=args.penalty, eigenvalue_penalty=strength, batch_size=128,
                max_epochs=args.max_epochs, min_epochs=args.min_epochs, early_stopping=True, n_iter_no_change=100,
                random_state=seed,
            ).fit(X[train], y[train])
            support = np.asarray(model.support_)
            found = sum(bool(np.any(support & (np.abs(wave - c) <= 2.0))) for c in centres)
            pred = model.predict(X[test])
            masked = np.where(support[None, :], X[test], np.asarray(model.feature_means_, np.float32)[None, :])
            change = float(np.max(np.abs(model.predict(masked) - pred)))
            print(f"| {seed} | {args.penalty} | {strength:g} | {support.sum()} | {100 * support.mean():.1f} | {found}/{len(centres)} "
                  f"| {int((support & ~on_line).sum())} | {np.mean(np.abs(pred - y[test])):.3f} | {change:.2g} "
                  f"| {model.n_epochs_ if hasattr(model, 'n_epochs_') else ''} | {time.perf_counter() - t0:.0f} |",
                  flush=True)


if __name__ == "__main__":
    main()
