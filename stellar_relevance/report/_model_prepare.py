"""Spectra made ready for a loaded model: frame checks, resampling onto its grid, continuum, filled pixels.

Each step repeats what training did, with the facts the model file
recorded (:mod:`.model_file` lists them); the rows are handled in chunks of
:data:`CHUNK_ROWS`, so a memory-mapped survey store is read, never copied
whole.
"""

import logging
import warnings

import astropy.units as u
import numpy as np

from stellar_relevance.exceptions import DataError, DataWarning
from stellar_relevance.io.resample import bin_edges, grid_bins, resample

__all__ = ["CHUNK_ROWS", "MAX_UNCOVERED_FRACTION", "check_frames", "grid_plan", "continuum_plan", "prepared_rows",
           "given_labels", "warn_filled", "warn_far"]

log = logging.getLogger(__name__)

#: Spectra prepared and predicted at a time.
CHUNK_ROWS = 2048
#: The share of the model's pixels that may lie beyond the spectra's grid (they are filled, as bad pixels are).
MAX_UNCOVERED_FRACTION = 0.01


def _frame_word(rest):
    return "the rest frame (shifted by their redshift)" if rest else "the observed frame (not shifted)"


def check_frames(model, spectra):
    """DataError when the spectra's air/vacuum or rest/observed frame differs from the model's."""
    frame = model.get("wave_frame")
    if frame and spectra.wave_frame != frame:
        raise DataError(f"the spectra are in {spectra.wave_frame} wavelengths but the model was trained in {frame} "
                        "wavelengths; read or pack them in the model's frame")
    rest, theirs = model.get("rest_frame"), spectra.meta.get("rest_frame")
    if rest is not None and theirs is not None and bool(rest) != bool(theirs):
        option = "without --no-rest-frame (rest_frame=True)" if rest else "with --no-rest-frame (rest_frame=False)"
        raise DataError(f"the spectra are in {_frame_word(theirs)} but the model was trained in {_frame_word(rest)}; "
                        f"pack them {option}")


def grid_plan(model, spectra, rtol):
    """None when the spectra are on the model's grid, else the model's bins ``(lo, hi)`` to resample onto.

    Raises DataError when more than :data:`MAX_UNCOVERED_FRACTION` of the
    model's pixels lie beyond the spectra's grid.
    """
    grid = u.Quantity(model["wavelength"], u.AA).value
    wave = u.Quantity(spectra.wavelength, u.AA).value
    if grid.shape == wave.shape and np.allclose(grid, wave, rtol=rtol, atol=0):
        return None
    lo, hi = grid_bins(grid)
    edges = bin_edges(wave)
    below, above = int(np.sum(lo < edges[0])), int(np.sum(hi > edges[-1]))
    allowed = max(2, int(MAX_UNCOVERED_FRACTION * grid.size))
    if below + above > allowed:
        raise DataError(
            f"the spectra's wavelength grid does not match the model's: the spectra cover {edges[0]:.2f}-"
            f"{edges[-1]:.2f} Angstrom ({wave.size} pixels), the model's grid {lo[0]:.2f}-{hi[-1]:.2f} Angstrom "
            f"({grid.size} pixels); {below} of its pixels lie below and "
            f"{above} above the spectra (at most {allowed} are filled); read or pack the spectra onto the model's "
            "grid (stelrel pack --grid-from MODEL)")
    log.info("resampling %d-pixel spectra onto the model's %d-pixel grid (%d pixels beyond them are filled)",
             wave.size, grid.size, below + above)
    return lo, hi


def _rule_text(rule):
    if rule.get("method", "none") == "none":
        return "the flux as stored (no continuum normalisation)"
    return (f"flux divided by its running {rule.get('percentile')}th percentile over {rule.get('window')} "
            f"{rule.get('window_unit', 'Angstrom')}")


def continuum_plan(model, spectra):
    """The continuum rule to apply to the spectra (None: nothing); DataError when theirs is another rule.

    Spectra already normalised with the model's rule (``meta["continuum"]``,
    as a packed file records it) are used as they are.
    """
    wanted = model["preprocessing"].get("continuum") or {"method": "none"}
    theirs = spectra.meta.get("continuum") or {"method": "none"}
    if theirs.get("method", "none") == "none":
        return None if wanted.get("method", "none") == "none" else wanted
    keys = ("method", "window", "window_unit", "percentile")
    if {k: theirs.get(k) for k in keys} == {k: wanted.get(k) for k in keys}:
        return None
    advice = "without continuum normalisation" if wanted.get("method", "none") == "none" else \
        "with the model's rule, or without normalisation (predict then applies it)"
    raise DataError(f"the spectra hold {_rule_text(theirs)} but the model was trained on {_rule_text(wanted)}; "
                    f"read or pack them {advice}")


def prepared_rows(model, spectra, rows, bins, continuum):
    """The flux of ``spectra[rows]`` on the model's grid, continuum applied, bad pixels filled; and n filled.

    ``bins``: the model's bins to resample onto (None: the spectra are on its
    grid); ``continuum``: the rule to apply (None: none). A pixel is bad when
    it is masked, not finite, or (resampled) touches a bad pixel or lies
    beyond the spectra; it gets the model's fill value. As in training, the
    flux is resampled (then float32, as a packed store holds it), divided by
    its continuum (in the flux's own float type), then filled.
    """
    mask = None if spectra.mask is None else np.asarray(spectra.mask[rows], dtype=bool)
    if bins is None:
        flux = np.array(spectra.flux[rows])
        flux = flux.astype(flux.dtype.newbyteorder("=") if flux.dtype.kind == "f" else np.float64, copy=False)
        bad = ~np.isfinite(flux) if mask is None else (mask | ~np.isfinite(flux))
    else:
        flux = np.array(spectra.flux[rows], dtype=np.float64)
        if mask is not None:
            flux[mask] = np.nan
        ivar = None if spectra.ivar is None else np.asarray(spectra.ivar[rows], dtype=np.float64)
        flux, new_ivar = resample(u.Quantity(spectra.wavelength, u.AA).value, flux, ivar, *bins)
        flux = np.atleast_2d(flux).astype(np.float32)
        bad = ~np.isfinite(flux) if new_ivar is None else (~np.isfinite(flux) | ~(np.atleast_2d(new_ivar) > 0))
    if continuum is not None:
        from stellar_relevance.io.continuum import apply_continuum

        some = np.flatnonzero((~bad).any(axis=1))  # a spectrum with no good pixel is all filled
        normalised = np.full(flux.shape, np.nan, dtype=np.float32)
        normalised[some] = apply_continuum(np.where(bad, np.nan, flux)[some], model["wavelength"], continuum)
        flux = normalised
        bad |= ~np.isfinite(flux)
    fill = np.asarray(model["preprocessing"]["fill_values"]).astype(flux.dtype)
    flux[bad] = np.broadcast_to(fill, flux.shape)[bad]
    return flux, bad.sum(axis=1)


def given_labels(model, spectra):
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


def warn_filled(n_filled, model, ids, stacklevel):
    """Say how many spectra had pixels filled, and which are mostly filled."""
    n_pixels, source = model["wavelength"].size, model["preprocessing"].get("fill_source")
    touched = np.flatnonzero(n_filled)
    if not touched.size:
        return
    median, most = int(np.median(n_filled[touched])), int(n_filled.max())
    warnings.warn(f"{touched.size} of {len(n_filled)} spectra have masked, non-finite or uncovered pixels, filled "
                  f"with the model's fill values ({source}) at those pixels (median {median}, at most {most} of "
                  f"{n_pixels} pixels per spectrum; column n_filled)", DataWarning, stacklevel=stacklevel)
    mostly = np.flatnonzero(n_filled > n_pixels / 2)
    if mostly.size:
        warnings.warn(f"{mostly.size} spectra have more than half their pixels filled (e.g. IDs "
                      f"{[str(ids[i]) for i in mostly[:5]]}): their predictions rest on the fill values, not on "
                      "their flux", DataWarning, stacklevel=stacklevel)


def warn_far(values, model, ids, stacklevel):
    """Warn when predictions lie more than the training range's width outside that range."""
    label_range, label, unit = model.get("label_range"), model["label"], model.get("label_unit")
    if label_range is None or values.dtype.kind not in "fiu":
        return
    lo, hi = label_range
    width = hi - lo
    if not width > 0:
        return
    far = np.flatnonzero((values < lo - width) | (values > hi + width))
    if far.size:
        examples = ", ".join(f"{ids[i]}: {values[i]:.4g}" for i in far[:3])
        warnings.warn(f"{far.size} of {len(values)} predictions of {label} lie more than the training range's width "
                      f"outside it ({lo:.4g} to {hi:.4g}{' ' + unit if unit else ''}; e.g. {examples}): these "
                      "spectra are unlike the training set (survey, flux scale, continuum); do not trust their labels",
                      DataWarning, stacklevel=stacklevel)
