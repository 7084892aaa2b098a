"""One-survey front ends of :func:`~stellar_relevance.io.read_spectra`.

``read_sdss`` and ``read_lamost`` accept only their survey's formats; the
format readers themselves live in :mod:`.sdss` and :mod:`.lamost`, which do
not import the dispatcher (so the package has no import cycle).
"""

from .dispatch import read_spectra

__all__ = ["read_lamost", "read_sdss"]


def read_sdss(files, labels=None, id_column=None, grid=None, **kwargs):
    """Read SDSS ``spec-*.fits`` files into one `SpectralSet` (observed frame unless ``rest_frame=True``).

    A thin front end of :func:`~stellar_relevance.io.read_spectra` that
    accepts only SDSS files (read with specutils' ``"SDSS-III/IV spec"``
    loader).

    Parameters
    ----------
    files : path, folder, glob, ``@list.txt`` or a list of them
    labels : path or `~astropy.table.Table`, optional
        Joined on ``id_column``, matched against the file name without
        ``.fits`` (``spec-0266-51602-0001``), ``PLATE-MJD-FIBER`` or
        ``SPECOBJID`` (whichever matches more rows).
    id_column : str, optional
    grid : str or `~astropy.units.Quantity`, optional
    **kwargs
        Passed to :func:`~stellar_relevance.io.read_spectra`.

    Returns
    -------
    SpectralSet
        Vacuum wavelengths; flux in 1e-17 erg / (s cm2 Angstrom); ``ivar``;
        ``mask`` from ``and_mask`` != 0 or ivar <= 0.
    """
    kwargs.setdefault("rest_frame", False)
    return read_spectra(files, labels=labels, id_column=id_column, grid=grid,
                        formats=("SDSS-III/IV spec", "SDSS-I/II spSpec", "SDSS-V spec"), **kwargs)


def read_lamost(files, labels=None, id_column=None, grid=None, **kwargs):
    """Read LAMOST low- or medium-resolution files into one `SpectralSet`.

    A thin front end of :func:`~stellar_relevance.io.read_spectra` that
    accepts only LAMOST files, in the observed frame unless
    ``rest_frame=True`` is passed (the header ``Z``).

    Parameters
    ----------
    files : path, folder, glob, ``@list.txt`` or a list of them
    labels : path or `~astropy.table.Table`, optional
        Joined on ``id_column``: the header ``OBSID`` or the file name
        without ``.fits`` (whichever matches more rows).
    id_column : str, optional
        The label table's ID column (default: ``OBSID``, ``obsid`` or ``ID``).
    grid : str or `~astropy.units.Quantity`, optional
        Common grid (:func:`~stellar_relevance.io.resample.parse_grid`); by
        default the inputs' own grid when they all share it, else their
        overlap at the median step.
    **kwargs
        Passed to :func:`~stellar_relevance.io.read_spectra`.

    Returns
    -------
    SpectralSet
        Vacuum wavelengths, relative (dimensionless) flux, ``ivar``, ``mask``.
    """
    kwargs.setdefault("rest_frame", False)
    return read_spectra(files, labels=labels, id_column=id_column, grid=grid, formats=("LAMOST-LRS", "LAMOST-MRS"),
                        **kwargs)
