"""What `~stellar_relevance.spectra.SpectralSet` hands to astropy and specutils, and takes back.

The set's methods (``to_frame``, ``to_spectrum``, ``from_spectrum``) and its
label check call these; they import nothing from :mod:`stellar_relevance.spectra`.
"""

import copy
import warnings

import numpy as np
from astropy import units as u
from astropy.table import Table

from stellar_relevance.exceptions import DataError, DataWarning

__all__ = ["label_table", "frame_wavelengths", "spectrum_from_arrays", "arrays_from_spectrum"]


def label_table(labels, n_spectra, where="labels"):
    """A copy of a label table with a unique, stripped str ``ID`` column (``"0"``, ``"1"`` ... when None).

    Parameters
    ----------
    labels : `~astropy.table.Table`, table-like or None
    n_spectra : int
        The rows it must have.
    where : str
        What to name in an error.

    Raises
    ------
    DataError
        No ``ID`` column, the wrong number of rows, duplicate IDs (named with their rows).

    Examples
    --------
    >>> label_table({"ID": [" a", "b"], "FEH": [0.1, -0.2]}, 2)["ID"].tolist()
    ['a', 'b']
    """
    if labels is None:
        return Table({"ID": np.array([str(i) for i in range(n_spectra)], dtype=str)})
    if not isinstance(labels, Table):
        try:
            labels = Table(labels)
        except Exception as exc:  # noqa: BLE001 - re-raised with context
            raise DataError(f"{where}: cannot make an astropy Table from {type(labels).__name__}: {exc}") from exc
    else:
        labels = labels.copy(copy_data=True)
    if "ID" not in labels.colnames:
        raise DataError(
            f"{where}: the label table has no 'ID' column (columns: {', '.join(labels.colnames) or 'none'})"
        )
    if len(labels) != n_spectra:
        raise DataError(f"{where}: the label table has {len(labels)} rows but there are {n_spectra} spectra")
    ids = np.array([str(v).strip() for v in labels["ID"]], dtype=str)
    unique, counts = np.unique(ids, return_counts=True)
    if np.any(counts > 1):
        dup = unique[counts > 1]
        rows = {str(d): np.flatnonzero(ids == d).tolist() for d in dup[:5]}
        raise DataError(f"{where}: duplicate IDs in the 'ID' column: {rows} (ID -> rows)")
    labels.replace_column("ID", ids)
    return labels


def frame_wavelengths(wavelength, frame):
    """Wavelengths converted to ``"air"`` (Morton 2000) or ``"vacuum"`` (its exact iterative inverse).

    Examples
    --------
    >>> air = frame_wavelengths([5000.0] * u.AA, "air")
    >>> float(frame_wavelengths(air, "vacuum")[0].value)
    5000.0
    """
    from specutils.utils.wcs_utils import air_to_vac, vac_to_air

    if frame == "vacuum":  # 'iteration' inverts vac_to_air exactly (the default 'inversion' is off by ~1e-5 A)
        return air_to_vac(wavelength, scheme="iteration", method="Morton2000")
    return vac_to_air(wavelength, method="Morton2000")


def spectrum_from_arrays(wavelength, flux, flux_unit, ivar, mask, labels, wave_frame, meta):
    """A specutils `~specutils.Spectrum` (2-D flux) with the labels and frame in its ``meta``.

    Examples
    --------
    >>> labels = Table({"ID": ["a", "b"]})
    >>> wave = [5000.0, 5001.0, 5002.0] * u.AA
    >>> spectrum = spectrum_from_arrays(wave, np.ones((2, 3)), u.Jy, None, None, labels, "air", {})
    >>> spectrum.flux.shape, spectrum.meta["wave_frame"], spectrum.meta["labels"]["ID"].tolist()
    ((2, 3), 'air', ['a', 'b'])
    """
    from astropy.nddata import InverseVariance
    from specutils import Spectrum

    uncertainty = None if ivar is None else InverseVariance(ivar, unit=flux_unit ** -2)
    meta = copy.deepcopy(meta)
    meta["labels"] = labels.copy()
    meta["wave_frame"] = wave_frame
    return Spectrum(flux=flux * flux_unit, spectral_axis=wavelength, uncertainty=uncertainty, mask=mask, meta=meta,
                    spectral_axis_index=np.ndim(flux) - 1)


def arrays_from_spectrum(spectrum, labels=None, wave_frame=None):
    """The `SpectralSet` arguments of a specutils `~specutils.Spectrum` (see ``SpectralSet.from_spectrum``).

    Returns
    -------
    dict
        ``wavelength``, ``flux`` (Quantity), ``ivar``, ``mask``, ``labels``,
        ``wave_frame``, ``meta``; a reversed (frequency) axis is turned around.

    Examples
    --------
    >>> from specutils import Spectrum
    >>> spectrum = Spectrum(flux=[1.0, 2.0] * u.Jy, spectral_axis=[5001.0, 5000.0] * u.AA,
    ...                     meta={"wave_frame": "vacuum"})
    >>> arguments = arrays_from_spectrum(spectrum)
    >>> arguments["wavelength"].value.tolist(), arguments["flux"].value.tolist(), arguments["wave_frame"]
    ([5000.0, 5001.0], [2.0, 1.0], 'vacuum')
    """
    meta = {k: v for k, v in dict(spectrum.meta or {}).items() if k not in ("labels", "wave_frame")}
    if labels is None:
        labels = (spectrum.meta or {}).get("labels")
    if wave_frame is None:
        wave_frame = (spectrum.meta or {}).get("wave_frame")
        if wave_frame is None:
            warnings.warn("from_spectrum: the Spectrum does not say whether its wavelengths are in air "
                          "or vacuum (meta['wave_frame']); assumed 'air'", DataWarning, stacklevel=3)
            wave_frame = "air"
    wavelength = u.Quantity(spectrum.spectral_axis).to(u.AA, equivalencies=u.spectral())
    flux = spectrum.flux
    ivar = None
    if spectrum.uncertainty is not None:
        from astropy.nddata import InverseVariance

        ivar = np.asarray(spectrum.uncertainty.represent_as(InverseVariance).array, dtype=float)
    mask = None if spectrum.mask is None else np.asarray(spectrum.mask, dtype=bool)
    if wavelength.size > 1 and wavelength[0] > wavelength[-1]:  # e.g. a frequency axis
        wavelength = wavelength[::-1]
        flux = flux[..., ::-1]
        ivar = None if ivar is None else ivar[..., ::-1]
        mask = None if mask is None else mask[..., ::-1]
    return dict(wavelength=wavelength, flux=u.Quantity(flux), ivar=ivar, mask=mask, labels=labels,
                wave_frame=wave_frame, meta=meta)
