"""Many survey files to one grid: read (in ``jobs`` processes), shift to the rest frame, resample, join labels.

The work is split so that memory does not grow with the number of files:

1. *scan* (only when the grid or the radial velocities are not known up
   front): read every file, keep its IDs, redshift and wavelength span;
2. the label table is joined on the IDs; the common grid is chosen;
3. *resample*: read every file again, shift it to the rest frame
   (``lambda / (1 + z)``), resample it with the flux-conserving resampler
   (:mod:`.resample`) and hand the rows, in file order, to a *sink*: an
   in-memory collector (:func:`~stellar_relevance.io.read_spectra`) or the
   chunked FITS writer (:func:`~stellar_relevance.io.pack_spectra`).
"""

import logging
import warnings

import numpy as np
from astropy import units as u

from stellar_relevance.exceptions import DataError, DataWarning, ParameterError
from stellar_relevance.io._tally import Tally
from stellar_relevance.io._workers import C_KMS, MAX_STELLAR_KMS, plausible, resample_file, run, scan_file
from stellar_relevance.io.continuum import _as_settings
from stellar_relevance.io.labels import MISSING_MARKERS
from stellar_relevance.io.registry import format_of
from stellar_relevance.io.resample import _native_grid, _shifted_extent, default_grid, grid_bins, parse_grid

__all__ = ["ingest", "C_KMS"]

log = logging.getLogger(__name__)


def _check_options(jobs, on_error):
    if on_error not in ("skip", "fail"):
        raise ParameterError("on_error", f"must be 'skip' or 'fail'; got {on_error!r}")
    if not isinstance(jobs, (int, np.integer)) or jobs < 1:
        raise ParameterError("jobs", f"must be a positive integer; got {jobs!r}")


def ingest(paths, sink, *, labels=None, id_column=None, grid=None, rest_frame=True, rv_column=None, jobs=1,
           on_error="skip", formats=None, exposures=False, continuum=None, warn=None, progress=True):
    """Read ``paths`` onto one grid, row by row into ``sink``; return (grid, label table, meta).

    ``sink(summaries, flux_rows, ivar_rows)`` is called with consecutive
    rows in file order (float32, bad pixels NaN / 0). See
    :func:`~stellar_relevance.io.read_spectra` for the parameters.

    Parameters
    ----------
    paths : list of Path
        The files, in order (:func:`~stellar_relevance.io.expand_inputs`).
    sink : callable
        ``sink(summaries, flux_rows, ivar_rows)``: takes the rows.
    labels : astropy.table.Table, optional
        The label table, joined on the spectra's IDs.
    id_column : str, optional
        Its ID column.
    grid : str or astropy.units.Quantity, optional
        The common grid (default: the files' own, or their overlap).
    rest_frame : bool, default=True
        Divide the wavelengths by 1 + z.
    rv_column : str, optional
        A radial-velocity column of ``labels`` (km/s) for z.
    jobs : int, default=1
        Processes reading the files.
    on_error : {"skip", "fail"}, default="skip"
        What a file that cannot be read does.
    formats : sequence of str, optional
        The formats accepted (others are refused).
    exposures : bool, default=False
        LAMOST medium resolution: the single exposures.
    continuum : str or dict, optional
        A continuum rule (:func:`~stellar_relevance.io.continuum_settings`
        or its method name) applied to each row on the grid; the inverse
        variance is multiplied by the continuum squared.
    warn : callable, optional
        Called with each warning text (default: a `DataWarning`).
    progress : bool, default=True
        Show progress bars.

    Returns
    -------
    grid : astropy.units.Quantity
        The common grid (Angstrom).
    labels : astropy.table.Table
        One row per spectrum kept: ``ID``, the labels, ``Z_SHIFT``, ``FILE``.
    meta : dict
        ``survey``, ``formats``, ``frame``, ``rest_frame``, ``flux_unit``
        and the ``ingest`` counts and timings.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from astropy.io import fits
    >>> from astropy.table import Table
    >>> folder, paths = Path(tempfile.mkdtemp()), []
    >>> wave = 3900 * 10 ** (1e-4 * np.arange(300))
    >>> for obsid in (101, 102, 103):  # three LAMOST low-resolution files
    ...     paths.append(folder / f"spec-{obsid}.fits")
    ...     image = np.vstack([np.ones(300), np.full(300, 100.0), wave])
    ...     fits.PrimaryHDU(image, fits.Header({"OBSID": obsid, "Z": 0.0})).writeto(paths[-1])
    >>> chunks = []
    >>> grid, labels, meta = ingest(paths, lambda summaries, flux, ivar: chunks.append(flux.shape),
    ...                             grid="4000:4100:1", labels=Table({"OBSID": [101, 102, 103], "FEH": [-0.5, 0.0, 0.2]}),
    ...                             progress=False)
    >>> grid.size, chunks, labels["ID", "FEH"].as_array().tolist()
    (101, [(1, 101), (1, 101), (1, 101)], [('101', -0.5), ('102', 0.0), ('103', 0.2)])
    >>> meta["survey"], meta["ingest"]["labels"]["matched"]
    ('LAMOST', 3)
    """
    _check_options(jobs, on_error)
    warn = warn or (lambda text: warnings.warn(text, DataWarning, stacklevel=4))
    tally = Tally(on_error, None if formats is None else tuple(formats), warn, single=len(paths) == 1)
    target = None if grid is None else parse_grid(grid).to(u.AA).value
    rule = _as_settings(continuum)
    state = dict(rest_frame=bool(rest_frame), rv_column=rv_column, exposures=exposures, z_override={},
                 continuum=rule,
                 sample_grid=None if target is None else target * u.AA)
    z_override, join_table, counts = {}, None, None
    if labels is not None:
        from stellar_relevance.io.join import join_labels

        join_table = labels
    source = "labels" if labels is None else str(labels.meta.get("source", "labels"))
    summaries = None
    if target is None or (rest_frame and rv_column is not None):
        summaries = []
        for result in run(scan_file, paths, state, jobs, "scanning", progress):
            for summary in tally.accept(result):
                summaries.append(summary)
        tally.one_survey()
        summaries = _dedupe(summaries, warn)
        if not summaries:
            raise DataError(tally.nothing())
        if rest_frame and rv_column is not None:
            if join_table is None:
                raise ParameterError("rv_column", "needs a label table", see=("labels",))
            if rv_column not in join_table.colnames:
                raise DataError(f"{source}: no RV column {rv_column!r} (columns: {', '.join(join_table.colnames)})")
            join_table = _numeric_rv(join_table, rv_column, source)
            joined, _ = join_labels([s["keys"] for s in summaries], join_table, id_column, source,
                                    warn=lambda text: None)
            rv = _velocities(joined, rv_column, source, warn)
            z_override = {s["id"]: float(v) / C_KMS for s, v in zip(summaries, rv) if np.isfinite(v)}
            state["z_override"] = z_override
        if target is None:
            target = _native_grid(summaries, rest_frame, z_override)
            if target is None:
                target = default_grid([_shifted_extent(s, rest_frame, z_override) for s in _for_grid(summaries,
                                                                                                        rest_frame,
                                                                                                        z_override)])
    frames = set()
    lo, hi = grid_bins(target)
    state.update(grid=target, lo=lo, hi=hi)
    kept = []
    seen = set()
    for result in run(resample_file, paths, state, jobs, "resampling", progress):
        rows = tally.accept(result)
        rows = [r for r in rows if _first(r[0], seen, warn if summaries is None else _quiet)]
        if not rows:
            continue
        for summary, _, _ in rows:
            frames.add(summary["frame"])
            if len(frames) > 1:
                raise DataError(f"{result[1]}: wavelengths in {summary['frame']}, the files "
                                f"before it in {(frames - {summary['frame']}).pop()}; read them apart")
        flux = np.vstack([r[1] for r in rows])
        tally.cover(flux)
        sink([r[0] for r in rows], flux, np.vstack([r[2] for r in rows]))
        kept.extend({k: r[0][k] for k in ("id", "keys", "z_applied", "format", "info", "unit")} for r in rows)
    tally.one_survey()
    tally.report()
    if not kept:
        raise DataError(tally.nothing())
    tally.empty_grid(target, repr(grid) if isinstance(grid, str) else "given")
    if join_table is not None:
        table, counts = join_labels([k["keys"] for k in kept], join_table, id_column, source, warn=warn)
    else:
        from astropy.table import Table

        table = Table({"ID": np.array([k["id"] for k in kept], dtype=str)})
    table["Z_SHIFT"] = np.array([k["z_applied"] for k in kept], dtype=float)
    table["Z_SHIFT"].description = "redshift removed: wavelengths divided by (1 + Z_SHIFT)"
    table["FILE"] = np.array([k["keys"].get("FILE", "") for k in kept], dtype=str)
    units = {k["unit"] for k in kept}
    meta = dict(
        survey=tally.family, formats=sorted({k["format"] for k in kept}), frame=frames.pop(),
        rest_frame=bool(rest_frame) and all(format_of(k["format"]).shifts for k in kept), flux_unit=units.pop() if len(units) == 1 else "mixed", continuum=rule,
        ingest=dict(files=len(paths), spectra=len(kept), skipped=len(tally.skipped),
                    skipped_files=[p for p, _ in tally.skipped][:100], labels=counts,
                    read_s=round(tally.read_s, 3), resample_s=round(tally.resample_s, 3), jobs=int(jobs)),
    )
    if rule["method"] != "none":
        meta.update(flux_unit_before_continuum=meta["flux_unit"], flux_unit="")
    return target * u.AA, table, meta


def _dedupe(summaries, warn):
    seen, out = set(), []
    for s in summaries:
        if _first(s, seen, warn):
            out.append(s)
    return out


def _first(summary, seen, warn):
    if summary["id"] in seen:
        warn(f"spectrum ID {summary['id']} appears again in {summary['keys'].get('FILE', '?')}; "
             "the later copy was skipped")
        return False
    seen.add(summary["id"])
    return True


def _quiet(text):
    """Drop a warning already given in the scan pass."""


def _numeric_rv(table, rv_column, source):
    """The label table with its RV column as float (missing cells NaN); a cell that is no number is named."""
    column = table[rv_column]
    if column.dtype.kind in "biuf":
        return table
    cells = np.ma.filled(column.astype(str), "")
    values = np.full(len(cells), np.nan)
    for i, cell in enumerate(cells):
        text = str(cell).strip()
        if text.lower() in MISSING_MARKERS:
            continue
        try:
            values[i] = float(text)
        except ValueError:
            raise DataError(f"{source}: RV column {rv_column!r}, row {i + 1} (counted from 1 after the header): "
                            f"{text!r} is not a number (a radial velocity in km/s)") from None
    table = table.copy(copy_data=False)
    table[rv_column] = values
    table[rv_column].unit = column.unit
    return table


def _velocities(joined, rv_column, source, warn):
    """The joined RV column in km/s; values beyond what a star reaches are warned about by spectrum."""
    column = joined[rv_column]
    rv = np.asarray(column, dtype=float)
    if column.unit is not None:
        rv = (rv * column.unit).to_value(u.km / u.s)
    fast = np.flatnonzero(np.abs(np.nan_to_num(rv)) > MAX_STELLAR_KMS)
    if fast.size:
        named = ", ".join(f"{joined['ID'][i]} ({rv[i]:.4g} km/s)" for i in fast[:5])
        warn(f"{source}: RV column {rv_column!r}: {fast.size} spectra have a velocity beyond "
             f"{MAX_STELLAR_KMS:g} km/s, implausible for a star: {named}{' ...' if fast.size > 5 else ''}")
    return rv


def _for_grid(summaries, rest_frame, z_override):
    """The spectra the default grid is chosen from: those with a plausible shift (all, when none has one).

    A spectrum shifted by an implausible redshift (warned about by name)
    would move the overlap of all spectra; it is resampled onto the grid of
    the others, where it is refused by name if it has no pixel on it.
    """
    if not rest_frame:
        return summaries
    kept = [s for s in summaries if z_override.get(s["id"], s["z"]) is None
            or not np.isfinite(z_override.get(s["id"], s["z"])) or plausible(z_override.get(s["id"], s["z"]))]
    return kept or summaries
