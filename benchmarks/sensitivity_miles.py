"""MILES: the library's ``forward_sensitivity`` of a rank-trained network against the Cannon, per representation.

One training fold (fold 0 of ``KFold(5, shuffle=True, random_state=0)``), the
network built as ``stelrel rank`` builds it (``race_miles.rank_estimator``),
stored and continuum-normalised flux; Spearman of ``|forward_sensitivity|``
given Teff and log g (and of the relevance) with the Cannon's
``|d flux / d[Fe/H]| / scatter`` fitted on the same rows and representation.

    python benchmarks/sensitivity_miles.py --pixel-step 8 --seeds 0
"""

import argparse

import numpy as np
from scipy.stats import spearmanr
from sklearn.base import clone
from sklearn.model_selection import KFold

import cannon as cannon_peer
import race_miles
from compare_miles import load


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pixel-step", type=int, default=1)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    args = parser.parse_args(argv)
    X, labels, wave = load(args.pixel_step)
    train = next(iter(KFold(5, shuffle=True, random_state=0).split(X)))[0]
    estimator, _ = race_miles.rank_estimator(quick=False)
    for rep, (Xr, source) in (("stored", (X, "stored")), ("running", race_miles.continuum(X, wave))):
        Xt, Lt = Xr[train], labels[train]
        reference = cannon_peer.rank_cannon(Xt, Lt, 2)[0].scores
        for seed in args.seeds:
            model = clone(estimator).set_params(random_state=seed, n_threads=1).fit(Xt, Lt[:, 2])
            sens, how = race_miles.sensitivity(Xt, model.predict(Xt), Lt[:, :2])
            print(f"{rep} ({source}), seed {seed}: Spearman with the Cannon: sensitivity ({how}) "
                  f"{spearmanr(sens, reference)[0]:.3f}, relevance {spearmanr(model.relevance_, reference)[0]:.3f}, "
                  f"epochs {model.n_epochs_}", flush=True)


if __name__ == "__main__":
    main()
