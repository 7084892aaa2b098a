"""The Cannon (Ness et al. 2015) as a peer ranker and label predictor, for ``benchmarks/compare_miles.py``.

The Cannon models the flux of every pixel as a quadratic polynomial of the
labels (here Teff, log g, [Fe/H]: 1 + 3 linear + 6 quadratic terms), fitted
star by star over a training set, plus a per-pixel intrinsic scatter ``s``.

Two back-ends:

``"thecannon"``
    The ``TheCannon`` package (Ho et al. 2017; ``pip install thecannon``
    installs it, version 0.7.3, and it runs with numpy 2.4): its
    ``CannonModel(order=2)`` fit (weighted least squares per pixel with the
    scatter chosen on a grid by likelihood) and its label inference
    (``scipy.optimize.curve_fit`` per star). Labels are pivoted by their
    median and scaled by a quarter of the 2.5-97.5 percentile range, as the
    package does. MILES has no flux errors: every pixel gets the same inverse
    variance (``ivar``, 1e4, i.e. sigma = 0.01 in the units of the flux,
    whose mean is about 0.9), so the fit is an ordinary least-squares fit
    and the scatter absorbs the rest.
``"lstsq"``
    The same quadratic-in-labels model fitted here by ordinary least squares
    for all pixels at once (numpy), the scatter being the RMS residual per
    pixel, and labels inferred by ``scipy.optimize.least_squares`` per star
    (chi2 with that scatter), started at the pivot. Used when the package
    is missing and by the tests and ``--quick`` runs (it takes milliseconds
    instead of ~30 s per fit).

Ranking (``sensitivity``): ``|d flux / d [Fe/H]|`` at the reference labels
(the training medians: the pivot, where the derivative is the linear
[Fe/H] coefficient) divided by the pixel's scatter ``s`` - the Cannon's
sensitivity spectrum in units of the pixel's noise floor.

Continuum normalisation (``continuum_normalise``): each spectrum divided by
its running 90th percentile over a window of ``window`` pixels (default 101,
about 90 A on the MILES 0.9 A grid; ``scipy.ndimage.percentile_filter``,
edges reflected). A high percentile instead of the median because the
median of a window full of absorption lines sits below the continuum.
"""

from __future__ import annotations

import importlib.util
import io
import time
from contextlib import redirect_stdout

import numpy as np

__all__ = ["QuadraticCannon", "continuum_normalise", "rank_cannon", "cannon_available"]



def _thecannon():
    """TheCannon's ``dataset`` and ``model`` modules, imported without keeping their global matplotlib change.

    Both modules run ``rc('text', usetex=True)`` at import, which makes every
    later figure of the process need a LaTeX installation; the settings are
    restored right after the import.
    """
    import matplotlib

    saved = dict(matplotlib.rcParams)
    try:
        from TheCannon import dataset, model
    finally:
        changed = {k: v for k, v in saved.items() if matplotlib.rcParams.get(k) != v}
        if changed:
            matplotlib.rcParams.update(changed)
    return dataset, model

def cannon_available():
    """True when the ``TheCannon`` package (``pip install thecannon``) imports."""
    return importlib.util.find_spec("TheCannon") is not None


def continuum_normalise(X, window=101, percentile=90):
    """Divide each row of X by its running ``percentile`` over ``window`` pixels (a pseudo-continuum)."""
    from scipy.ndimage import percentile_filter

    X = np.asarray(X, dtype=np.float64)
    if window < 3 or window % 2 == 0:
        raise ValueError(f"window must be an odd number of pixels >= 3, got {window}")
    continuum = percentile_filter(X, percentile, size=(1, window), mode="reflect")
    continuum = np.where(continuum > 0, continuum, np.nan)
    out = X / continuum
    return np.where(np.isfinite(out), out, 1.0)


def _pivots_and_scales(labels):
    q = np.percentile(labels, (2.5, 50, 97.5), axis=0)
    scales = (q[2] - q[0]) / 4.0
    return q[1], np.where(scales > 0, scales, 1.0)


def _label_vector(scaled):
    """[1, l_i, l_i l_j (i <= j)] per row: TheCannon's order (np.triu_indices)."""
    scaled = np.atleast_2d(scaled)
    n_labels = scaled.shape[1]
    iu = np.triu_indices(n_labels)
    quad = (scaled[:, :, None] * scaled[:, None, :])[:, iu[0], iu[1]]
    return np.hstack([np.ones((len(scaled), 1)), scaled, quad])


class QuadraticCannon:
    """A quadratic-in-labels Cannon model; fit / predict / sensitivity.

    Parameters
    ----------
    backend : {"thecannon", "lstsq"}
        See the module docstring.
    ivar : float
        Inverse variance given to every pixel with the ``thecannon`` back-end.

    Attributes
    ----------
    coeffs_ : ndarray (n_pixels, 1 + n_labels + n_labels (n_labels + 1) / 2)
    scatters_ : ndarray (n_pixels,)
    pivots_, scales_ : ndarray (n_labels,)
    """

    def __init__(self, backend="lstsq", ivar=1e4):
        if backend not in ("thecannon", "lstsq"):
            raise ValueError(f"backend must be 'thecannon' or 'lstsq', got {backend!r}")
        self.backend = backend
        self.ivar = ivar

    def fit(self, X, labels):
        X = np.asarray(X, dtype=np.float64)
        labels = np.asarray(labels, dtype=np.float64)
        if labels.ndim != 2 or len(labels) != len(X):
            raise ValueError(f"labels must be (n_stars, n_labels) with {len(X)} rows, got {labels.shape}")
        if not np.all(np.isfinite(labels)):
            raise ValueError("labels contain NaN or inf")
        self.n_labels_ = labels.shape[1]
        if self.backend == "thecannon":
            dataset, model = _thecannon()

            ids = np.arange(len(X)).astype(str)
            ivar = np.full(X.shape, float(self.ivar))
            with redirect_stdout(io.StringIO()):  # the package prints progress
                ds = dataset.Dataset(np.arange(X.shape[1], dtype=float), ids, X, ivar, labels,
                                     ids[:1], X[:1], ivar[:1])
                ds.set_label_names([f"l{i}" for i in range(self.n_labels_)])
                cm = model.CannonModel(2, useErrors=False)
                cm.fit(ds)
            self.coeffs_ = np.asarray(cm.coeffs, dtype=np.float64)
            self.scatters_ = np.asarray(cm.scatters, dtype=np.float64)
            self.pivots_, self.scales_ = np.asarray(cm.pivots, float), np.asarray(cm.scales, float)
        else:
            self.pivots_, self.scales_ = _pivots_and_scales(labels)
            A = _label_vector((labels - self.pivots_) / self.scales_)
            coeffs, *_ = np.linalg.lstsq(A, X, rcond=None)
            self.coeffs_ = coeffs.T
            resid = X - A @ coeffs
            self.scatters_ = np.sqrt(np.mean(resid**2, axis=0))
        return self

    def model_flux(self, labels):
        """Model spectra at ``labels`` (n, n_labels)."""
        A = _label_vector((np.asarray(labels, float) - self.pivots_) / self.scales_)
        return A @ self.coeffs_.T

    def sensitivity(self, label_index, reference=None):
        """|d flux / d label| at ``reference`` (default: the pivot) divided by the scatter."""
        ref = self.pivots_ if reference is None else np.asarray(reference, float)
        eps = 1e-3 * self.scales_[label_index]
        lo, hi = ref.copy(), ref.copy()
        lo[label_index] -= eps
        hi[label_index] += eps
        deriv = (self.model_flux(hi[None]) - self.model_flux(lo[None]))[0] / (2 * eps)
        floor = np.maximum(self.scatters_, 1e-12)
        return np.abs(deriv) / floor

    def predict(self, X):
        """Labels of each spectrum in X (n, n_labels), chi2 fit with the per-pixel scatter."""
        X = np.asarray(X, dtype=np.float64)
        if self.backend == "thecannon":
            dataset, model = _thecannon()

            ids = np.arange(len(X)).astype(str)
            ivar = np.full(X.shape, float(self.ivar))
            cm = model.CannonModel(2, useErrors=False)
            cm.coeffs, cm.scatters, cm.pivots, cm.scales = self.coeffs_, self.scatters_, self.pivots_, self.scales_
            with redirect_stdout(io.StringIO()):
                ds = dataset.Dataset(np.arange(X.shape[1], dtype=float), ids[:1], X[:1], ivar[:1],
                                     np.zeros((1, self.n_labels_)), ids, X.copy(), ivar)
                ds.set_label_names([f"l{i}" for i in range(self.n_labels_)])
                cm.infer_labels(ds)
            return np.asarray(ds.test_label_vals, dtype=np.float64)
        from scipy.optimize import least_squares

        weight = 1.0 / np.maximum(self.scatters_, 1e-12)
        out = np.empty((len(X), self.n_labels_))
        for i, flux in enumerate(X):
            def resid(scaled):
                return (_label_vector(scaled[None])[0] @ self.coeffs_.T - flux) * weight

            fit = least_squares(resid, np.zeros(self.n_labels_), method="lm")
            out[i] = fit.x * self.scales_ + self.pivots_
        return out


def rank_cannon(X, labels, target_index, *, backend="lstsq", normalise=False, window=101):
    """The Cannon's sensitivity ranking, as a ``peers.PeerResult``.

    Parameters
    ----------
    X : ndarray (n_stars, n_pixels)
    labels : ndarray (n_stars, n_labels)
        Training labels (e.g. Teff, log g, [Fe/H]); ``target_index`` names the
        one ranked for.
    backend : {"thecannon", "lstsq"}
    normalise : bool
        Fit on :func:`continuum_normalise` (X) instead of the stored fluxes.

    Returns
    -------
    (PeerResult, QuadraticCannon)
    """
    from peers import PeerResult, ranking_from_scores

    t0, c0 = time.perf_counter(), time.process_time()
    Xf = continuum_normalise(X, window) if normalise else np.asarray(X, float)
    model = QuadraticCannon(backend).fit(Xf, labels)
    scores = model.sensitivity(target_index)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    name = "cannon_norm" if normalise else "cannon"
    details = {"backend": backend, "normalised": normalise, "window": window if normalise else None,
               "median_scatter": float(np.median(model.scatters_))}
    return PeerResult(name, ranking=ranking_from_scores(scores), scores=scores, seconds=seconds,
                      cpu_seconds=cpu, details=details), model
