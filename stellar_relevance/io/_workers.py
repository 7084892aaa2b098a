"""The per-file work of :func:`~stellar_relevance.io.ingest.ingest`, run in the main process or in ``jobs`` workers.

``scan_file`` reads a file and keeps what choosing the grid needs (IDs,
redshift, span); ``resample_file`` reads it again, shifts each spectrum to
its rest frame, resamples it onto the grid (and divides it by its
continuum when asked). ``run`` yields their results in file order. A worker
never raises nor warns: a file it cannot use comes back as ``("error",
path, message, label, see)``, and the driver decides (``on_error``); implausible values
(a header redshift beyond 1000 km/s, all-zero flux) come back as notes that
the driver warns about once.
"""

import logging
import multiprocessing
import time
import traceback

import numpy as np

from stellar_relevance.exceptions import DataError
from stellar_relevance.io.continuum import _normalise_rows
from stellar_relevance.io.registry import read_records
from stellar_relevance.io.resample import resample

log = logging.getLogger(__name__)

#: Speed of light in km/s (z = v / c for a catalogue RV, as LAMOST and SDSS define it).
C_KMS = 299792.458
#: Faster than this (km/s) is implausible for a star of the Galaxy: a warning names the spectrum.
MAX_STELLAR_KMS = 1000.0
_STATE = {}


def _init(state):
    _STATE.clear()
    _STATE.update(state)


def _summary(rec):
    return dict(id=rec.id, keys=rec.keys, z=rec.z, frame=rec.frame, unit=rec.flux_unit.to_string(),
                format=rec.format, extent=rec.extent(), info=rec.info,
                native=rec.arms[0].wavelength if len(rec.arms) == 1 else None)


def _read(path):
    return read_records(path, exposures=_STATE.get("exposures", False), sample_grid=_STATE.get("sample_grid"))


def _failure(path, exc, label=None):
    """``("error", path, message, label, see)``: the label when the file's format was known, the
    parameters that would resolve it (:attr:`DataError.see`)."""
    if isinstance(exc, DataError):  # named by its file, also when the reader could not know it (a missing extra)
        text = exc.text if str(path) in exc.text else f"{path}: {exc.text}"
        return ("error", str(path), text, label, exc.see)
    log.debug("%s", traceback.format_exc())
    return ("error", str(path), f"{path}: cannot read: {type(exc).__name__}: {exc}", label, ())


def scan_file(path):
    try:
        label, records, refused = _read(path)
    except Exception as exc:  # noqa: BLE001 - reported per file; on_error decides
        return _failure(path, exc)
    notes = []
    if _STATE["rest_frame"] and not _STATE.get("rv_column"):  # the header redshift will be applied
        notes = [n for rec in records if rec.z is not None and np.isfinite(rec.z) for n in _notes(rec, rec.z)]
    return ("ok", str(path), label, [_summary(r) for r in records], 0.0, 0.0, refused, notes)


def _redshift(rec):
    if not _STATE["rest_frame"]:
        return 0.0
    z = _STATE["z_override"].get(rec.id, rec.z)
    source = f"the {_STATE['rv_column']!r} column of the labels" if _STATE.get("rv_column") else \
        "the file (header Z)"
    if z is None or not np.isfinite(z):
        raise DataError(f"{rec.source}: spectrum {rec.id}: no redshift in {source}; give the radial velocities "
                        "in the label table, or keep the observed frame", see=("rv_column", "rest_frame"))
    if z <= -1.0:
        raise DataError(f"{rec.source}: spectrum {rec.id}: redshift {z:.6g} from {source} is impossible "
                        "(1 + z <= 0: faster than light)")
    return float(z)


def plausible(z):
    """False for a redshift beyond what a star of the Galaxy reaches (`MAX_STELLAR_KMS`)."""
    return abs(z) * C_KMS <= MAX_STELLAR_KMS


def _notes(rec, z):
    """Warnings about implausible values of one spectrum (given by the main process, once)."""
    notes = []
    if rec.id not in _STATE["z_override"] and not plausible(z):  # an RV column is checked apart
        notes.append(f"{rec.source}: spectrum {rec.id}: header redshift Z = {z:.6g} ({z * C_KMS:.4g} km/s) is "
                     f"implausible for a star (beyond {MAX_STELLAR_KMS:g} km/s); its wavelengths were divided by "
                     f"1 + Z (check the file's CLASS, or give an RV column)")
    good = [arm.flux[np.isfinite(arm.flux)] for arm in rec.arms]
    if all(np.all(values == 0) for values in good):
        notes.append(f"{rec.source}: spectrum {rec.id}: the flux is zero at every good pixel")
    return notes


def _on_grid(rec, z):
    """Flux and ivar of one record on the common grid (float32 rows)."""
    centers, lo, hi = _STATE["grid"], _STATE["lo"], _STATE["hi"]
    if z == 0.0 and len(rec.arms) == 1 and rec.arms[0].wavelength.size == centers.size and \
            np.array_equal(rec.arms[0].wavelength, centers):
        return rec.arms[0].flux.astype(np.float32), rec.arms[0].ivar.astype(np.float32)
    total_f = np.zeros(centers.size)
    total_w = np.zeros(centers.size)
    for arm in rec.arms:
        flux, ivar = resample(arm.wavelength / (1.0 + z), arm.flux, arm.ivar, lo, hi)
        ok = np.isfinite(flux) & (ivar > 0)
        total_f[ok] += flux[ok] * ivar[ok]
        total_w[ok] += ivar[ok]
    with np.errstate(invalid="ignore", divide="ignore"):
        flux = np.where(total_w > 0, total_f / total_w, np.nan)
    return flux.astype(np.float32), total_w.astype(np.float32)


def resample_file(path):
    t0 = time.perf_counter()
    try:
        label, records, refused = _read(path)
    except Exception as exc:  # noqa: BLE001
        return _failure(path, exc)
    t1 = time.perf_counter()
    rows, notes = [], []
    try:
        for rec in records:
            z = _redshift(rec)
            notes.extend(_notes(rec, z))
            flux, ivar = _on_grid(rec, z)
            rule = _STATE["continuum"]
            if rule["method"] != "none" and np.isfinite(flux).any():
                flux, ivar = _normalise_rows(flux[None], ivar[None], _STATE["grid"], rule,
                                             names=[f"{rec.source}: spectrum {rec.id}"])
                flux, ivar = flux[0], ivar[0]
            if not np.isfinite(flux).any():
                span = ", ".join(f"{a.wavelength[0] / (1 + z):.1f}-{a.wavelength[-1] / (1 + z):.1f}" for a in rec.arms)
                raise DataError(f"{rec.source}: spectrum {rec.id}: no good pixel on the grid "
                                f"{_STATE['grid'][0]:.1f}-{_STATE['grid'][-1]:.1f} Angstrom (the data cover "
                                f"{span} Angstrom)")
            summary = _summary(rec)
            summary.update(z_applied=z, native=None)
            rows.append((summary, flux, ivar))
    except Exception as exc:  # noqa: BLE001
        return _failure(path, exc, label)
    return ("ok", str(path), label, rows, t1 - t0, time.perf_counter() - t1, refused, notes)


def _pool_context():
    """Worker processes forked from a fresh single-threaded server ("forkserver"), not from this process.

    Forking a process that runs other threads (torch's, tqdm's monitor, a
    caller's) can copy a lock held by one of them into the child, which then
    waits on it for ever: a test run hung so. The server imports this module
    once; each worker is forked from it. Where there is no forkserver
    (Windows, macOS without it) the platform's default start method is used.
    """
    methods = multiprocessing.get_all_start_methods()
    if "forkserver" not in methods:
        return multiprocessing.get_context()
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    return context


def run(worker, paths, state, jobs, desc, progress=True):
    """Yield the worker's results in file order, in ``jobs`` processes, with a progress bar (unless not ``progress``)."""
    from tqdm.auto import tqdm

    bar = tqdm(total=len(paths), desc=desc, unit="file", disable=None if progress else True, leave=False)
    try:
        if jobs <= 1 or len(paths) < 2:
            _init(state)
            for path in paths:
                yield worker(path)
                bar.update()
            return
        context = _pool_context()
        with context.Pool(jobs, initializer=_init, initargs=(state,)) as pool:
            for result in pool.imap(worker, paths, chunksize=max(1, min(32, len(paths) // (4 * jobs)))):
                yield result
                bar.update()
    finally:
        bar.close()
