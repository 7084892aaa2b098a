"""The pipeline's data steps: the spectra with the label, bad pixels filled, and the train/test split.

Used by :func:`~stellar_relevance.ranking.pipeline.rank_spectra`; each function
states its facts (warnings go to ``notes`` as well, for the result's
provenance).
"""

import sys
import warnings
from pathlib import Path
from types import SimpleNamespace

import astropy.units as u
import numpy as np

import stellar_relevance.nn.batches as batches
from stellar_relevance.exceptions import DataError, DataWarning
from stellar_relevance.ranking.conditioning import check_label

__all__ = ["select_labelled", "split_train_test", "MIN_TEST_SPECTRA", "MIN_LABEL_SPREAD"]

#: Fewer test spectra than this and the test MAE is flagged as unreliable.
MIN_TEST_SPECTRA = 20
#: A label whose values spread (max - min) over at most this share of max(1, |median|) is refused as constant.
MIN_LABEL_SPREAD = 1e-6


def _caller_stacklevel():
    """The stack level of the first frame outside this package (where the user called in)."""
    package = str(Path(__file__).resolve().parent)
    frame, level = sys._getframe(1), 1
    while frame is not None and str(Path(frame.f_code.co_filename).resolve()).startswith(package):
        frame, level = frame.f_back, level + 1
    return level


def note(notes, message, category=DataWarning):
    """Warn (pointing at the user's call), and remember the message for the result's provenance."""
    notes.append(message)
    warnings.warn(message, category, stacklevel=_caller_stacklevel())


def _row_chunks(X):
    """Slices of about :data:`~stellar_relevance.nn.batches.CHUNK_BYTES` of float64 rows (no whole-array temporary)."""
    step = max(1, batches.CHUNK_BYTES // (8 * max(1, X.shape[1])))
    return [slice(start, min(start + step, X.shape[0])) for start in range(0, X.shape[0], step)]


def _bad(subset, X, rows):
    """(flux as float64, finite, bad = masked or non-finite) for the rows ``rows``."""
    chunk = np.asarray(X[rows], dtype=np.float64)
    finite = np.isfinite(chunk)
    return chunk, finite, (~finite if subset.mask is None else (np.asarray(subset.mask[rows]) | ~finite))


def _fill_bad_pixels(subset, X, notes):
    """Masked and non-finite pixels -> the mean of the other spectra at that pixel (warned, by star).

    Two passes over row chunks (a memory-mapped flux is read, never copied
    whole): per-pixel sums of the good and of the finite values, then, only
    when something is bad, one filled copy in ``X``'s float type.

    Returns
    -------
    X : numpy.ndarray
        ``X`` itself when nothing is bad, else the filled copy.
    fill : numpy.ndarray of float32
        The value of each pixel that fills it: the mean of its good values
        (of its finite values where every one is masked; NaN where none is
        finite).
    empty : numpy.ndarray of int
        Pixels without a finite value in any spectrum (left NaN).
    """
    n_pixels = X.shape[1]
    good_sum, good_count = np.zeros(n_pixels), np.zeros(n_pixels)
    finite_sum, finite_count = np.zeros(n_pixels), np.zeros(n_pixels)
    bad_rows, bad_pixels, any_nonfinite = [], {}, False
    for rows in _row_chunks(X):
        chunk, finite, bad = _bad(subset, X, rows)
        good_sum += np.where(bad, 0.0, chunk).sum(axis=0)
        good_count += (~bad).sum(axis=0)
        finite_sum += np.where(finite, chunk, 0.0).sum(axis=0)
        finite_count += finite.sum(axis=0)
        any_nonfinite |= not finite.all()
        for i in np.flatnonzero(bad.any(axis=1)):
            bad_rows.append(rows.start + i)
            if len(bad_pixels) < 10:
                bad_pixels[rows.start + i] = np.flatnonzero(bad[i])
    with np.errstate(invalid="ignore", divide="ignore"):
        fill = np.where(good_count > 0, good_sum / good_count, finite_sum / finite_count)
    if not bad_rows:
        return X, fill.astype(np.float32), np.empty(0, dtype=int)
    wave = u.Quantity(subset.wavelength, u.AA).value
    details = "; ".join(f"{subset.ids[i]} ({len(px)} px, {wave[px].min():.1f}-{wave[px].max():.1f} A)"
                        for i, px in bad_pixels.items())
    kind = "masked or non-finite" if any_nonfinite else "masked"
    note(notes, f"{len(bad_rows)} spectra have {kind} pixels, filled with the mean flux of the other spectra at "
          f"those pixels: {details}{' ...' if len(bad_rows) > 10 else ''}")
    filled = np.empty(X.shape, dtype=X.dtype if X.dtype.kind == "f" else np.float64)
    for rows in _row_chunks(X):
        chunk, _, bad = _bad(subset, X, rows)
        filled[rows] = np.where(bad, fill[None, :], chunk)
    return filled, fill.astype(np.float32), np.flatnonzero(finite_count == 0)


def _drop_missing_given(subset, label, given, notes):
    """The spectra whose given labels are all finite; the others are dropped with a warning naming how many."""
    for name in given:
        keep = subset._label_finite(name)
        if not keep.all():
            note(notes, f"{int((~keep).sum())} of {len(subset)} spectra with label {label!r} have no finite value of "
                  f"the given label {name!r} and were dropped")
            subset = subset[keep]
    return subset


def _check_not_constant(y, label):
    """DataError naming ``label`` when its values are (nearly) all the same: nothing to learn, nothing to rank."""
    spread = float(np.max(y) - np.min(y))
    scale = max(1.0, abs(float(np.median(y))))
    if spread <= MIN_LABEL_SPREAD * scale:
        what = f"holds the single value {float(y[0]):g}" if spread == 0 else (
            f"varies only by {spread:.3g} around {float(np.median(y)):g}")
        raise DataError(f"label {label!r} {what} in all {len(y)} spectra with it: a constant label carries no "
                        "information to rank pixels by; choose a label that varies between the stars")


def _normalised(subset, X, rule):
    """``X`` divided by its pseudo-continuum, bad pixels (masked or non-finite) left out of it and left NaN.

    The order :func:`~stellar_relevance.report.model_file.predict_labels` uses:
    continuum first, then the fill, so a model fills new spectra as training
    filled these. A spectrum without a good pixel stays NaN (it is filled whole).
    """
    from stellar_relevance.io.continuum import apply_continuum

    wave = u.Quantity(subset.wavelength, u.AA)
    out = np.empty(X.shape, dtype=np.float32)
    for rows in _row_chunks(X):
        chunk, _, bad = _bad(subset, X, rows)
        some = np.flatnonzero((~bad).any(axis=1))
        block = np.full(chunk.shape, np.nan, dtype=np.float32)
        block[some] = apply_continuum(np.where(bad, np.nan, chunk)[some], wave, rule)
        out[rows] = block
    return out


def select_labelled(spectra, label, min_labels, notes, given=(), return_fill=False, continuum=None):
    """The spectra with a finite ``label`` (and finite ``given`` labels), their (filled) flux and the label values.

    Masked and non-finite pixels are filled with the mean of the other
    spectra at that pixel (after the continuum normalisation, when one is
    asked for); every such fact is warned and added to ``notes``.

    Parameters
    ----------
    spectra : SpectralSet
        The spectra with their label table.
    label : str
        The label to predict.
    min_labels : int
        The fewest spectra with a finite label that are accepted.
    notes : list
        The messages warned are appended here (for the result's provenance).
    given : sequence of str, default=()
        Labels fed to the network as known; spectra without them are dropped.
    return_fill : bool, default=False
        Also return the value that fills each pixel (what a model file
        records, so that new spectra are filled the same way).
    continuum : dict, optional
        A continuum rule (:func:`~stellar_relevance.io.continuum.continuum_settings`):
        each spectrum is divided by its pseudo-continuum (bad pixels left
        out of it) before the bad pixels are filled, with the mean of the
        other spectra's normalised flux.

    Returns
    -------
    subset : SpectralSet
        The spectra kept.
    X : numpy.ndarray
        Their flux, filled.
    y : numpy.ndarray
        Their label values.
    G : numpy.ndarray or None
        The given labels, one column each (None when none are given).
    fill : numpy.ndarray of float32
        Only with ``return_fill``: the value that fills each pixel.

    Raises
    ------
    DataError
        No such label, a non-numeric one, fewer than ``min_labels`` finite
        values, a constant label, or a pixel with no finite flux at all.

    Examples
    --------
    >>> from stellar_relevance import make_synthetic_spectra
    >>> spectra = make_synthetic_spectra(n_spectra=30)
    >>> subset, X, y, G = select_labelled(spectra, "FEH", 20, notes=[], given=("TEFF",))
    >>> len(subset), X.shape, y.shape, G.shape
    (30, (30, 4300), (30,), (30, 1))
    >>> select_labelled(spectra, "VMAC", 20, notes=[])
    Traceback (most recent call last):
    ...
    stellar_relevance.exceptions.DataError: no label 'VMAC' in the spectra; available labels: TEFF, LOGG, FEH
    """
    check_label(spectra, label)
    subset = _drop_missing_given(spectra.with_label(label), label, given, notes)
    if len(subset) < min_labels:
        raise DataError(
            f"label {label!r} has only {len(subset)} usable (finite) values out of {len(spectra)} spectra"
            f"{' (with finite given labels)' if given else ''}; "
            f"at least {min_labels} are needed"
        )
    X, y = subset.to_xy(label, copy=False)  # the flux as stored: a memory map stays one
    _check_not_constant(y, label)
    if continuum is not None and continuum.get("method", "none") != "none":
        X = _normalised(subset, X, continuum)
    X, fill, bad_pixels = _fill_bad_pixels(subset, X, notes)
    if bad_pixels.size:
        wave = u.Quantity(subset.wavelength, u.AA).value
        raise DataError(
            f"{bad_pixels.size} pixels (e.g. {wave[bad_pixels[0]]:.1f} A) have no finite flux in any spectrum "
            f"with label {label!r}; the network needs finite flux at every pixel"
        )
    G = np.column_stack([np.asarray(np.ma.getdata(subset._label_column(g)), dtype=float) for g in given]) if given else None
    return (subset, X, y, G, fill) if return_fill else (subset, X, y, G)


def _split_indices(y, test_fraction, random_state):
    """Seeded train/test split, stratified on label quintiles when every stratum has two members.

    Returns
    -------
    train, test : numpy.ndarray of int
    stratified : bool
        False when it fell back to a plain random split.
    """
    from sklearn.model_selection import train_test_split

    n = len(y)
    n_test = int(round(test_fraction * n))
    if n_test < 2 or n - n_test < 10:
        raise DataError(
            f"a test fraction of {test_fraction} of {n} spectra leaves {n_test} test and "
            f"{n - n_test} training spectra; need at least 2 and 10"
        )
    edges = np.quantile(y, np.linspace(0, 1, min(5, n_test) + 1)[1:-1])
    strata = np.digitize(y, edges)
    if np.min(np.bincount(strata)) < 2:
        strata = None
    train, test = train_test_split(np.arange(n), test_size=n_test, random_state=random_state, stratify=strata)
    return np.sort(train), np.sort(test), strata is not None


def _split_by_ids(subset, test_ids, label):
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
    return train_idx, test_idx


def split_train_test(subset, X, y, p, notes, G=None):
    """Train/test arrays (and given labels ``G``) and the split's facts; warns when the test set is too small.

    Parameters
    ----------
    subset, X, y : SpectralSet, numpy.ndarray, numpy.ndarray
        From :func:`select_labelled`.
    p : types.SimpleNamespace
        The settings: ``test_ids`` (None: a seeded split), ``test_fraction``,
        ``random_state`` and ``label``.
    notes : list
        The warning about a small test set is appended here.
    G : numpy.ndarray, optional
        The given labels (:func:`select_labelled`).

    Returns
    -------
    types.SimpleNamespace
        ``train_idx``, ``test_idx``, ``stratified`` (split on label
        quintiles); ``X``, ``y``, ``G`` (all the labelled spectra: the
        training rows are ``X[train_idx]``, read through ``sample_index``,
        never copied); ``y_train``; ``X_test``, ``y_test``, ``G_train``,
        ``G_test`` (copies of the test rows).

    Examples
    --------
    >>> from stellar_relevance import make_synthetic_spectra
    >>> subset, X, y, G = select_labelled(make_synthetic_spectra(n_spectra=200), "FEH", 20, notes=[])
    >>> p = SimpleNamespace(test_ids=None, test_fraction=0.1, random_state=0, label="FEH")
    >>> data = split_train_test(subset, X, y, p, notes=[])
    >>> data.X[data.train_idx].shape, data.X_test.shape, data.stratified
    ((180, 4300), (20, 4300), True)
    """
    if p.test_ids is None:
        train_idx, test_idx, stratified = _split_indices(y, p.test_fraction, p.random_state)
    else:
        (train_idx, test_idx), stratified = _split_by_ids(subset, p.test_ids, p.label), False
    if len(test_idx) < MIN_TEST_SPECTRA:
        note(notes, f"only {len(test_idx)} test spectra: the test MAE rests on few stars and its standard error "
              f"is large; use more spectra or a larger test fraction (at least {MIN_TEST_SPECTRA} test spectra "
              "are advised)")
    return SimpleNamespace(
        train_idx=train_idx, test_idx=test_idx, stratified=stratified,
        X=X, y=y, G=G, y_train=y[train_idx], X_test=X[test_idx], y_test=y[test_idx],
        G_train=None if G is None else G[train_idx], G_test=None if G is None else G[test_idx],
    )
