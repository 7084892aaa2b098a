"""The ``model.pt`` format: the fitted regressors of a ranking, their grid, and predictions from them.

A ``model.pt`` is a :func:`torch.save` dictionary with ``format:
"stelrel-model/1"``, the label and its unit, the wavelength grid (Angstrom)
and frame, the first model's parameters, the seeds, the split and the fitted
estimators (pickled: load only files you trust).
"""

from pathlib import Path

import astropy.units as u
import numpy as np

from stellar_relevance._version import __version__
from stellar_relevance.exceptions import DataError
from stellar_relevance.io.provenance import jsonable

__all__ = ["MODEL_FORMAT", "SeedEnsemble", "model_payload", "write_model", "load_model", "predict_labels"]

#: The ``format`` entry of every model file.
MODEL_FORMAT = "stelrel-model/1"


class SeedEnsemble:
    """Mean prediction of several fitted regressors (same training data, different seeds).

    Parameters
    ----------
    estimators : sequence of fitted regressors
        They share ``feature_means_`` and ``n_features_in_`` (the first's are
        exposed).

    Examples
    --------
    >>> from stellar_relevance import SpectralRelevanceRegressor
    >>> X = np.random.default_rng(0).normal(size=(60, 5))
    >>> models = [SpectralRelevanceRegressor((4,), max_epochs=2, random_state=seed).fit(X, X[:, 0])
    ...           for seed in (0, 1)]
    >>> ensemble = SeedEnsemble(models)
    >>> ensemble.n_features_in_, ensemble.predict(X[:3]).shape
    (5, (3,))
    >>> bool(np.allclose(ensemble.predict(X[:3]), (models[0].predict(X[:3]) + models[1].predict(X[:3])) / 2))
    True
    """

    def __init__(self, estimators):
        self.estimators = list(estimators)
        self.feature_means_ = self.estimators[0].feature_means_
        self.n_features_in_ = self.estimators[0].n_features_in_

    def predict(self, X, given=None):
        """Mean of the estimators' predictions.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_pixels)
            The spectra.
        given : array-like of shape (n_samples, n_given), optional
            The known labels the models were trained with.

        Returns
        -------
        numpy.ndarray of shape (n_samples,)
            The mean prediction.
        """
        kwargs = {} if given is None else {"given": given}
        return np.mean([est.predict(X, **kwargs) for est in self.estimators], axis=0)


def model_payload(estimators, settings, wavelength, split_text):
    """The dictionary written to ``model.pt``.

    Parameters
    ----------
    estimators : list
        Fitted regressors (one per seed).
    settings : dict
        The ranking's settings (``label``, ``label_unit``, ``wave_frame``, ``seeds``).
    wavelength : astropy.units.Quantity
        The pixel grid.
    split_text : str
        The one-line statement of the split.

    Returns
    -------
    dict
        ``format``, ``stelrel_version``, ``label``, ``label_unit``,
        ``wavelength_AA``, ``wave_frame``, ``config`` (the first model's
        parameters), ``seeds``, ``given``, ``split`` and ``estimators``.

    Examples
    --------
    >>> import astropy.units as u
    >>> from stellar_relevance import SpectralRelevanceRegressor
    >>> X = np.random.default_rng(0).normal(size=(40, 4))
    >>> model = SpectralRelevanceRegressor((4,), max_epochs=1).fit(X, X[:, 0])
    >>> settings = {"label": "FEH", "label_unit": "dex", "wave_frame": "air", "seeds": [0]}
    >>> payload = model_payload([model], settings, np.arange(5000.0, 5004.0) * u.AA, "a seeded split")
    >>> payload["format"], payload["wavelength_AA"].tolist(), payload["config"]["hidden_layer_sizes"]
    ('stelrel-model/1', [5000.0, 5001.0, 5002.0, 5003.0], [4])
    """
    return {
        "format": MODEL_FORMAT,
        "stelrel_version": __version__,
        "label": settings.get("label"),
        "label_unit": settings.get("label_unit"),
        "wavelength_AA": u.Quantity(wavelength, u.AA).value,
        "wave_frame": settings.get("wave_frame"),
        "config": {k: jsonable(v) for k, v in estimators[0].get_params().items()},
        "seeds": list(settings.get("seeds", [])),
        "given": list(settings.get("given") or []),
        "split": split_text,
        "estimators": list(estimators),
    }


def write_model(path, payload):
    """Write a :func:`model_payload` to ``path`` (not atomic: into a staging folder).

    Parameters
    ----------
    path : str or Path
        The file to write (``model.pt``).
    payload : dict
        From :func:`model_payload`.

    Returns
    -------
    pathlib.Path
        ``path``.

    Examples
    --------
    >>> import tempfile
    >>> import astropy.units as u
    >>> from stellar_relevance import SpectralRelevanceRegressor, load_model
    >>> X = np.random.default_rng(0).normal(size=(40, 4))
    >>> model = SpectralRelevanceRegressor((4,), max_epochs=1).fit(X, X[:, 0])
    >>> payload = model_payload([model], {"label": "FEH", "seeds": [0]}, np.arange(4.0) * u.AA, "a split")
    >>> path = write_model(Path(tempfile.mkdtemp()) / "model.pt", payload)
    >>> load_model(path)["label"], path.name
    ('FEH', 'model.pt')
    """
    import torch

    torch.save(payload, path)
    return Path(path)


def load_model(path):
    """Read a ``model.pt`` written by :meth:`~stellar_relevance.report.result.RankingResult.save`.

    The file holds pickled scikit-learn estimators: load only files you trust.

    Parameters
    ----------
    path : str or Path
        The ``model.pt`` of a ``stelrel rank`` output folder.

    Returns
    -------
    dict
        ``estimators`` (list), ``wavelength`` (Quantity), ``label``,
        ``label_unit``, ``config`` ...

    Raises
    ------
    DataError
        When the file is missing or not a stelrel model.

    Examples
    --------
    A round trip (fit, write, load, predict) is under :func:`predict_labels`.

    >>> from stellar_relevance import load_model
    >>> load_model("no-such-folder/model.pt")
    Traceback (most recent call last):
    ...
    stellar_relevance.exceptions.DataError: no-such-folder/model.pt: model file not found
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: model file not found")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means "not our file"
        raise DataError(f"{path}: not a stelrel model file ({type(exc).__name__}: {exc})") from exc
    if not isinstance(payload, dict) or payload.get("format") != MODEL_FORMAT:
        raise DataError(f"{path}: not a stelrel model file (no 'format: {MODEL_FORMAT}' entry)")
    payload["wavelength"] = payload["wavelength_AA"] * u.AA
    return payload


def _check_grid(model, spectra, rtol):
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


def predict_labels(model, spectra, rtol=1e-6):
    """Labels for ``spectra`` from a loaded model (mean over its seeds).

    Parameters
    ----------
    model : dict
        From :func:`load_model`.
    spectra : SpectralSet
        On the model's wavelength grid and frame.
    rtol : float
        Relative tolerance when comparing wavelength grids.

    Returns
    -------
    numpy.ndarray
        One predicted label per spectrum.

    Raises
    ------
    DataError
        When the spectra are not on the model's wavelength grid, their flux
        is not finite, or the model was trained with given labels (``rank
        --given``) that the spectra lack or hold as non-finite values.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> import astropy.units as u
    >>> from stellar_relevance import SpectralRelevanceRegressor, SpectralSet, load_model, predict_labels
    >>> from stellar_relevance.report.model_file import model_payload, write_model
    >>> X = np.random.default_rng(0).normal(size=(60, 8))
    >>> wave = np.arange(5000.0, 5008.0) * u.AA
    >>> fitted = SpectralRelevanceRegressor(hidden_layer_sizes=(8,), max_epochs=5, min_epochs=1,
    ...                                     random_state=0).fit(X, X[:, 0])
    >>> settings = {"label": "FEH", "label_unit": "dex", "wave_frame": "air", "seeds": [0]}
    >>> path = write_model(Path(tempfile.mkdtemp()) / "model.pt",
    ...                    model_payload([fitted], settings, wave, "60 spectra, no split"))
    >>> predicted = predict_labels(load_model(path), SpectralSet(wave, X[:3]))
    >>> predicted.shape, bool(np.allclose(predicted, fitted.predict(X[:3])))
    ((3,), True)
    """
    _check_grid(model, spectra, rtol)
    X = np.asarray(spectra.flux, float)
    bad = ~np.isfinite(X)
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))
        raise DataError(
            f"{len(rows)} spectra have non-finite flux (e.g. IDs {[str(spectra.ids[i]) for i in rows[:5]]}); "
            "the model needs finite flux at every pixel"
        )
    return SeedEnsemble(model["estimators"]).predict(X, given=_given_labels(model, spectra))


def _given_labels(model, spectra):
    """The given labels the model was trained with, read from the spectra's label table (None: none)."""
    names = list(model.get("given") or [])
    if not names:
        return None
    missing = [name for name in names if name not in spectra.label_names]
    if missing:
        raise DataError(
            f"the model was trained given {', '.join(names)}; the spectra have no label {', '.join(missing)} "
            f"(labels: {', '.join(spectra.label_names) or 'none'}); pass a label table with those columns"
        )
    columns = []
    for name in names:
        try:
            values = np.asarray(spectra.labels[name], dtype=float)
        except (TypeError, ValueError):
            raise DataError(f"given label {name!r} is not numeric") from None
        bad = ~np.isfinite(values)
        if bad.any():
            ids = [str(spectra.ids[i]) for i in np.flatnonzero(bad)[:5]]
            raise DataError(f"given label {name!r} is missing (NaN) for {int(bad.sum())} spectra (e.g. IDs {ids})")
        columns.append(values)
    return np.column_stack(columns)
