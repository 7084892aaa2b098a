"""``read_spectra`` and ``pack_spectra``: whatever the user names, to a `SpectralSet` or a packed file."""

import contextlib
import logging
from pathlib import Path

import numpy as np
from astropy import units as u

from stellar_relevance.exceptions import DataError, ParameterError
from stellar_relevance.spectra import SpectralSet
from stellar_relevance.io._common import WarningLog, is_fits
from stellar_relevance.io.continuum import _as_settings, _normalised_set
from stellar_relevance.io.inputs import expand_inputs
from stellar_relevance.io.miles import PARAM_FILES
from stellar_relevance.io.registry import find_set

__all__ = ["read_spectra", "pack_spectra", "input_kind"]

log = logging.getLogger(__name__)


def _single(paths):
    """The one path when ``paths`` names exactly one existing file or folder, else None."""
    if isinstance(paths, (list, tuple)) and len(paths) == 1:
        paths = paths[0]
    if isinstance(paths, (str, Path)) and str(paths).strip() and not str(paths).startswith("@"):
        path = Path(paths).expanduser()
        if path.exists():
            return path
    return None


def _refuse_miles_folder_without_parameters(path, n_checked=5):
    """A folder of plain 1-D FITS spectra (MILES style) but no parameter table: say what is missing."""
    if not path.is_dir():
        return
    fits_files = sorted(p for p in path.iterdir() if p.is_file() and is_fits(p))[:n_checked]
    if fits_files and all(find_set(p) is not None for p in fits_files):
        raise DataError(f"{path}: a folder of 1-D FITS spectra without a MILES parameter table "
                        f"(one of {', '.join(PARAM_FILES)}); add the table, or give the labels of survey files")


def _set_format(paths, labels=None):
    """The set format (MILES folder, packed file, FITS image) that reads ``paths`` whole, else None."""
    single = _single(paths)
    if single is None:
        return None
    fmt = find_set(single)
    if fmt is None and labels is None:
        _refuse_miles_folder_without_parameters(single)
    return fmt


def input_kind(paths, labels=None):
    """How :func:`read_spectra` reads ``paths``: ``"miles"``, ``"packed"`` or ``"survey"``.

    A single MILES folder (with its parameter table) is ``"miles"``; a single
    packed file or FITS image with a spectral WCS is ``"packed"``; anything
    else is survey files. The registry (:mod:`.registry`) decides.

    Raises
    ------
    DataError
        A single folder of plain 1-D FITS spectra without a MILES parameter
        table (and no ``labels``): it says what is missing.

    Examples
    --------
    >>> import tempfile
    >>> input_kind(tempfile.mkdtemp() + "/spec-*.fits")
    'survey'
    """
    fmt = _set_format(paths, labels)
    if fmt is None:
        return "survey"
    return "miles" if "folder" in fmt.inputs else "packed"


#: read_spectra options that only survey files take (jobs, on_error and rest_frame do not change a set)
_SURVEY_ONLY = ("labels", "id_column", "grid", "rv_column", "formats", "exposures", "recursive")


def _not_survey(fmt, path, kwargs):
    """The reader's own options of a set format (``params``, ``include_omitted`` for MILES; none for a packed file).

    A survey-only option is a ParameterError; ``jobs``, ``on_error``,
    ``rest_frame``, ``progress`` and ``continuum`` are not the reader's and
    are left out.
    """
    what = "a MILES folder" if "folder" in fmt.inputs else "a packed spectra file"
    for name in _SURVEY_ONLY:
        if kwargs.get(name) not in (None, False):
            raise ParameterError(name, f"applies to survey files; {path} is {what}")
    own = {k: v for k, v in kwargs.items() if k in fmt.options}
    unknown = sorted(set(kwargs) - set(_SURVEY_ONLY) - set(own) - {"jobs", "on_error", "rest_frame", "progress",
                                                                   "continuum"})
    if unknown:
        raise TypeError(f"read_spectra: unexpected options {unknown} for {what}")
    return own


def _survey_options(kwargs):
    allowed = {"labels", "id_column", "grid", "rest_frame", "rv_column", "jobs", "on_error", "formats", "exposures",
               "progress", "continuum", "recursive"}
    unknown = sorted(set(kwargs) - allowed)
    if unknown:
        raise TypeError(f"read_spectra: unexpected options {unknown} for survey files")
    options = dict(kwargs)
    options.pop("recursive", None)  # for expand_inputs, not for the ingest
    if options.get("labels") is not None:
        from stellar_relevance.io.labels import read_label_table

        options["labels"] = read_label_table(options["labels"], options.get("id_column"))
    return options


def read_spectra(paths, **kwargs):
    """Read spectra from files, folders, globs or ``@list.txt``, whatever the survey.

    - a MILES folder (with its parameter table): :func:`read_miles`;
    - one packed file (:func:`write_packed`) or a FITS image with a spectral
      WCS: :func:`read_packed`;
    - otherwise survey files of one survey: LAMOST low resolution (both
      layouts) and medium resolution (two arms), SDSS, APOGEE and DESI
      (through specutils' registry), Gaia XP continuous spectra (needs the
      ``gaia`` extra). Each is shifted to its rest frame, resampled
      (flux-conserving, :mod:`~stellar_relevance.io.resample`) onto one grid
      and joined with a label table.

    Parameters
    ----------
    paths : str, Path or list of them
        Files, folders (their FITS files), glob patterns, ``"@list.txt"``.
    labels : path or `~astropy.table.Table`, optional
        CSV / ECSV / FITS label table.
    id_column : str, optional
        Its ID column; default the first of ``ID``, ``OBSID``,
        ``SPECOBJID``, ``source_id``, ``TARGETID``, ``APOGEE_ID``, ``FILE``
        it has. It is matched against each spectrum's IDs (LAMOST ``OBSID``
        or file name; SDSS file name, ``PLATE-MJD-FIBER`` or ``SPECOBJID``;
        Gaia ``source_id``; DESI ``TARGETID``; APOGEE ID), whichever matches
        more rows. Matched, unmatched and duplicated IDs are counted in
        ``meta["ingest"]["labels"]`` and warned about by name.
    grid : str or `~astropy.units.Quantity`, optional
        ``"3800:8900:1.0"`` (Angstrom), ``"log:3800:8900:1e-4"``, or a
        Quantity. Default: the inputs' own grid when they share it and are
        not shifted, else a log-linear grid inside their overlap (per arm)
        at their median step.
    rest_frame : bool, default True
        Divide each spectrum's wavelengths by ``1 + z``: ``z`` from the file
        (LAMOST header ``Z``, SDSS ``SPECOBJ.Z``) or ``rv_column / c``. A
        spectrum without a redshift is refused (skipped with a warning, or
        an error with ``on_error="fail"``). The shift is in the label
        column ``Z_SHIFT``.
    rv_column : str, optional
        Label column with the radial velocity (km/s unless it has a unit).
    jobs : int, default 1
        Processes that read and resample.
    on_error : {"skip", "fail"}
        An unreadable file (or one of another survey) is skipped with a
        warning and counted in ``meta["ingest"]["skipped"]``, or stops the
        run.
    formats : sequence of str, optional
        Accept only these format labels (e.g. ``("LAMOST-LRS",)``).
    exposures : bool
        LAMOST medium resolution: the single exposures instead of the coadd.
    recursive : bool, default False
        Folders with their subfolders (archives nest their files:
        ``fits/<date>/<plan>/spec-*.fits.gz``); off, a folder stands for its
        own files, and one whose files are all in subfolders is a
        ParameterError that says so.
    continuum : {"none", "running"} or dict, default "none"
        Divide each spectrum by its pseudo-continuum
        (:func:`~stellar_relevance.io.normalise_continuum`; a dict from
        :func:`~stellar_relevance.io.continuum_settings` sets the window and
        percentile). The inverse variance is multiplied by the continuum
        squared, the flux becomes dimensionless, and ``meta["continuum"]``
        records the rule. A set that is already normalised is refused.
    progress : bool, default True
        tqdm bars while reading (shown on a terminal only).

    Returns
    -------
    SpectralSet
        ``meta``: ``survey``, ``formats``, ``rest_frame``, ``grid``,
        ``ingest`` (counts, timing), ``warnings``.

    Raises
    ------
    DataError
        Nothing readable, no overlap, a label table that matches no ID,
        conflicting duplicated label IDs, air and vacuum mixed.
    ParameterError
        A malformed ``grid``, ``jobs`` or ``on_error``.

    Examples
    --------
    >>> from stellar_relevance.io import read_spectra
    >>> s = read_spectra("../shared/data/surveys/spec-5*.fits*")  # doctest: +SKIP
    """
    fmt = _set_format(paths, kwargs.get("labels"))
    if fmt is not None:
        rule = _as_settings(kwargs.get("continuum"))
        spectra = fmt.read(_single(paths), **_not_survey(fmt, _single(paths), kwargs))
        return _normalised_set(spectra, rule, str(_single(paths)))
    from stellar_relevance.io.ingest import ingest

    options = _survey_options(kwargs)
    files = expand_inputs(paths, recursive=bool(kwargs.get("recursive")))
    warn = WarningLog()
    chunks = {"flux": [], "ivar": []}

    def collect(summaries, flux, ivar):
        chunks["flux"].append(flux)
        chunks["ivar"].append(ivar)

    grid, labels, meta = ingest(files, collect, warn=warn, **options)
    flux = np.vstack(chunks["flux"])
    ivar = np.vstack(chunks["ivar"])
    meta.update(reader="read_spectra", warnings=list(warn.messages), grid=_grid_text(grid))
    unit = u.Unit(meta["flux_unit"]) if meta["flux_unit"] != "mixed" else u.dimensionless_unscaled
    return SpectralSet(grid, flux, ivar=ivar, mask=~np.isfinite(flux), labels=labels, wave_frame=meta["frame"],
                       meta=meta, flux_unit=unit)


def _grid_text(grid):
    g = grid.to_value(u.AA)
    return dict(start=float(g[0]), stop=float(g[-1]), n_pixels=int(g.size), unit="Angstrom")


@contextlib.contextmanager
def _named(output):
    """A text-encoding error while writing ``output`` becomes a DataError that names it."""
    try:
        yield
    except UnicodeError as exc:
        raise DataError(f"{output}: cannot write the packed file: {exc}") from exc


def _output_path(output):
    """The packed file to write, or a ParameterError (parameter ``output``) when none is named."""
    if output is None or not str(output).strip():
        raise ParameterError("output", "is required: the packed file to write (e.g. 'train.fits')")
    if not isinstance(output, (str, Path)):
        raise ParameterError("output", f"must be a path; got {type(output).__name__}")
    path = Path(output).expanduser()
    if path.is_dir() or str(output).endswith(("/", "\\")):
        raise ParameterError("output", f"{output} is a folder; name the file to write in it (e.g. {path / 'train.fits'})")
    return path


def pack_spectra(paths, output, *, overwrite=False, continuum="none", **kwargs):
    """Read survey files like :func:`read_spectra` and write them to one packed file, in chunks.

    Memory does not grow with the number of files: rows go to scratch
    files beside ``output`` as they are resampled, and the FITS file is
    assembled a chunk at a time, atomically (complete or absent).

    Parameters
    ----------
    paths : str, Path or list of them
        As for :func:`read_spectra`: files, folders, globs or ``@list.txt``.
        A MILES folder or a packed file is read whole and written with
        :func:`~stellar_relevance.io.write_packed` (no survey options).
    output : str or Path
        The packed file to write.
    overwrite : bool
        Replace an existing ``output``; otherwise FileExistsError before
        anything is read.
    continuum : {"none", "running"} or dict, default "none"
        Divide each spectrum by its pseudo-continuum as it is packed (see
        :func:`read_spectra`); the rule goes to the file's ``meta["continuum"]``
        and its ``CONTNORM`` header card, so a reader knows the flux is
        normalised.
    **kwargs
        The options of :func:`read_spectra` (``labels``, ``grid``,
        ``rest_frame``, ``jobs`` ...).

    Returns
    -------
    dict
        ``meta`` of the packed set (``ingest`` counts and timing, including
        ``write_s``), with ``output``.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> import astropy.units as u
    >>> from stellar_relevance import SpectralSet, pack_spectra, read_packed, write_packed
    >>> folder = Path(tempfile.mkdtemp())
    >>> packed = write_packed(SpectralSet(np.arange(5000.0, 5010.0) * u.AA, np.ones((3, 10))), folder / "a.fits")
    >>> info = pack_spectra(packed, folder / "b.fits")
    >>> Path(info["output"]).name, read_packed(folder / "b.fits").flux.shape
    ('b.fits', (3, 10))
    """
    import time

    from stellar_relevance.io.ingest import ingest
    from stellar_relevance.io.stream import PackedStream

    output = _output_path(output)
    if not output.parent.is_dir():
        raise DataError(f"{output}: the folder {output.parent} does not exist")
    if output.exists() and not overwrite:
        raise FileExistsError(f"{output}: already exists; pass overwrite=True to replace it")
    rule = _as_settings(continuum)
    fmt = _set_format(paths, kwargs.get("labels"))
    if fmt is not None:  # a MILES folder or a packed file: read whole (it is small), written as one
        from stellar_relevance.io.packed import write_packed

        own = _not_survey(fmt, _single(paths), kwargs)
        if output.resolve() == _single(paths).resolve():
            raise ParameterError("output", f"{output} is the input")
        spectra = read_spectra(_single(paths), continuum=rule, **own)
        with _named(output):
            write_packed(spectra, output, overwrite=overwrite)
        return dict(spectra.meta, output=str(output), n_spectra=len(spectra), continuum=rule)
    options = _survey_options(dict(kwargs, continuum=rule))
    if options.get("labels") is not None:
        bad = [name for name in options["labels"].colnames if not name.isascii()]
        if bad:
            raise DataError(f"{options['labels'].meta.get('source', 'labels')}: column names {bad} are not ASCII; "
                            "a packed file (FITS) holds ASCII column names only: rename them")
    files = expand_inputs(paths, recursive=bool(kwargs.get("recursive")))
    resolved = {p.resolve() for p in files}
    if output.resolve() in resolved:
        raise ParameterError("output", f"{output} is one of the inputs")
    warn = WarningLog()
    with PackedStream(output, overwrite=overwrite) as stream:
        write_s = [0.0]

        def sink(summaries, flux, ivar):
            t0 = time.perf_counter()
            stream(summaries, flux, ivar)
            write_s[0] += time.perf_counter() - t0

        grid, labels, meta = ingest(files, sink, warn=warn, **options)
        meta.update(reader="pack_spectra", warnings=list(warn.messages), grid=_grid_text(grid))
        t0 = time.perf_counter()
        with _named(output):
            stream.finish(grid, labels, meta["frame"], meta["flux_unit"] if meta["flux_unit"] != "mixed" else "",
                          meta)
        meta["ingest"]["write_s"] = round(write_s[0] + time.perf_counter() - t0, 3)
    meta["output"] = str(output)
    return meta
