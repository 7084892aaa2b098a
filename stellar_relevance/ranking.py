"""The ``rank_spectra`` pipeline: spectra in, a ranked and index-matched result out.

Steps (each stated in every output):

1. keep the spectra that have the label (at least ``min_labels`` of them);
2. a seeded, label-stratified train/test split (the estimator then holds out
   ``validation_fraction`` of the training part, seeded, for early stopping);
3. train :class:`~stellar_relevance.estimators.SpectralRelevanceRegressor`
   (MAE loss) once per seed; with several seeds the relevance is the mean of
   the per-seed normalised relevances, the test prediction the mean of the
   per-seed predictions, and the stability is the top-k overlap across seeds
   with a +-2 pixel tolerance;
4. the error-vs-k curve: masking all but the top-k pixels of the trained
   model (filled with the training mean, not zero), and retraining on the
   top-k pixels alone, each against random-k draws;
5. the index match (:func:`~stellar_relevance.matching.match_indices`) and
   its permutation test;
6. checks of the paper's claims, with the numbers.

The result is a :class:`RankingResult` that saves ECSV / JSON / model /
figures / HTML into one folder (:meth:`RankingResult.save`).
"""

import datetime as _dt
import json
import logging
import os
import platform
import tempfile
import time
import warnings
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.table import QTable, Table

from ._version import __version__
from .atomic import atomic_write
from .exceptions import DataError, DataWarning, StelrelError
from .provenance import jsonable as _jsonable
from .provenance import versions as _versions

__all__ = ["rank_spectra", "RankingResult", "check_output_dir", "DEFAULT_KS", "OUTPUT_FILES", "load_model"]

logger = logging.getLogger(__name__)

#: k values of the error-vs-k curve ("all" = every pixel).
DEFAULT_KS = (5, 10, 20, 30, 50, 100, 300, 1000, "all")
#: Figures written by :meth:`RankingResult.save`.
FIGURE_FILES = {"relevance": "relevance.png", "eigenvalues": "eigenvalues.png", "curve": "curve.png"}
#: Every file :meth:`RankingResult.save` writes.
OUTPUT_FILES = (
    "ranking.ecsv",
    "indices.ecsv",
    "curve.ecsv",
    "summary.json",
    "model.pt",
    *FIGURE_FILES.values(),
    "report.html",
)
#: Indices the paper says the network found for [Fe/H] (alias groups).
PAPER_FOUND = {
    "Ca II H&K": ("cahk", "caiih+k", "caiihk", "cak3933", "cah3968", "ca_hk", "ca4227_hk"),
    "Mgb": ("mgb", "mg_b", "mgb5177"),
    "Fe4383": ("fe4383", "fe4384"),
    "Fe5015": ("fe5015",),
    "Fe5270": ("fe5270",),
    "Fe5335": ("fe5335",),
    "H-beta": ("hb", "hbeta", "h_beta", "hbeta_o", "hbo"),
}
PAPER_NOT_FOUND = {"H-alpha": ("halpha", "ha", "h_alpha")}
#: Stability is measured with this tolerance in pixels.
OVERLAP_TOLERANCE = 2


# ----------------------------------------------------------------------------- helpers
def _atomic_write(path, write):
    """Atomic write into an output folder already cleared by :func:`check_output_dir`."""
    return atomic_write(path, write, overwrite=True)


def check_output_dir(directory, overwrite=False):
    """Check (before any work) that results can be written to ``directory``.

    Creates the folder if needed and proves it writable with a temp file.

    Parameters
    ----------
    directory : str or Path
    overwrite : bool
        Whether existing result files may be replaced.

    Returns
    -------
    Path

    Raises
    ------
    FileExistsError
        When the folder already holds result files and ``overwrite`` is False.
    StelrelError
        When the folder cannot be created or written.
    """
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise StelrelError(f"output {directory} exists and is not a folder")
    existing = [name for name in OUTPUT_FILES if (directory / name).exists()]
    if existing and not overwrite:
        raise FileExistsError(
            f"output folder {directory} already holds results ({', '.join(existing)}); "
            "pass --overwrite (overwrite=True) to replace them"
        )
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=directory, prefix=".stelrel-write-test.")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise StelrelError(
            f"cannot write to output folder {directory}: {exc.strerror or exc}"
        ) from exc
    return directory


def _split_indices(y, test_fraction, random_state):
    """Seeded train/test split, stratified on label quintiles."""
    from sklearn.model_selection import train_test_split

    n = len(y)
    index = np.arange(n)
    n_test = int(round(test_fraction * n))
    if n_test < 2 or n - n_test < 10:
        raise DataError(
            f"test_fraction={test_fraction} of {n} spectra leaves {n_test} test and "
            f"{n - n_test} training spectra; need at least 2 and 10"
        )
    n_bins = min(5, n_test)
    edges = np.quantile(y, np.linspace(0, 1, n_bins + 1)[1:-1])
    strata = np.digitize(y, edges)
    if np.min(np.bincount(strata)) < 2:
        strata = None
    train, test = train_test_split(index, test_size=n_test, random_state=random_state, stratify=strata)
    return np.sort(train), np.sort(test)


def _resolve_ks(ks, n_pixels):
    out = []
    for k in ks:
        if isinstance(k, str):
            if k.lower() != "all":
                raise ValueError(f"k values must be positive ints or 'all', got {k!r}")
            k = n_pixels
        k = int(k)
        if k < 1:
            raise ValueError(f"k values must be positive, got {k}")
        out.append(min(k, n_pixels))
    return sorted(set(out))


def _mae(y_true, y_pred):
    return float(np.mean(np.abs(np.asarray(y_true, float) - np.asarray(y_pred, float))))


def _pixel_indices(wavelength, catalog):
    """For each pixel, the names of the catalogue central bands it falls in."""
    wave = u.Quantity(wavelength, u.AA).value
    names = [[] for _ in wave]
    if catalog is None or len(catalog) == 0:
        return ["" for _ in wave]
    lower = u.Quantity(catalog["band_lower"], u.AA).value
    upper = u.Quantity(catalog["band_upper"], u.AA).value
    for name, lo, hi in zip(catalog["name"], lower, upper):
        for i in np.flatnonzero((wave >= lo) & (wave <= hi)):
            names[i].append(str(name))
    return [",".join(n) for n in names]


def _count_in_bands(wavelength, top_index, catalog):
    """Number of the top pixels in each catalogue central band."""
    wave = u.Quantity(wavelength, u.AA).value[top_index]
    lower = u.Quantity(catalog["band_lower"], u.AA).value
    upper = u.Quantity(catalog["band_upper"], u.AA).value
    return np.array([int(np.sum((wave >= lo) & (wave <= hi))) for lo, hi in zip(lower, upper)])


class _SeedEnsemble:
    """Mean prediction of several fitted regressors (same training data)."""

    def __init__(self, estimators):
        self.estimators = list(estimators)
        self.feature_means_ = self.estimators[0].feature_means_
        self.n_features_in_ = self.estimators[0].n_features_in_

    def predict(self, X):
        return np.mean([est.predict(X) for est in self.estimators], axis=0)


# ----------------------------------------------------------------------------- result
class RankingResult:
    """Everything :func:`rank_spectra` found, with saving and plotting.

    Attributes
    ----------
    ranking : astropy.table.QTable
        One row per pixel, most relevant first: ``rank`` (1 = most relevant),
        ``pixel``, ``wavelength`` (Angstrom), ``relevance`` (mean over seeds of
        the per-seed relevance normalised to sum 1), ``relevance_std`` (spread
        over seeds), ``signed_eigenvalue`` (lambda of the first seed's model;
        its sign is arbitrary up to the sign of psi), ``mean_flux`` (mean
        training spectrum) and ``indices`` (catalogue central bands holding the
        pixel, comma separated).
    indices : astropy.table.QTable
        The :func:`~stellar_relevance.matching.match_indices` table, with
        ``n_top_bins`` (top pixels in the central band), ``enrichment``,
        ``p_value`` and the band limits.
    curve : astropy.table.Table
        ``k``, ``mae_masked``, ``mae_masked_random``, ``mae_masked_random_std``,
        ``mae_retrained``, ``mae_random`` (retrained on random-k),
        ``mae_random_std``, ``n_random``; MAE in the label's unit.
    metrics : dict
        ``test_mae`` (all pixels), ``topk_mae`` (top-``top`` retrained),
        ``overall_p_value``, per-seed numbers, stability, paper-claim checks
        (``claims``) and, for synthetic spectra, ``ground_truth``.
    settings : dict
        Every choice made (hyper-parameters, split, seeds, ks ...).
    provenance : dict
        Split sizes, data source, versions, timings, creation time, command.
    estimators : list
        The fitted regressors (one per seed); empty after :meth:`load`.
    """

    def __init__(self, ranking, indices, curve, metrics, settings, provenance, estimators=(), wavelength=None):
        self.ranking = ranking
        self.indices = indices
        self.curve = curve
        self.metrics = dict(metrics)
        self.settings = dict(settings)
        self.provenance = dict(provenance)
        self.estimators = list(estimators)
        self._wavelength = wavelength

    def __repr__(self):
        return (
            f"<RankingResult {self.settings.get('label')}: test MAE {self.metrics.get('test_mae'):.4g}, "
            f"top-{self.settings.get('top')} retrained MAE {self.metrics.get('topk_mae')}, "
            f"p={self.metrics.get('overall_p_value')}, {len(self.estimators)} model(s)>"
        )

    @property
    def estimator(self):
        """The first seed's fitted regressor (None after :meth:`load`)."""
        return self.estimators[0] if self.estimators else None

    @property
    def wavelength(self):
        """The pixel grid in pixel order (Quantity)."""
        if self._wavelength is not None:
            return self._wavelength
        order = np.argsort(np.asarray(self.ranking["pixel"]))
        return u.Quantity(self.ranking["wavelength"][order], u.AA)

    def top(self, k=None):
        """The ``k`` most relevant pixels (default: the ``top`` setting)."""
        k = self.settings.get("top", 30) if k is None else k
        return self.ranking[:k]

    @property
    def split_text(self):
        """One line stating the split, written into every output."""
        p = self.provenance.get("split", {})
        kind = "given test IDs" if self.settings.get("test_ids_given") else "seeded split"
        return (
            f"{kind} (random_state={self.settings.get('random_state')}): "
            f"{p.get('n_train')} train / {p.get('n_validation')} validation / {p.get('n_test')} test spectra"
        )

    def summary(self):
        """The content of ``summary.json`` (plain JSON types)."""
        m = self.metrics
        return _jsonable(
            {
                "stelrel_version": __version__,
                "label": self.settings.get("label"),
                "label_unit": self.settings.get("label_unit"),
                "split": self.provenance.get("split"),
                "split_text": self.split_text,
                "seeds": self.settings.get("seeds"),
                "test_mae": m.get("test_mae"),
                "topk_mae": m.get("topk_mae"),
                "topk_mae_masked": m.get("topk_mae_masked"),
                "topk_mae_random": m.get("topk_mae_random"),
                "top": self.settings.get("top"),
                "overall_p_value": m.get("overall_p_value"),
                "metrics": m,
                "settings": self.settings,
                "data": self.provenance.get("data"),
                "versions": self.provenance.get("versions"),
                "timings": self.provenance.get("timings"),
                "created": self.provenance.get("created"),
                "command": self.provenance.get("command"),
            }
        )

    # ------------------------------------------------------------ saving
    def _meta(self):
        return {
            "label": self.settings.get("label"),
            "split": self.split_text,
            "seeds": list(self.settings.get("seeds", [])),
            "stelrel_version": __version__,
        }

    def save(self, directory, overwrite=False, figures=True):
        """Write every output into ``directory`` (created if needed).

        Files (each written atomically): ``ranking.ecsv``, ``indices.ecsv``,
        ``curve.ecsv``, ``summary.json``, ``model.pt`` (when models are held),
        ``relevance.png``, ``eigenvalues.png``, ``curve.png`` and
        ``report.html``.

        Parameters
        ----------
        directory : str or Path
        overwrite : bool
            Replace existing result files; otherwise refuse.
        figures : bool
            Write the PNG figures and ``report.html``.

        Returns
        -------
        dict
            file name -> Path of every file written.
        """
        from . import report

        directory = check_output_dir(directory, overwrite=overwrite)
        written = {}
        for name, table in (("ranking", self.ranking), ("indices", self.indices), ("curve", self.curve)):
            table = table.copy(copy_data=False)
            table.meta.update(self._meta())
            written[f"{name}.ecsv"] = _atomic_write(
                directory / f"{name}.ecsv",
                lambda tmp, t=table: t.write(tmp, format="ascii.ecsv", overwrite=True),
            )
        written["summary.json"] = _atomic_write(
            directory / "summary.json",
            lambda tmp: Path(tmp).write_text(json.dumps(self.summary(), indent=2) + "\n"),
        )
        if self.estimators:
            import torch

            payload = _model_payload(self)
            written["model.pt"] = _atomic_write(directory / "model.pt", lambda tmp: torch.save(payload, tmp))
        if figures:
            pngs = report.figure_pngs(self)
            for name, data in pngs.items():
                written[FIGURE_FILES[name]] = _atomic_write(directory / FIGURE_FILES[name], lambda tmp, d=data: Path(tmp).write_bytes(d))
            html = report.render_html(self, pngs)
            written["report.html"] = _atomic_write(
                directory / "report.html", lambda tmp: Path(tmp).write_text(html, encoding="utf-8")
            )
        logger.info("wrote %d files to %s", len(written), directory)
        return written

    @classmethod
    def load(cls, directory):
        """Read a result saved with :meth:`save` (tables and summary; no models).

        Raises
        ------
        DataError
            When a file is missing or unreadable.
        """
        directory = Path(directory)
        if not directory.is_dir():
            raise DataError(f"{directory}: not a folder of saved results")
        tables = {}
        for name in ("ranking", "indices", "curve"):
            path = directory / f"{name}.ecsv"
            if not path.exists():
                raise DataError(f"{directory}: {path.name} is missing; is this a `stelrel rank` output folder?")
            try:
                reader = Table if name == "curve" else QTable
                tables[name] = reader.read(path, format="ascii.ecsv")
            except Exception as exc:  # noqa: BLE001 - re-raised with the file named
                raise DataError(f"{path}: not a readable ECSV table ({exc})") from exc
        indices_col = tables["ranking"]["indices"] if "indices" in tables["ranking"].colnames else None
        if indices_col is not None and hasattr(indices_col, "filled"):
            # ECSV writes "" for pixels outside every band; astropy reads it back as masked
            tables["ranking"]["indices"] = indices_col.filled("")
        path = directory / "summary.json"
        try:
            summary = json.loads(path.read_text())
        except FileNotFoundError:
            raise DataError(f"{directory}: summary.json is missing; is this a `stelrel rank` output folder?") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise DataError(f"{path}: not valid JSON ({exc})") from exc
        provenance = {
            key: summary.get(key) for key in ("split", "data", "versions", "timings", "created", "command")
        }
        return cls(
            tables["ranking"], tables["indices"], tables["curve"],
            summary.get("metrics", {}), summary.get("settings", {}), provenance,
        )

    # ------------------------------------------------------------ plotting
    def plot_relevance(self, ax=None):
        """Relevance over the mean spectrum with index bands (paper Fig. 11 bottom)."""
        from .report import plot_relevance

        return plot_relevance(self, ax=ax)

    def plot_eigenvalues(self, ax=None):
        """Histogram of the first-layer eigenvalues (log y)."""
        from .report import plot_eigenvalues

        return plot_eigenvalues(self, ax=ax)

    def plot_curve(self, ax=None):
        """Test MAE against the number of pixels kept, spectral vs random."""
        from .report import plot_curve

        return plot_curve(self, ax=ax)

    def write_report(self, path):
        """Write the self-contained ``report.html`` to ``path`` (atomically)."""
        from .report import write_html

        return write_html(self, path)


# ----------------------------------------------------------------------------- model file
def _model_payload(result):
    est = result.estimators[0]
    return {
        "format": "stelrel-model/1",
        "stelrel_version": __version__,
        "label": result.settings.get("label"),
        "label_unit": result.settings.get("label_unit"),
        "wavelength_AA": u.Quantity(result.wavelength, u.AA).value,
        "wave_frame": result.settings.get("wave_frame"),
        "config": {k: _jsonable(v) for k, v in est.get_params().items()},
        "seeds": list(result.settings.get("seeds", [])),
        "split": result.split_text,
        "estimators": list(result.estimators),
    }


def load_model(path):
    """Read a ``model.pt`` written by :meth:`RankingResult.save`.

    The file holds pickled scikit-learn estimators: load only files you trust.

    Returns
    -------
    dict
        ``estimators`` (list), ``wavelength`` (Quantity), ``label``,
        ``label_unit``, ``config`` ...

    Raises
    ------
    DataError
        When the file is missing or not a stelrel model.
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: model file not found")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means "not our file"
        raise DataError(f"{path}: not a stelrel model file ({type(exc).__name__}: {exc})") from exc
    if not isinstance(payload, dict) or payload.get("format") != "stelrel-model/1":
        raise DataError(f"{path}: not a stelrel model file (no 'format: stelrel-model/1' entry)")
    payload["wavelength"] = payload["wavelength_AA"] * u.AA
    return payload


def predict_labels(model, spectra, rtol=1e-6):
    """Labels for ``spectra`` from a loaded model (mean over its seeds).

    Parameters
    ----------
    model : dict
        From :func:`load_model`.
    spectra : SpectralSet
    rtol : float
        Relative tolerance when comparing wavelength grids.

    Returns
    -------
    numpy.ndarray

    Raises
    ------
    DataError
        When the spectra are not on the model's wavelength grid.
    """
    grid = u.Quantity(model["wavelength"], u.AA).value
    wave = u.Quantity(spectra.wavelength, u.AA).value
    if grid.shape != wave.shape or not np.allclose(grid, wave, rtol=rtol, atol=0):
        raise DataError(
            f"the spectra's wavelength grid ({wave.size} pixels, {wave[0]:.6g}-{wave[-1]:.6g} A) does not match "
            f"the model's ({grid.size} pixels, {grid[0]:.6g}-{grid[-1]:.6g} A); resample the spectra first"
        )
    model_frame = model.get("wave_frame")
    if model_frame and spectra.wave_frame != model_frame:
        raise DataError(
            f"the spectra are in {spectra.wave_frame} wavelengths but the model was trained in {model_frame}"
        )
    X = np.asarray(spectra.flux, float)
    bad = ~np.isfinite(X)
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))
        raise DataError(
            f"{len(rows)} spectra have non-finite flux (e.g. IDs {[str(spectra.ids[i]) for i in rows[:5]]}); "
            "the model needs finite flux at every pixel"
        )
    return _SeedEnsemble(model["estimators"]).predict(X)


# ----------------------------------------------------------------------------- pipeline
def _select(spectra, label, min_labels):
    if label not in spectra.label_names:
        raise DataError(
            f"no label {label!r} in the spectra; available labels: {', '.join(spectra.label_names) or 'none'}"
        )
    column = spectra.labels[label]
    if column.dtype.kind not in "biuf":
        raise DataError(f"label {label!r} is not numeric (dtype {column.dtype}); a regression label is needed")
    subset = spectra.with_label(label)
    if len(subset) < min_labels:
        raise DataError(
            f"label {label!r} has only {len(subset)} usable (finite) values out of {len(spectra)} spectra; "
            f"at least {min_labels} are needed"
        )
    X, y = subset.to_xy(label)
    finite = np.isfinite(X)
    if not finite.all():
        bad_rows = np.flatnonzero(~finite.all(axis=1))
        raise DataError(
            f"{len(bad_rows)} spectra with label {label!r} have non-finite flux "
            f"(e.g. IDs {[str(subset.ids[i]) for i in bad_rows[:5]]}); the network needs finite flux at every pixel"
        )
    if subset.mask is not None and subset.mask.any():
        # masked pixels (e.g. MILES zero padding) are not flux: fill them with the mean of the good values
        mask = subset.mask
        good = np.where(mask, np.nan, X)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            fill = np.nanmean(good, axis=0)
        fill = np.where(np.isfinite(fill), fill, np.nanmean(X, axis=0))
        rows = np.flatnonzero(mask.any(axis=1))
        X = np.where(mask, fill[None, :], X)
        wave = u.Quantity(subset.wavelength, u.AA).value
        details = "; ".join(
            f"{subset.ids[i]} ({int(mask[i].sum())} px, {wave[mask[i]].min():.1f}-{wave[mask[i]].max():.1f} A)"
            for i in rows[:10]
        )
        warnings.warn(
            f"{len(rows)} spectra have masked pixels, filled with the mean flux of the other spectra at those "
            f"pixels: {details}{' ...' if len(rows) > 10 else ''}",
            DataWarning,
            stacklevel=3,
        )
    return subset, X, y


def _paper_claims(label, catalog_counts, curve, metrics, top, eigenvalues=None):
    """Check the paper's MILES claims against this run (numbers included)."""
    claims = []
    if eigenvalues is not None and np.max(np.abs(eigenvalues)) > 0:
        ratio = np.abs(eigenvalues) / np.max(np.abs(eigenvalues))
        counts, edges = np.histogram(ratio, bins=20, range=(0, 1))
        mode = 0.5 * (edges[np.argmax(counts)] + edges[np.argmax(counts) + 1])
        share = float(np.mean(ratio < 0.05))
        claims.append(
            {
                "claim": "the first-layer eigenvalues peak close to zero (many inputs unused)",
                "observed": f"{share:.0%} of the pixels have |lambda| < 5 % of the largest; the fullest "
                f"histogram bin (of 20) is at |lambda|/max = {mode:.3f}; smallest |lambda|/max = {ratio.min():.3f}",
                "holds": bool(share >= 0.5),
            }
        )
    k = np.asarray(curve["k"])
    for protocol, column in (("masked", "mae_masked"), ("retrained", "mae_retrained")):
        values = np.asarray(curve[column], float)
        ok = np.isfinite(values)
        if ok.sum() < 2:
            continue
        k_best = int(k[ok][np.argmin(values[ok])])
        claims.append(
            {
                "claim": f"the minimum test error is reached with about 30 pixels ({protocol} curve)",
                "observed": f"minimum MAE {values[ok].min():.3f} at k={k_best}",
                "holds": bool(15 <= k_best <= 60),
            }
        )
    retrained_top = metrics.get("topk_mae")
    if retrained_top is not None and np.isfinite(retrained_top):
        diff = retrained_top - metrics["test_mae"]
        claims.append(
            {
                "claim": f"the top-{top} pixels, retrained, predict as well as all pixels (within 0.02)",
                "observed": f"top-{top} retrained MAE {retrained_top:.3f} vs all-pixel {metrics['test_mae']:.3f} "
                f"(difference {diff:+.3f})",
                "holds": bool(diff <= 0.02),
            }
        )
    if "mae_random" in curve.colnames:
        rows = [
            (int(kk), float(s), float(r))
            for kk, s, r in zip(curve["k"], curve["mae_retrained"], curve["mae_random"])
            if kk <= 300 and np.isfinite(s) and np.isfinite(r)
        ]
        if rows:
            worse = [f"k={kk}: {s:.3f} vs {r:.3f}" for kk, s, r in rows if s >= r]
            claims.append(
                {
                    "claim": "the spectral (retrained) curve lies below the random curve at every k <= 300",
                    "observed": "below at every k" if not worse else "not below at " + "; ".join(worse),
                    "holds": not worse,
                }
            )
    p = metrics.get("overall_p_value")
    if p is not None:
        claims.append(
            {
                "claim": f"the top-{top} pixels are enriched in catalogue index bands (overall p < 0.01)",
                "observed": f"p = {p:.4g}",
                "holds": bool(p < 0.01),
            }
        )
    if label.upper() in ("FEH", "[FE/H]", "MH", "[M/H]") and catalog_counts is not None:
        found, missing = [], []
        for group, aliases in PAPER_FOUND.items():
            n = catalog_counts.get(group)
            if n is None:
                continue
            (found if n > 0 else missing).append(f"{group} ({n})")
        if found or missing:
            claims.append(
                {
                    "claim": f"the top-{top} fall in at least 5 of the 7 indices the paper names "
                    "(Ca II H&K, Mgb, Fe4383, Fe5015, Fe5270, Fe5335, H-beta)",
                    "observed": f"{len(found)} found: {', '.join(found) or 'none'}; "
                    f"absent: {', '.join(missing) or 'none'}",
                    "holds": len(found) >= 5,
                }
            )
        for group in PAPER_NOT_FOUND:
            n = catalog_counts.get(group)
            if n is not None:
                claims.append(
                    {
                        "claim": f"no top-{top} pixel in {group}",
                        "observed": f"{n} top-{top} pixels in {group}",
                        "holds": n == 0,
                    }
                )
    return claims


def _alias_counts(catalog, counts):
    """Top-pixel counts for the paper's index groups, matched by name/aliases."""
    if catalog is None:
        return None
    out = {}
    for groups in (PAPER_FOUND, PAPER_NOT_FOUND):
        for group, aliases in groups.items():
            total, seen = 0, False
            for row, n in zip(catalog, counts):
                names = {str(row["name"]).lower()}
                if "display_name" in catalog.colnames:
                    names.add(str(row["display_name"]).lower())
                if "aliases" in catalog.colnames:
                    names.update(a.strip().lower() for a in str(row["aliases"]).replace(";", ",").split(",") if a.strip())
                if names & set(aliases):
                    total, seen = total + int(n), True
            if seen:
                out[group] = total
    return out


def rank_spectra(
    spectra,
    label="FEH",
    *,
    hidden_layer_sizes=(200, 50, 50),
    max_epochs=1000,
    min_epochs=300,
    n_iter_no_change=100,
    batch_size=128,
    learning_rate=1e-3,
    eigenvalue_penalty=1e-2,
    eigenvector_penalty=1e-4,
    input_scaling="center",
    test_fraction=0.1,
    validation_fraction=0.1,
    test_ids=None,
    n_seeds=1,
    random_state=0,
    top=30,
    catalog="optical",
    ks=DEFAULT_KS,
    retrain_ks=None,
    retrain_max_epochs=None,
    retrain_min_epochs=0,
    n_random=5,
    n_random_retrained=2,
    n_permutations=1000,
    min_labels=20,
    device="auto",
    n_threads=1,
    progress=False,
):
    """Rank the pixels of ``spectra`` by their relevance for ``label``.

    Parameters
    ----------
    spectra : SpectralSet
        Spectra on one grid with a label table.
    label : str
        Label column to predict (default ``"FEH"``).
    hidden_layer_sizes, learning_rate, eigenvalue_penalty, eigenvector_penalty
        The network and its penalties (paper: 200-50-50, 1e-3, 1e-2, 1e-4).
    max_epochs, min_epochs, n_iter_no_change, batch_size
        Training length. Early stopping keeps the best-validation weights
        found at or after ``min_epochs``, so the relevance has had time to
        become sparse (an early checkpoint leaves it dense and unstable).
    input_scaling : {"center", "standard", "none"}
        ``"center"`` (default) subtracts the training mean and keeps the
        flux units; ``"standard"`` also divides by the per-pixel spread and is
        known to crowd the ranking into the flux-normalisation window
        (a warning is emitted).
    test_fraction, validation_fraction : float
        Test share of the labelled spectra (stratified on the label) and the
        estimator's validation share of the rest.
    test_ids : sequence of str, optional
        IDs of the spectra to hold out as the test set instead of a seeded
        split (e.g. one fold of a cross-validation); overrides
        ``test_fraction``.
    n_seeds : int
        Models trained with seeds ``random_state, random_state+1, ...``.
    random_state : int
        Seeds the split, the models, the random-k draws and the permutations.
    top : int
        Number of top pixels matched against the index catalogue.
    catalog : str or astropy.table.QTable or None
        Index catalogue name for :func:`~stellar_relevance.indices.load_catalog`,
        a table, or None to skip the match.
    ks : sequence
        k values of the curve (ints or ``"all"``).
    retrain_ks : sequence or None
        k values retrained (default: all of ``ks``); ``()`` skips retraining.
    retrain_max_epochs, retrain_min_epochs : int or None
        Epoch limits of the models retrained on k pixels (defaults:
        ``min(300, max_epochs)`` and 0). They need no sparse relevance, only
        their best validation error, so they may stop early.
    n_random, n_random_retrained : int
        Random-k draws for the masked and retrained curves (None: as
        ``n_random``).
    n_permutations : int
        Permutations in the index-match test.
    min_labels : int
        Fewest spectra with the label that are accepted.
    device, n_threads
        Passed to the estimator (one CPU thread is fastest on small machines).
    progress : bool
        Show tqdm bars while training.

    Returns
    -------
    RankingResult

    Raises
    ------
    DataError
        When the label is missing (the message lists the labels), has fewer
        than ``min_labels`` finite values, or the flux is not finite.
    ValueError
        For invalid parameters.
    """
    from .estimators import SpectralRelevanceRegressor
    from .evaluation import topk_curve, topk_overlap

    t_start = time.perf_counter()
    timings = {}
    if int(n_seeds) < 1:
        raise ValueError(f"n_seeds must be >= 1, got {n_seeds}")
    if int(top) < 1:
        raise ValueError(f"top must be >= 1, got {top}")
    if input_scaling == "standard":
        msg = (
            "input_scaling='standard' divides each pixel by its spread across stars; on normalised spectra "
            "this is known to crowd the top pixels into the flux-normalisation window (5400-5630 A for MILES) "
            "instead of the absorption features. 'center' (the default) keeps the flux units."
        )
        warnings.warn(msg, UserWarning, stacklevel=2)

    subset, X, y = _select(spectra, label, min_labels)
    n_pixels = X.shape[1]
    if top > n_pixels:
        raise ValueError(f"top={top} exceeds the {n_pixels} pixels of the spectra")
    if test_ids is None:
        train_idx, test_idx = _split_indices(y, test_fraction, random_state)
    else:
        wanted = {str(i) for i in test_ids}
        is_test = np.isin(subset.ids, list(wanted))
        unknown = wanted - set(subset.ids[is_test])
        if unknown:
            raise DataError(f"test_ids: {len(unknown)} IDs are not among the spectra with label {label!r}: "
                            f"{sorted(unknown)[:5]}")
        test_idx, train_idx = np.flatnonzero(is_test), np.flatnonzero(~is_test)
        if len(test_idx) < 2 or len(train_idx) < 10:
            raise DataError(f"test_ids leave {len(test_idx)} test and {len(train_idx)} training spectra; "
                            "need at least 2 and 10")
    X_train, y_train, X_test, y_test = X[train_idx], y[train_idx], X[test_idx], y[test_idx]
    unit = subset.labels[label].unit
    label_unit = "" if unit is None else unit.to_string()

    params = dict(
        hidden_layer_sizes=tuple(int(h) for h in hidden_layer_sizes),
        activation="relu",
        eigenvalue_penalty=eigenvalue_penalty,
        eigenvector_penalty=eigenvector_penalty,
        learning_rate=learning_rate,
        max_epochs=int(max_epochs),
        batch_size=int(batch_size),
        validation_fraction=validation_fraction,
        early_stopping=True,
        n_iter_no_change=int(n_iter_no_change),
        min_epochs=int(min(min_epochs, max_epochs)),
        loss="mae",
        input_scaling=input_scaling,
        target_scaling="standard",
        device=device,
        n_threads=n_threads,
        verbose=1 if progress else 0,
    )
    seeds = [int(random_state) + i for i in range(int(n_seeds))]
    estimators, seed_records = [], []
    t0 = time.perf_counter()
    logger.info(
        "%s: %d spectra with the label, %d train+validation / %d test; training %d model(s)",
        label, len(subset), len(train_idx), len(test_idx), len(seeds),
    )
    for seed in seeds:
        t_seed = time.perf_counter()
        est = SpectralRelevanceRegressor(**params, random_state=seed).fit(X_train, y_train)
        estimators.append(est)
        seed_records.append(
            {
                "seed": seed,
                "test_mae": _mae(y_test, est.predict(X_test)),
                "best_epoch": int(est.best_epoch_),
                "n_epochs": int(est.n_epochs_),
                "seconds": round(time.perf_counter() - t_seed, 2),
            }
        )
        logger.info("seed %d: test MAE %.4f (best epoch %d)", seed, seed_records[-1]["test_mae"], est.best_epoch_)
    timings["train"] = time.perf_counter() - t0
    ensemble = _SeedEnsemble(estimators)
    test_mae = _mae(y_test, ensemble.predict(X_test))

    importances = np.array([est.feature_importances_ for est in estimators])
    relevance = importances.mean(axis=0)
    relevance_std = importances.std(axis=0, ddof=1) if len(estimators) > 1 else np.zeros(n_pixels)
    order = np.argsort(-relevance, kind="stable")
    stability = {}
    if len(estimators) > 1:
        for k in sorted({10, int(top), 100}):
            if k <= n_pixels:
                stability[f"top{k}_overlap"] = float(
                    topk_overlap([est.ranking_ for est in estimators], k, tolerance=OVERLAP_TOLERANCE)
                )

    # ---------------------------------------------------------------- curve
    ks_int = _resolve_ks(ks, n_pixels)
    retrain_list = ks_int if retrain_ks is None else _resolve_ks(retrain_ks, n_pixels) if len(retrain_ks) else []
    retrain_list = [k for k in retrain_list if k < n_pixels]  # all pixels = the trained model itself
    n_random_retrained = n_random if n_random_retrained is None else int(n_random_retrained)
    t0 = time.perf_counter()
    masked = topk_curve(
        order, ks_int, X_train, y_train, X_test, y_test,
        fitted=ensemble, metric=_mae, n_random=n_random, random_state=random_state, protocols=("masked",),
        verbose=1 if progress else 0,
    )
    timings["curve_masked"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    retrain_params = dict(params, verbose=0)
    retrain_params["max_epochs"] = int(min(300, max_epochs) if retrain_max_epochs is None else retrain_max_epochs)
    if retrain_min_epochs is not None:
        retrain_params["min_epochs"] = int(retrain_min_epochs)
    retrain_params["min_epochs"] = min(retrain_params["min_epochs"], retrain_params["max_epochs"])

    def make_model():
        return SpectralRelevanceRegressor(**retrain_params, random_state=seeds[0])

    retrained = None
    if retrain_list:
        logger.info("retraining on the top-k and random-k pixels: %d models of at most %d epochs",
                    len(retrain_list) * (1 + n_random_retrained), retrain_params["max_epochs"])
        retrained = topk_curve(
            order, retrain_list, X_train, y_train, X_test, y_test,
            make_model=make_model, metric=_mae, n_random=n_random_retrained, random_state=random_state,
            protocols=("retrained",), verbose=1 if progress else 0,
        )
    timings["curve_retrained"] = time.perf_counter() - t0
    curve = _curve_table(ks_int, masked, retrained, n_pixels, seed_records[0]["test_mae"], test_mae,
                         n_random, n_random_retrained, label_unit)

    # ---------------------------------------------------------------- index match
    t0 = time.perf_counter()
    wavelength = subset.wavelength
    cat_table = None
    if catalog is not None:
        from .indices import load_catalog

        with warnings.catch_warnings():
            # published sidebands that touch the central band: irrelevant here (only central bands are used)
            warnings.filterwarnings("ignore", message=".*sideband", category=DataWarning)
            cat_table = load_catalog(catalog, frame=subset.wave_frame) if isinstance(catalog, str) else catalog
    mean_flux = X_train.mean(axis=0)
    ranking = QTable(
        {
            "rank": np.arange(1, n_pixels + 1),
            "pixel": order,
            "wavelength": u.Quantity(wavelength, u.AA)[order],
            "relevance": relevance[order],
            "relevance_std": relevance_std[order],
            "signed_eigenvalue": estimators[0].eigenvalues_[order],
            "mean_flux": mean_flux[order],
            "indices": np.asarray(_pixel_indices(wavelength, cat_table), dtype=str)[order],
        }
    )
    ranking["relevance"].description = "mean over seeds of relevance / sum(relevance)"
    ranking["signed_eigenvalue"].description = "first-layer eigenvalue lambda of the first seed's model"
    ranking["mean_flux"].description = f"mean training flux ({subset.flux_unit.to_string() or 'dimensionless'})"
    overall_p = None
    if cat_table is not None and len(cat_table):
        from .matching import match_indices

        _bins, indices = match_indices(
            wavelength, relevance, cat_table, top=top, n_permutations=n_permutations, random_state=random_state,
            wave_frame=subset.wave_frame,
        )
        indices = QTable(indices)
        counts = _count_in_bands(wavelength, order[:top], cat_table)
        overall_p = indices.meta.get("overall_p_value")
        overall_p = None if overall_p is None else float(overall_p)
        alias_counts = _alias_counts(cat_table, counts)
    else:
        indices = QTable({"name": np.array([], dtype=str)})
        alias_counts = None
    timings["match"] = time.perf_counter() - t0

    top_row = [r for r in curve if int(r["k"]) == int(top)]
    topk_mae = topk_mae_masked = topk_mae_random = None
    if top_row:
        topk_mae = float(top_row[0]["mae_retrained"]) if np.isfinite(top_row[0]["mae_retrained"]) else None
        topk_mae_masked = float(top_row[0]["mae_masked"])
        topk_mae_random = float(top_row[0]["mae_random"]) if np.isfinite(top_row[0]["mae_random"]) else None
    metrics = {
        "test_mae": test_mae,
        "test_mae_per_seed": [r["test_mae"] for r in seed_records],
        "test_mae_standard_error": float(np.std(np.abs(y_test - ensemble.predict(X_test)), ddof=1) / np.sqrt(len(y_test))),
        "topk_mae": topk_mae,
        "topk_mae_masked": topk_mae_masked,
        "topk_mae_random": topk_mae_random,
        "overall_p_value": overall_p,
        "n_permutations": int(n_permutations) if cat_table is not None else 0,
        "seeds": seed_records,
        "stability": stability,
        "label_std_test": float(np.std(y_test)),
        "paper_index_counts": alias_counts,
    }
    metrics["claims"] = _paper_claims(label, alias_counts, curve, metrics, top, estimators[0].eigenvalues_)
    lines = subset.meta.get("planted_lines")
    if lines is not None:
        from .datasets.synthetic_spectra import planted_mask

        truth = planted_mask(wavelength, lines, label=label)
        hits = truth[order[:top]]
        kinds = np.asarray(lines["sensitive_to"])
        centres = u.Quantity(lines["center"], u.AA).value
        top_wave = u.Quantity(wavelength, u.AA).value[order[:top]]
        sigma = u.Quantity(lines["sigma"], u.AA).value
        recovered = [
            str(name) for name, c, s, kind in zip(lines["name"], centres, sigma, kinds)
            if kind == label and np.any(np.abs(top_wave - c) <= 2.5 * s)
        ]
        metrics["ground_truth"] = {
            "top_in_planted_lines": float(hits.mean()),
            "planted_pixel_share": float(truth.mean()),
            "lines_recovered": recovered,
            "n_lines": int(np.sum(kinds == label)),
        }
    timings["total"] = time.perf_counter() - t_start
    settings = {
        "label": label,
        "label_unit": label_unit,
        "estimator": "SpectralRelevanceRegressor",
        **{k: v for k, v in params.items() if k != "verbose"},
        "test_fraction": test_fraction,
        "random_state": int(random_state),
        "n_seeds": int(n_seeds),
        "seeds": seeds,
        "top": int(top),
        "catalog": catalog if isinstance(catalog, str) or catalog is None else "custom",
        "ks": ks_int,
        "retrain_ks": retrain_list,
        "retrain_max_epochs": retrain_params["max_epochs"],
        "retrain_min_epochs": retrain_params["min_epochs"],
        "n_random": int(n_random),
        "n_random_retrained": n_random_retrained,
        "n_permutations": int(n_permutations),
        "masked_fill": "training mean of each pixel",
        "overlap_tolerance_pixels": OVERLAP_TOLERANCE,
        "stratified_split": test_ids is None,
        "test_ids_given": test_ids is not None,
        "wave_frame": subset.wave_frame,
    }
    est0 = estimators[0]
    provenance = {
        "split": {
            "n_spectra": len(spectra),
            "n_with_label": len(subset),
            "n_train": int(est0.n_train_samples_),
            "n_validation": int(est0.n_validation_samples_),
            "n_test": len(test_idx),
            "test_ids": [str(i) for i in subset.ids[test_idx]],
        },
        "data": {
            "source": str(spectra.meta.get("source", "")),
            "reader": str(spectra.meta.get("reader", "")),
            "n_pixels": n_pixels,
            "wavelength_range_AA": [float(u.Quantity(wavelength[0], u.AA).value), float(u.Quantity(wavelength[-1], u.AA).value)],
            "wave_frame": subset.wave_frame,
            "n_warnings": len(spectra.meta.get("warnings", []) or []),
        },
        "versions": _versions(),
        "timings": {k: round(v, 2) for k, v in timings.items()},
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "command": None,  # the CLI fills in the command line
    }
    result = RankingResult(ranking, indices, curve, metrics, settings, provenance, estimators, wavelength=wavelength)
    logger.info("%r", result)
    return result


def _curve_table(ks, masked, retrained, n_pixels, single_mae, ensemble_mae, n_random, n_random_retrained, unit):
    """Merge the topk_curve data frames into one row per k."""

    def pick(frame, k, selection, column):
        if frame is None:
            return np.nan
        rows = frame[(frame["k"] == k) & (frame["selection"] == selection)]
        return float(rows[column].iloc[0]) if len(rows) else np.nan

    rows = []
    for k in ks:
        row = {
            "k": k,
            "mae_masked": pick(masked, k, "ranked", "score"),
            "mae_masked_random": pick(masked, k, "random", "score"),
            "mae_masked_random_std": pick(masked, k, "random", "score_std"),
            "mae_retrained": pick(retrained, k, "ranked", "score"),
            "mae_random": pick(retrained, k, "random", "score"),
            "mae_random_std": pick(retrained, k, "random", "score_std"),
        }
        if k == n_pixels:
            # every pixel: masking changes nothing and "retraining" is the first seed's model
            row["mae_masked"] = row["mae_masked_random"] = ensemble_mae
            row["mae_masked_random_std"] = 0.0
            row["mae_retrained"] = row["mae_random"] = single_mae
            row["mae_random_std"] = 0.0
        rows.append(row)
    table = Table(rows=rows, names=list(rows[0]))
    table["n_random"] = [n_random if k < n_pixels else 0 for k in ks]
    table["n_random_retrained"] = [n_random_retrained if k < n_pixels else 0 for k in ks]
    for name in table.colnames:
        if name.startswith("mae"):
            table[name].unit = unit or None
            table[name].format = ".4f"
    return table
