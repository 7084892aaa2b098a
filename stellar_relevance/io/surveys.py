"""One-survey front ends of :func:`~stellar_relevance.io.read_spectra`.

``read_sdss`` and ``read_lamost`` accept only their survey's formats; the
format readers themselves live in :mod:`.format_sdss` and
:mod:`.format_lamost`, which do not import the dispatcher (so the package
has no import cycle).
"""

from stellar_relevance.io.dispatch import read_spectra

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

    Examples
    --------
    The SDSS file shipped for the tests (``../shared/data/surveys``):

    >>> spectra = read_sdss("../shared/data/surveys/spec-0266-51602-0031.fits")  # doctest: +SKIP

    Here on two small files written first, with a label table joined on
    plate-MJD-fibre:

    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from astropy.io import fits
    >>> from astropy.table import Table
    >>> folder, n = Path(tempfile.mkdtemp()), 300
    >>> for fiber in (31, 32):
    ...     coadd = fits.BinTableHDU(Table({"flux": np.ones(n, "f4"), "loglam": 3.6 + 1e-4 * np.arange(n),
    ...                                     "ivar": np.ones(n, "f4"), "and_mask": np.zeros(n, "i4")}))
    ...     header = fits.Header({"PLATEID": 266, "MJD": 51602, "FIBERID": fiber})
    ...     fits.HDUList([fits.PrimaryHDU(header=header), coadd]).writeto(folder / f"spec-0266-51602-{fiber:04d}.fits")
    >>> labels = Table({"PLATE-MJD-FIBER": ["0266-51602-0031", "0266-51602-0032"], "FEH": [-0.5, 0.1]})
    >>> spectra = read_sdss(folder, labels=labels, id_column="PLATE-MJD-FIBER", progress=False)
    >>> spectra.n_spectra, spectra.n_pixels, spectra.wave_frame, spectra.labels["FEH"].tolist()
    (2, 300, 'vacuum', [-0.5, 0.1])
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

    Examples
    --------
    The LAMOST files shipped for the tests (``../shared/data/surveys``):

    >>> spectra = read_lamost("../shared/data/surveys/spec-5*.fits*")  # doctest: +SKIP

    Here on two small low-resolution files written first (the DR1-DR7
    image layout), with a label table joined on ``OBSID``:

    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from astropy.io import fits
    >>> from astropy.table import Table
    >>> folder = Path(tempfile.mkdtemp())
    >>> wave = 3900 * 10 ** (1e-4 * np.arange(300))
    >>> for obsid in (101, 102):
    ...     image = np.vstack([np.ones(300), np.full(300, 100.0), wave, np.zeros(300), np.zeros(300)])
    ...     fits.PrimaryHDU(image, fits.Header({"OBSID": obsid, "Z": 1e-4})).writeto(folder / f"spec-{obsid}.fits")
    >>> labels = Table({"OBSID": [101, 102], "FEH": [-0.5, 0.1]})
    >>> observed = read_lamost(folder, labels=labels, progress=False)
    >>> observed.n_spectra, observed.labels["ID", "FEH", "Z_SHIFT"].as_array().tolist()
    (2, [('101', -0.5, 0.0), ('102', 0.1, 0.0)])
    >>> rest = read_lamost(str(folder / "spec-*.fits"), labels=labels, rest_frame=True, progress=False)
    >>> rest.labels["Z_SHIFT"].tolist()  # the header Z removed: wavelengths divided by 1 + Z
    [0.0001, 0.0001]
    """
    kwargs.setdefault("rest_frame", False)
    return read_spectra(files, labels=labels, id_column=id_column, grid=grid, formats=("LAMOST-LRS", "LAMOST-MRS"),
                        **kwargs)
