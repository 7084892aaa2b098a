"""Several labels in one run: one result folder per label and one figure of their relevance spectra together.

``stelrel rank --label FEH,TEFF,LOGG --out out`` writes ``out/FEH/``,
``out/TEFF/``, ``out/LOGG/`` (each as a single-label run writes ``out/``)
and ``out/relevance_by_label.png`` (:func:`plot_relevance_by_label`: one
panel per label, sharing the wavelength axis).
"""

import io
import logging
from pathlib import Path

import astropy.units as u
import numpy as np

from stellar_relevance.io.atomic import atomic_write
from stellar_relevance.exceptions import ParameterError
from stellar_relevance.report.outputs import OUTPUT_FILES, check_output_dir, existing_results
from stellar_relevance.report.html import _spread_band, label_display_name

__all__ = ["BY_LABEL_FIGURE", "parse_labels", "label_dirs", "completed_labels", "check_label_outputs",
           "plot_relevance_by_label", "write_relevance_by_label"]

logger = logging.getLogger(__name__)

#: The combined figure of a several-label run, written into ``--out``.
BY_LABEL_FIGURE = "relevance_by_label.png"


def parse_labels(text):
    """``"FEH,TEFF"`` -> ``("FEH", "TEFF")``; ParameterError naming ``label`` for empty names or duplicates.

    Examples
    --------
    >>> parse_labels("FEH, TEFF,LOGG")
    ('FEH', 'TEFF', 'LOGG')
    """
    names = tuple(part.strip() for part in str(text).split(","))
    if any(not name for name in names):
        raise ParameterError("label", f"{text!r}: expected comma-separated label names, one of them is empty")
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ParameterError("label", f"{text!r} names {', '.join(duplicates)} more than once")
    return names


def label_dirs(out, labels):
    """Label -> its result folder: ``out`` itself for one label, ``out/<label>`` for several.

    Parameters
    ----------
    out : str or Path
        The ``--out`` folder.
    labels : sequence of str
        The labels of the run (:func:`parse_labels`).

    Returns
    -------
    dict
        Label -> `pathlib.Path`.

    Examples
    --------
    >>> {label: str(path) for label, path in label_dirs("out", ("FEH",)).items()}
    {'FEH': 'out'}
    >>> {label: str(path) for label, path in label_dirs("out", ("FEH", "TEFF")).items()}
    {'FEH': 'out/FEH', 'TEFF': 'out/TEFF'}
    """
    out = Path(out).expanduser()
    if len(labels) == 1:
        return {labels[0]: out}
    return {label: out / label for label in labels}


def completed_labels(out, labels):
    """The labels whose result folder holds a complete result (every file of :data:`OUTPUT_FILES`).

    A folder is moved into place whole when its result is saved, so a run
    stopped part-way leaves the labels it finished complete and the others
    absent: these are the labels a resumed run keeps.

    Parameters
    ----------
    out : str or pathlib.Path
        The output folder given to ``rank``, as for :func:`label_dirs`.
    labels : sequence of str
        The labels asked for, as for :func:`label_dirs`.

    Returns
    -------
    tuple of str
        In the order of ``labels``.

    Examples
    --------
    >>> import tempfile
    >>> from stellar_relevance.report.outputs import OUTPUT_FILES
    >>> out = Path(tempfile.mkdtemp())
    >>> (out / "FEH").mkdir()
    >>> for name in OUTPUT_FILES:
    ...     _ = (out / "FEH" / name).write_bytes(b"")
    >>> completed_labels(out, ("FEH", "TEFF", "LOGG"))
    ('FEH',)
    """
    folders = label_dirs(out, labels)
    return tuple(label for label in labels if len(existing_results(folders[label])) == len(OUTPUT_FILES))


def check_label_outputs(out, labels, overwrite=False):
    """Check every result folder (and the combined figure) can be written, before any work.

    Parameters
    ----------
    out : str or Path
        The ``--out`` folder.
    labels : sequence of str
        The labels of the run.
    overwrite : bool, default=False
        Whether existing results may be replaced.

    Returns
    -------
    dict
        Label -> its result folder (:func:`label_dirs`).

    Raises
    ------
    FileExistsError
        When a folder holds results, or the combined figure exists, and
        ``overwrite`` is False.

    Examples
    --------
    >>> import tempfile
    >>> out = Path(tempfile.mkdtemp())
    >>> sorted(check_label_outputs(out, ("FEH", "TEFF")))
    ['FEH', 'TEFF']
    >>> _ = (out / BY_LABEL_FIGURE).write_bytes(b"")  # a figure from an earlier run
    >>> check_label_outputs(out, ("FEH", "TEFF"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    FileExistsError: .../relevance_by_label.png exists; pass --overwrite (overwrite=True) to replace it
    """
    folders = label_dirs(out, labels)
    for folder in folders.values():
        check_output_dir(folder, overwrite=overwrite)
    figure = Path(out).expanduser() / BY_LABEL_FIGURE
    if len(labels) > 1 and figure.exists() and not overwrite:
        raise FileExistsError(f"{figure} exists; pass --overwrite (overwrite=True) to replace it")
    return folders


def plot_relevance_by_label(results):
    """The relevance spectra of several labels, one panel per label sharing the wavelength axis.

    Each panel shows the mean relevance over seeds (black, top pixels red)
    and its ±1 standard deviation band where several seeds were trained.

    Parameters
    ----------
    results : sequence of RankingResult
        On the same wavelength grid.

    Returns
    -------
    matplotlib.figure.Figure
        One row of axes per result.

    Examples
    --------
    >>> from stellar_relevance import make_synthetic_spectra, rank_spectra
    >>> spectra = make_synthetic_spectra(n_spectra=200)
    >>> results = [rank_spectra(spectra, label, hidden_layer_sizes=(8,), max_epochs=1, ks=(10, "all"),
    ...                         n_permutations=10) for label in ("FEH", "TEFF")]
    >>> fig = plot_relevance_by_label(results)
    >>> len(fig.axes), fig.axes[-1].get_xlabel()
    (2, 'wavelength [Å, air]')
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 1.2 + 2.0 * len(results)), layout="constrained")
    axes = np.atleast_1d(fig.subplots(len(results), 1, sharex=True, squeeze=False)[:, 0])
    for ax, result in zip(axes, results):
        ranking = result.ranking
        order = np.argsort(np.asarray(ranking["pixel"]))
        wave = u.Quantity(ranking["wavelength"], u.AA).value[order]
        relevance = np.asarray(ranking["relevance"], float)[order]
        std = np.asarray(ranking["relevance_std"], float)[order] if "relevance_std" in ranking.colnames else None
        _spread_band(ax, wave, relevance, std if std is not None and np.isfinite(std).any() else None)
        top = int(result.settings.get("top", 30))
        is_top = np.asarray(ranking["rank"])[order] <= top
        ax.vlines(wave[~is_top], 0, relevance[~is_top], color="black", lw=0.6)
        ax.vlines(wave[is_top], 0, relevance[is_top], color="tab:red", lw=1.1, label=f"top {top}")
        ax.set_ylim(0, max(relevance.max() * 1.08, 1e-12))
        given = result.settings.get("given") or []
        name = label_display_name(result.settings.get("label"))
        if given:
            name += " given " + ", ".join(label_display_name(g) for g in given)
        ax.set_ylabel("relevance", fontsize=8)
        ax.set_title(f"{name}: test MAE {result.metrics.get('test_mae', float('nan')):.3g} "
                     f"{result.settings.get('label_unit') or ''}", fontsize=8.5, loc="left")
        ax.set_xlim(wave[0], wave[-1])
    axes[0].legend(loc="upper right", fontsize=7.5, frameon=False)
    axes[-1].set_xlabel("wavelength [Å, " + str(results[0].settings.get("wave_frame", "air")) + "]")
    return fig


def write_relevance_by_label(results, out, overwrite=False, dpi=110):
    """Write :func:`plot_relevance_by_label` to ``out/relevance_by_label.png`` atomically.

    Parameters
    ----------
    results : sequence of RankingResult
        On the same wavelength grid.
    out : str or Path
        The folder (created if needed).
    overwrite : bool, default=False
        Replace an existing figure; otherwise :class:`FileExistsError`.
    dpi : int, default=110
        Resolution of the PNG image.

    Returns
    -------
    pathlib.Path
        The PNG file written.

    Examples
    --------
    >>> import tempfile
    >>> from stellar_relevance import make_synthetic_spectra, rank_spectra
    >>> spectra = make_synthetic_spectra(n_spectra=200)
    >>> results = [rank_spectra(spectra, label, hidden_layer_sizes=(8,), max_epochs=1, ks=(10, "all"),
    ...                         n_permutations=10) for label in ("FEH", "TEFF")]
    >>> write_relevance_by_label(results, tempfile.mkdtemp(), dpi=40).name
    'relevance_by_label.png'
    """
    buffer = io.BytesIO()
    plot_relevance_by_label(results).savefig(buffer, format="png", dpi=dpi)
    data = buffer.getvalue()
    path = Path(out).expanduser() / BY_LABEL_FIGURE
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: Path(tmp).write_bytes(data), overwrite=overwrite)
    logger.info("wrote %s", path)
    return path
