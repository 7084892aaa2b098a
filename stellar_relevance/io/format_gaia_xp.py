"""Gaia DR3 XP (BP/RP) continuous spectra, sampled onto a wavelength grid with ``gaiaxpy``.

The archive delivers basis-function coefficients (CSV, ECSV or FITS), not
sampled spectra. ``gaiaxpy.calibrate`` turns them into flux on a grid using
the published bases it ships (no network). It is an optional dependency:
``pip install "stellar-relevance[gaia]"``.

Sampled spectra are in vacuum, flux in W m-2 nm-1, one record per
``source_id``. They are not shifted to the rest frame: at the XP resolution
(R ~ 30-100) a few hundred km/s moves a line by less than a hundredth of a
pixel; ``meta`` says so.
"""

import contextlib
import io
import logging
import warnings
from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.io import fits

from stellar_relevance.exceptions import DataError
from stellar_relevance.io.records import Format, Record, arm_from_arrays

__all__ = ["is_gaia_xp", "gaia_records", "XP_RANGE_NM", "XP_FLUX_UNIT", "FORMATS"]

log = logging.getLogger(__name__)

#: Wavelength range gaiaxpy can sample (nm).
XP_RANGE_NM = (336.0, 1020.0)
#: Flux unit of calibrated XP spectra.
XP_FLUX_UNIT = u.W / u.m ** 2 / u.nm
_COLUMNS = {"source_id", "bp_coefficients", "rp_coefficients"}


def is_gaia_xp(path, hdul=None):
    """True for a Gaia XP continuous-spectra file (CSV / ECSV with the coefficient columns, or FITS).

    Parameters
    ----------
    path : str or Path
        The file (a CSV or ECSV is recognised by its first lines).
    hdul : astropy.io.fits.HDUList, optional
        The open file, for a FITS file.

    Returns
    -------
    bool
        Whether :func:`gaia_records` is the reader.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> path = Path(tempfile.mkdtemp()) / "XP_CONTINUOUS_RAW.csv"
    >>> _ = path.write_text("source_id,bp_coefficients,rp_coefficients,bp_n_parameters\\n")
    >>> is_gaia_xp(path), is_gaia_xp(path.with_name("spectrum.fits"))
    (True, False)
    """
    if hdul is not None:
        for hdu in hdul[1:]:
            if isinstance(hdu, fits.BinTableHDU) and _COLUMNS <= {c.lower() for c in hdu.columns.names}:
                return True
        return False
    name = str(path).lower()
    if name.endswith((".csv", ".ecsv", ".csv.gz")):
        opener = __import__("gzip").open if name.endswith(".gz") else open
        with opener(path, "rt", errors="replace") as handle:
            head = handle.read(20000)
        lines = [ln for ln in head.splitlines() if ln and not ln.startswith("#")]
        return bool(lines) and _COLUMNS <= {c.strip().strip('"').lower() for c in lines[0].split(",")}
    return False


@contextlib.contextmanager
def _keep_matplotlib_settings():
    """Undo gaiaxpy's change of matplotlib's global ``text.usetex`` (True: every later plot needs LaTeX).

    gaiaxpy imports its modules lazily, so the change can happen at import or at the first call.
    """
    import matplotlib

    saved = dict(matplotlib.rcParams)
    try:
        yield
    finally:
        changed = {k: v for k, v in saved.items() if matplotlib.rcParams.get(k) != v}
        if changed:
            matplotlib.rcParams.update(changed)


class _Discard(io.TextIOBase):
    """A text stream that drops what is written to it."""

    def write(self, text):
        return len(text)


@contextlib.contextmanager
def _third_party_warnings_logged():
    """gaiaxpy's and pandas' own warnings (deprecations, parsing notes) go to the debug log, not to the user.

    They concern those libraries, not the data; stelrel's own findings are `DataWarning`s raised outside.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for warning in caught:
        log.debug("gaiaxpy: %s: %s", warning.category.__name__, warning.message)


def _gaiaxpy():
    try:
        # gaiaxpy binds its progress bars to the sys.stdout of its import (``from sys import stdout``), where
        # gaia_records' redirection cannot reach them: imported under a null stdout, they stay silent
        with _keep_matplotlib_settings(), contextlib.redirect_stdout(_Discard()), _third_party_warnings_logged():
            import gaiaxpy
    except ImportError:
        raise DataError("reading Gaia XP spectra needs the optional 'gaia' extra: "
                        "pip install 'stellar-relevance[gaia]' (installs gaiaxpy)") from None
    return gaiaxpy


def gaia_records(path, grid=None):
    """One `Record` per source of a Gaia XP continuous-spectra file.

    Parameters
    ----------
    path : Path
        A continuous-spectra file from the Gaia archive (CSV, ECSV or FITS).
    grid : `~astropy.units.Quantity`, optional
        Wavelengths to sample at (inside 336-1020 nm); default gaiaxpy's
        own sampling (336-1020 nm in 2 nm steps).

    Returns
    -------
    list of Record
        One per ``source_id``: vacuum wavelengths, flux in
        :data:`XP_FLUX_UNIT`, ``z`` = 0 (not shifted).

    Raises
    ------
    DataError
        gaiaxpy is not installed (the message names the extra), the grid
        is outside the XP range, or gaiaxpy cannot read the file.

    Examples
    --------
    The Gaia XP file shipped for the tests (``../shared/data/surveys``):

    >>> records = gaia_records("../shared/data/surveys/XP_CONTINUOUS_RAW.csv")  # doctest: +SKIP

    Here on a one-source file written first (its coefficients made up: the
    first basis function only), sampled every 20 nm:

    >>> import tempfile
    >>> from pathlib import Path
    >>> def coefficients(first, rest=0.0, n=55):
    ...     return '"(' + ", ".join([str(first)] + [str(rest)] * (n - 1)) + ')"'
    >>> columns = {"source_id": "42", "solution_id": "1"}
    >>> for band, basis in (("bp", 56), ("rp", 57)):
    ...     columns.update({f"{band}_basis_function_id": str(basis), f"{band}_n_parameters": "55",
    ...                     f"{band}_standard_deviation": "1.0", f"{band}_n_relevant_bases": "55",
    ...                     f"{band}_coefficients": coefficients(1e4),
    ...                     f"{band}_coefficient_errors": coefficients(10.0, 10.0),
    ...                     f"{band}_coefficient_correlations": coefficients(0.0, n=55 * 54 // 2)})
    >>> path = Path(tempfile.mkdtemp()) / "XP_CONTINUOUS_RAW.csv"
    >>> _ = path.write_text(",".join(columns) + "\\n" + ",".join(columns.values()) + "\\n")
    >>> [record] = gaia_records(path, grid=np.arange(400.0, 1000.0, 20.0) * u.nm)
    >>> record.keys, record.format, record.flux_unit == XP_FLUX_UNIT, record.arms[0].wavelength[:3].tolist()
    ({'source_id': '42'}, 'Gaia-XP', True, [4000.0, 4200.0, 4400.0])
    """
    gaiaxpy = _gaiaxpy()
    sampling = None
    if grid is not None:
        nm = u.Quantity(grid).to_value(u.nm)
        inside = (nm >= XP_RANGE_NM[0]) & (nm <= XP_RANGE_NM[1])
        if not inside.any():
            raise DataError(f"{path}: the grid {nm[0]:.1f}-{nm[-1]:.1f} nm lies outside the Gaia XP range "
                            f"{XP_RANGE_NM[0]:g}-{XP_RANGE_NM[1]:g} nm")
        sampling = nm[inside]
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()), \
                _keep_matplotlib_settings(), _third_party_warnings_logged():
            frame, sampled = gaiaxpy.calibrate(str(path), sampling=sampling, save_file=False)
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001 - gaiaxpy's own errors become one DataError
        raise DataError(f"{path}: gaiaxpy cannot calibrate this file: {exc}") from exc
    wave_aa = np.asarray(sampled, dtype=float) * 10.0
    out = []
    for i, row in enumerate(frame.itertuples(index=False)):
        flux = np.asarray(row.flux, dtype=float)
        err = np.asarray(row.flux_error, dtype=float)
        with np.errstate(divide="ignore"):
            ivar = np.where(err > 0, 1.0 / err ** 2, 0.0)
        arm = arm_from_arrays("XP", wave_aa, flux, ivar, where=f"{path}[source {row.source_id}]")
        out.append(Record(keys={"source_id": str(row.source_id)}, source=str(path), format="Gaia-XP",
                          arms=[arm], frame="vacuum", flux_unit=XP_FLUX_UNIT, z=0.0,
                          info={"rest_frame_note": "Gaia XP: not shifted (resolution R ~ 30-100)"}))
    if not out:
        raise DataError(f"{path}: no sources")
    return out


def _identify(path, hdul):
    return "Gaia-XP" if is_gaia_xp(path, hdul) else None


def _read(path, hdul, label, sample_grid=None, sampling=None, **options):
    """The registry's reader; ``sampling`` is the name specutils' ``Spectrum.read`` callers pass."""
    return gaia_records(Path(path), sample_grid if sample_grid is not None else sampling)


#: The registry's entry (:mod:`.registry`): FITS or CSV/ECSV files; never shifted to the rest frame.
FORMATS = (
    Format("Gaia-XP", identify=_identify, read=_read, inputs=("fits", "text"), priority=30, specutils="Spectrum",
           shifts=False),
)
