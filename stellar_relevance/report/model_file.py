"""The model file (``model.pt``): the fitted regressors of a ranking, safe to load, and predictions from them.

Format ``stelrel-model/2``
--------------------------
One zip archive (the name ``model.pt`` is kept). No member is a pickle:

``stelrel-model.json``
    The header (JSON, the first member; ``unzip -p model.pt stelrel-model.json``
    shows it):

    - ``format``: ``"stelrel-model/2"``; ``stelrel_version``: the writer's.
    - ``label``, ``label_unit``; ``given``: the labels fed to the network
      as known (``rank --given``), read from the spectra's label table at
      prediction; ``label_range``: ``[min, max]`` of the training labels,
      or null; ``label_range_source``: ``"training labels"``, ``"target mean
      +- 2 std of the first estimator"`` or null.
    - ``split``: the one-line statement of the train/test split;
      ``seeds``; ``settings``: the ranking's settings (JSON);
      ``config``: the first estimator's parameters.
    - ``wavelength``: ``values`` (pixel centres, exact float64 as JSON
      numbers), ``unit`` (``"Angstrom"``), ``frame`` (``"air"`` or
      ``"vacuum"``), ``rest_frame`` (true: each spectrum was shifted to its
      rest frame; false: observed frame; null: not recorded).
    - ``preprocessing``: ``fill_values`` (the member holding one value per
      pixel: what a masked, non-finite or uncovered pixel gets),
      ``fill_source`` (``"training mean of the other spectra"``: given by
      the ranking; ``"estimator feature_means_"``: the first estimator's
      training mean, when none was given), ``continuum`` (the rule the
      training flux was normalised with, as ``continuum_settings`` gives it,
      or null: prediction applies it to spectra not yet normalised, after
      resampling and before filling, and refuses spectra normalised with
      another rule).
    - ``estimators``: one entry per seed: ``class`` (one of
      ``SpectralRelevanceRegressor``, ``SpectralRelevanceClassifier``: an
      allow-list; nothing else is ever built), ``params`` (``get_params``;
      a value JSON cannot hold, such as a ``RandomState``, is null),
      ``network`` (``n_features``, ``n_outputs``, ``hidden_layer_sizes``,
      ``n_given``, ``activation``: the arguments of
      :class:`~stellar_relevance.nn.SpectralNetwork`), ``state_dict``
      (parameter name -> member), ``arrays`` (fitted array attribute, e.g.
      ``input_offset_`` -> member) and ``attributes`` (the other fitted
      attributes as JSON, e.g. ``n_features_in_``, ``history_``).
    - ``members``: member -> ``dtype`` (numpy's ``dtype.str``) and ``shape``;
      a member that disagrees is refused.

``<prefix>/....npy``
    One numpy ``.npy`` array per tensor or fitted array (``e0/state_dict/...``,
    ``e0/attributes/...``, ``preprocessing/fill_values.npy``), read with
    ``allow_pickle=False``: bit for bit what was written.

Why a zip of JSON and ``.npy`` rather than ``torch.save`` read with
``weights_only=True``: no pickle is interpreted at all, whatever torch is
installed (``weights_only`` loading was itself shown to run code before
torch 2.6, CVE-2025-32434, and to corrupt memory before 2.10, while the
package accepts torch >= 2.2); the header is read without torch
(:func:`model_grid`), by any zip and JSON tool; members are CRC-checked; the
same model gives the same bytes (fixed member times). An estimator is
rebuilt from its parameters and state dict, so moving a class between
modules breaks no file. A ``stelrel-model/1`` file (pickled estimators) is
refused with a line that says how to re-create it; nothing in it runs.
"""

import astropy.units as u
import numpy as np

from stellar_relevance._version import __version__
from stellar_relevance.io.provenance import jsonable
from stellar_relevance.report._model_codec import (FORMAT, encode_estimators, fill_values, header_grid,
                                                   label_range, model_from_header, read_archive,
                                                   write_archive)
from stellar_relevance.report._model_prepare import (CHUNK_ROWS, check_frames, continuum_plan, given_labels,
                                                     grid_plan, prepared_rows, warn_far, warn_filled)

__all__ = ["MODEL_FORMAT", "SeedEnsemble", "model_payload", "write_model", "load_model", "model_grid",
           "predict_labels"]

#: The ``format`` entry of every model file.
MODEL_FORMAT = FORMAT


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


def model_payload(estimators, settings, wavelength, split_text, *, preprocessing=None):
    """The content of a model file: a JSON header and named arrays (nothing pickled).

    Parameters
    ----------
    estimators : list
        Fitted ``SpectralRelevanceRegressor`` / ``Classifier`` (one per seed).
    settings : dict
        The ranking's settings (``label``, ``label_unit``, ``wave_frame``,
        ``seeds``, ``given`` ...), stored as JSON.
    wavelength : astropy.units.Quantity
        The pixel grid.
    split_text : str
        The one-line statement of the split.
    preprocessing : dict, optional
        ``fill_values`` (float array, one per pixel: what training put into
        masked or non-finite pixels; default the first estimator's
        ``feature_means_``, recorded as such), ``continuum`` (settings of
        ``apply_continuum``, or None), ``rest_frame`` (bool: were the spectra
        shifted to their rest frame; None: unknown), ``label_range``
        (``(min, max)`` of the training labels).

    Returns
    -------
    dict
        ``header`` (the JSON header, the module docstring lists its fields)
        and ``arrays`` (member name -> numpy array).

    Examples
    --------
    >>> import astropy.units as u
    >>> from stellar_relevance import SpectralRelevanceRegressor
    >>> X = np.random.default_rng(0).normal(size=(40, 4))
    >>> model = SpectralRelevanceRegressor((4,), max_epochs=1).fit(X, X[:, 0])
    >>> settings = {"label": "FEH", "label_unit": "dex", "wave_frame": "air", "seeds": [0]}
    >>> payload = model_payload([model], settings, np.arange(5000.0, 5004.0) * u.AA, "a seeded split")
    >>> header = payload["header"]
    >>> header["format"], header["wavelength"]["values"], header["config"]["hidden_layer_sizes"]
    ('stelrel-model/2', [5000.0, 5001.0, 5002.0, 5003.0], [4])
    >>> header["preprocessing"]["fill_source"], sorted(payload["arrays"])[-1]
    ('estimator feature_means_', 'preprocessing/fill_values.npy')
    """
    preprocessing = dict(preprocessing or {})
    wave = u.Quantity(wavelength, u.AA).value.astype(float)
    entries, arrays = encode_estimators(estimators)
    fill, fill_source = fill_values(preprocessing, estimators, wave.size)
    arrays["preprocessing/fill_values.npy"] = fill
    value_range, range_source = label_range(preprocessing, estimators)
    rest = preprocessing.get("rest_frame")
    header = {
        "format": MODEL_FORMAT,
        "stelrel_version": __version__,
        "label": settings.get("label"),
        "label_unit": settings.get("label_unit"),
        "given": list(settings.get("given") or []),
        "label_range": value_range,
        "label_range_source": range_source,
        "split": split_text,
        "seeds": jsonable(list(settings.get("seeds", []))),
        "settings": jsonable(dict(settings)),
        "config": entries[0]["params"],
        "wavelength": {"values": wave.tolist(), "unit": "Angstrom", "frame": settings.get("wave_frame"),
                       "rest_frame": None if rest is None else bool(rest)},
        "preprocessing": {"fill_values": "preprocessing/fill_values.npy", "fill_source": fill_source,
                          "continuum": jsonable(preprocessing.get("continuum"))},
        "estimators": entries,
    }
    return {"header": header, "arrays": arrays}


def write_model(path, payload):
    """Write a :func:`model_payload` to ``path``, atomically (complete or absent; never over a file).

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
    >>> from pathlib import Path
    >>> import astropy.units as u
    >>> from stellar_relevance import SpectralRelevanceRegressor, load_model
    >>> X = np.random.default_rng(0).normal(size=(40, 4))
    >>> model = SpectralRelevanceRegressor((4,), max_epochs=1).fit(X, X[:, 0])
    >>> payload = model_payload([model], {"label": "FEH", "seeds": [0]}, np.arange(4.0) * u.AA, "a split")
    >>> path = write_model(Path(tempfile.mkdtemp()) / "model.pt", payload)
    >>> load_model(path)["label"], path.name
    ('FEH', 'model.pt')
    """
    from stellar_relevance.io.atomic import atomic_write

    return atomic_write(path, lambda tmp: write_archive(tmp, payload["header"], payload["arrays"]))


def model_grid(path):
    """The wavelength grid of a model file, with its frame (reads the header only; no torch).

    Parameters
    ----------
    path : str or Path
        A ``stelrel-model/2`` file.

    Returns
    -------
    astropy.units.Quantity
        The pixel centres (Angstrom); ``grid.info.meta`` holds ``frame``
        (``"air"`` / ``"vacuum"``) and ``rest_frame`` (True, False or None).

    Raises
    ------
    DataError
        When the file is missing, corrupt or not a ``stelrel-model/2`` file.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import astropy.units as u
    >>> from stellar_relevance import SpectralRelevanceRegressor
    >>> X = np.random.default_rng(0).normal(size=(40, 3))
    >>> fitted = SpectralRelevanceRegressor((4,), max_epochs=1).fit(X, X[:, 0])
    >>> payload = model_payload([fitted], {"label": "FEH", "wave_frame": "vacuum"}, [4000.0, 4001.0, 4002.0] * u.AA,
    ...                         "a split", preprocessing={"rest_frame": True})
    >>> grid = model_grid(write_model(Path(tempfile.mkdtemp()) / "model.pt", payload))
    >>> grid.size, grid.unit, grid.info.meta
    (3, Unit("Angstrom"), {'frame': 'vacuum', 'rest_frame': True})
    """
    header, _ = read_archive(path, arrays=False)
    return header_grid(header, path)


def load_model(path):
    """Read a ``model.pt`` written by :meth:`~stellar_relevance.report.result.RankingResult.save`.

    Nothing in the file is executed: the header is JSON, the arrays are
    ``.npy`` read without pickle, the estimators are rebuilt from an
    allow-list of classes (the module docstring describes the format).

    Parameters
    ----------
    path : str or Path
        The ``model.pt`` of a ``stelrel rank`` output folder.

    Returns
    -------
    dict
        ``estimators`` (list, rebuilt), ``wavelength`` (Quantity, as
        :func:`model_grid`), ``wave_frame``, ``rest_frame``, ``label``,
        ``label_unit``, ``given``, ``label_range``, ``split``, ``seeds``,
        ``settings``, ``config``, ``preprocessing`` (``fill_values`` as an
        array, ``fill_source``, ``continuum``), ``format``,
        ``stelrel_version``.

    Raises
    ------
    DataError
        One line naming the file: missing, corrupt or truncated, a
        ``stelrel-model/1`` file or another pickle (refused, not run), an
        estimator class outside the allow-list.

    Examples
    --------
    A round trip (fit, write, load, predict) is under :func:`predict_labels`.

    >>> from stellar_relevance import load_model
    >>> load_model("no-such-folder/model.pt")
    Traceback (most recent call last):
    ...
    stellar_relevance.exceptions.DataError: no-such-folder/model.pt: model file not found
    """
    header, arrays = read_archive(path)
    return model_from_header(header, arrays, path)


def predict_labels(model, spectra, rtol=1e-6):
    """Labels for ``spectra`` from a loaded model (mean over its seeds), prepared as training prepared them.

    Spectra on another grid are resampled (flux-conserving) onto the
    model's; masked, non-finite and uncovered pixels get the model's fill
    values (counted per spectrum); the recorded continuum rule is applied.
    A warning says how many spectra had pixels filled, and how many
    predictions lie more than the training label range's width outside it.

    Parameters
    ----------
    model : dict
        From :func:`load_model`.
    spectra : SpectralSet
        In the model's frame (air/vacuum, rest/observed), covering its grid.
    rtol : float
        Relative tolerance under which two wavelength grids are the same.

    Returns
    -------
    astropy.table.Table
        ``ID``, ``<label>_pred`` (with the label's unit) and ``n_filled``
        (pixels filled per spectrum), one row per spectrum.

    Raises
    ------
    DataError
        The spectra are in another frame, cover less than the model's grid
        (beyond 1 % of its pixels), or lack given labels the model was
        trained with (``rank --given``).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
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
    >>> table = predict_labels(load_model(path), SpectralSet(wave, X[:3]))
    >>> table.colnames, bool(np.all(table["FEH_pred"] == fitted.predict(X[:3])))
    (['ID', 'FEH_pred', 'n_filled'], True)
    """
    from astropy.table import Table

    check_frames(model, spectra)
    bins, continuum = grid_plan(model, spectra, rtol), continuum_plan(model, spectra)
    given = given_labels(model, spectra)
    ensemble = SeedEnsemble(model["estimators"])
    values, filled = [], []
    for start in range(0, len(spectra), CHUNK_ROWS):
        rows = slice(start, min(start + CHUNK_ROWS, len(spectra)))
        X, n_filled = prepared_rows(model, spectra, rows, bins, continuum)
        values.append(ensemble.predict(X, given=None if given is None else given[rows]))
        filled.append(n_filled)
    values = np.concatenate(values) if values else np.empty(0)
    n_filled = np.concatenate(filled) if filled else np.empty(0, dtype=int)
    label, unit = model["label"], model.get("label_unit")
    warn_filled(n_filled, model, spectra.ids, stacklevel=3)
    warn_far(values, model, spectra.ids, stacklevel=3)
    table = Table({"ID": np.asarray(spectra.ids, dtype=str), f"{label}_pred": values,
                   "n_filled": n_filled.astype(np.int64)})
    table[f"{label}_pred"].unit = unit or None
    table.meta = {"label": label, "resampled": bins is not None, "continuum_applied": continuum is not None}
    return table
