"""Synthetic stellar spectra on the MILES grid with planted, label-sensitive lines.

The data-free ``stelrel rank synthetic`` set: every spectrum is a smooth,
temperature-dependent continuum normalised to 1 in 5400-5630 A (as MILES is),
multiplied by Gaussian absorption lines of three kinds:

* **metal lines** whose depth grows with [Fe/H] (``sensitive_to="FEH"``),
  placed inside the central bands of Ca II H&K, Fe4383, Fe5015, Mgb, Fe5270
  and Fe5335;
* **Balmer lines** (H-delta, H-gamma, H-beta, H-alpha) whose depth depends on
  the effective temperature only (``sensitive_to="TEFF"``): a method that
  ranks them high for [Fe/H] is wrong;
* **nuisance lines** at fixed random wavelengths whose depth varies from star
  to star independently of every label (``sensitive_to="none"``).

plus Gaussian noise at a fixed signal-to-noise ratio. The ground truth (which
pixels carry [Fe/H]) is in ``meta["planted_lines"]`` and
:func:`planted_mask`; :func:`planted_recovery` scores a ranking against it
(the pipeline itself knows nothing of planted lines).
"""

import logging

import astropy.units as u
import numpy as np
from astropy.table import QTable, Table

logger = logging.getLogger(__name__)

#: The MILES grid as redistributed with sdss-mangadap (air, Angstrom).
MILES_CRVAL1 = 3540.5
MILES_CDELT1 = 0.9
MILES_NPIX = 4300

# (name, centre [A, air], base depth at [Fe/H]=0, sensitive_to, index it sits in)
_METAL_LINES = [
    ("Ca II K", 3933.66, 0.55, "FEH", "CaHK"),
    ("Ca II H", 3968.47, 0.50, "FEH", "CaHK"),
    ("Fe I 4383", 4383.55, 0.30, "FEH", "Fe4383"),
    ("Fe I 4404", 4404.75, 0.22, "FEH", "Fe4383"),
    ("Fe I 5015", 5012.07, 0.18, "FEH", "Fe5015"),
    ("Mg I 5167", 5167.32, 0.25, "FEH", "Mgb"),
    ("Mg I 5173", 5172.68, 0.28, "FEH", "Mgb"),
    ("Mg I 5184", 5183.60, 0.30, "FEH", "Mgb"),
    ("Fe I 5270", 5269.54, 0.25, "FEH", "Fe5270"),
    ("Fe I 5328", 5328.04, 0.22, "FEH", "Fe5335"),
]
_BALMER_LINES = [
    ("H-delta", 4101.74, 0.35, "TEFF", "HdA"),
    ("H-gamma", 4340.47, 0.40, "TEFF", "HgA"),
    ("H-beta", 4861.33, 0.45, "TEFF", "Hb"),
    ("H-alpha", 6562.80, 0.50, "TEFF", "Halpha"),
]


def miles_grid():
    """The MILES wavelength grid (4300 pixels, 3540.5 A + 0.9 A steps, air).

    Returns
    -------
    astropy.units.Quantity
        Wavelengths in Angstrom.
    """
    return (MILES_CRVAL1 + MILES_CDELT1 * np.arange(MILES_NPIX)) * u.AA


def planted_lines(n_nuisance=40, random_state=0):
    """The table of planted lines (the ground truth of the synthetic set).

    Parameters
    ----------
    n_nuisance : int
        Number of label-independent nuisance lines.
    random_state : int
        Seed for the nuisance line positions.

    Returns
    -------
    astropy.table.QTable
        Columns ``name``, ``center`` (Angstrom), ``sigma`` (Angstrom),
        ``depth`` (at [Fe/H]=0 / the reference temperature), ``sensitive_to``
        (``FEH``, ``TEFF`` or ``none``) and ``index`` (the catalogue index
        whose central band holds the line, or ``""``).
    """
    rng = np.random.default_rng(random_state)
    rows = list(_METAL_LINES) + list(_BALMER_LINES)
    grid = miles_grid().value
    taken = np.array([r[1] for r in rows])
    nuisance = []
    while len(nuisance) < n_nuisance:
        centre = rng.uniform(grid[20], grid[-20])
        if np.all(np.abs(taken - centre) > 25.0):  # keep clear of the planted bands
            nuisance.append(centre)
            taken = np.append(taken, centre)
    for i, centre in enumerate(sorted(nuisance)):
        rows.append((f"nuisance {i + 1}", float(centre), 0.15, "none", ""))
    sigma = np.where([r[3] == "TEFF" for r in rows], 3.0, 1.2)  # Balmer lines are broad
    return QTable(
        {
            "name": [r[0] for r in rows],
            "center": np.array([r[1] for r in rows]) * u.AA,
            "sigma": sigma * u.AA,
            "depth": np.array([r[2] for r in rows]),
            "sensitive_to": [r[3] for r in rows],
            "index": [r[4] for r in rows],
        }
    )


def planted_mask(wavelength, lines, label="FEH", n_sigma=2.5):
    """Pixels within ``n_sigma`` line widths of a line sensitive to ``label``.

    Parameters
    ----------
    wavelength : astropy.units.Quantity
        The grid.
    lines : astropy.table.QTable
        As returned by :func:`planted_lines` (``meta["planted_lines"]``).
    label : str
        Label whose lines to mark.
    n_sigma : float
        Half-width of the marked window, in line sigmas.

    Returns
    -------
    numpy.ndarray of bool
        One value per pixel of ``wavelength``.

    Examples
    --------
    >>> from stellar_relevance import make_synthetic_spectra
    >>> from stellar_relevance.datasets import planted_mask
    >>> spectra = make_synthetic_spectra(n_spectra=20, random_state=0)
    >>> mask = planted_mask(spectra.wavelength, spectra.meta["planted_lines"], "FEH")
    >>> int(mask.sum()), mask.size
    (67, 4300)
    """
    wave = u.Quantity(wavelength, u.AA).value
    mask = np.zeros(wave.shape, bool)
    for row in lines:
        if row["sensitive_to"] != label:
            continue
        centre = u.Quantity(row["center"], u.AA).value
        sigma = u.Quantity(row["sigma"], u.AA).value
        mask |= np.abs(wave - centre) <= n_sigma * sigma
    return mask


def planted_recovery(result, spectra):
    """How well a ranking found the lines planted for its label.

    Parameters
    ----------
    result : RankingResult
        From :func:`~stellar_relevance.ranking.pipeline.rank_spectra` on ``spectra``
        (or loaded from its folder); its ``settings`` give the label and
        ``top``.
    spectra : SpectralSet
        The synthetic spectra ranked, with ``meta["planted_lines"]``.

    Returns
    -------
    dict
        ``top_in_planted_lines`` (share of the top-``top`` pixels within 2.5
        line widths of a line planted for the label),
        ``planted_pixel_share`` (share of all pixels that are),
        ``lines_recovered`` (names of the label's lines with a top pixel
        within 2.5 widths) and ``n_lines`` (lines planted for the label).
        Store it as ``result.metrics["ground_truth"]`` to have the report
        show it.

    Raises
    ------
    DataError
        When ``spectra`` has no planted lines (not a synthetic set).

    Examples
    --------
    >>> import warnings
    >>> from stellar_relevance import rank_spectra
    >>> spectra = make_synthetic_spectra(n_spectra=60)
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     result = rank_spectra(spectra, max_epochs=2, ks=(30, "all"), retrain_ks=(), catalog=None, n_random=1)
    >>> truth = planted_recovery(result, spectra)
    >>> truth["n_lines"], 0 <= truth["top_in_planted_lines"] <= 1
    (10, True)
    """
    from stellar_relevance.exceptions import DataError

    lines = spectra.meta.get("planted_lines")
    if lines is None:
        raise DataError("the spectra have no meta['planted_lines']: only synthetic spectra know their answer")
    label = result.settings.get("label")
    top = int(result.settings.get("top", 30))
    wavelength = spectra.wavelength
    truth = planted_mask(wavelength, lines, label=label)
    top_pixels = np.asarray(result.ranking["pixel"][:top], dtype=int)
    top_wave = u.Quantity(wavelength, u.AA).value[top_pixels]
    kinds = np.asarray(lines["sensitive_to"])
    centres = u.Quantity(lines["center"], u.AA).value
    sigma = u.Quantity(lines["sigma"], u.AA).value
    recovered = [
        str(name) for name, c, s, kind in zip(lines["name"], centres, sigma, kinds)
        if kind == label and np.any(np.abs(top_wave - c) <= 2.5 * s)
    ]
    return {
        "top_in_planted_lines": float(truth[top_pixels].mean()),
        "planted_pixel_share": float(truth.mean()),
        "lines_recovered": recovered,
        "n_lines": int(np.sum(kinds == label)),
    }


def make_synthetic_spectra(n_spectra=600, snr=100.0, n_nuisance=40, random_state=0):
    """Synthetic spectra on the MILES grid with known label-sensitive lines.

    Parameters
    ----------
    n_spectra : int
        Number of stars.
    snr : float
        Signal-to-noise ratio per pixel of the (normalised) continuum.
    n_nuisance : int
        Number of label-independent nuisance lines.
    random_state : int
        Seed: same seed, same spectra.

    Returns
    -------
    stellar_relevance.spectra.SpectralSet
        Flux normalised to 1 in 5400-5630 A (dimensionless), ``ivar``, labels
        ``ID``, ``TEFF`` (K), ``LOGG`` (dex), ``FEH`` (dex);
        ``meta["planted_lines"]`` holds the ground truth.

    Examples
    --------
    >>> from stellar_relevance import make_synthetic_spectra
    >>> spectra = make_synthetic_spectra(n_spectra=20, random_state=0)
    >>> spectra
    <SpectralSet: 20 spectra x 4300 pixels, 3540.5 Angstrom - 7409.6 Angstrom (air), labels ['TEFF', 'LOGG', 'FEH']>
    >>> lines = spectra.meta["planted_lines"]
    >>> lines["name"][:3].tolist(), lines["sensitive_to"][:3].tolist()
    (['Ca II K', 'Ca II H', 'Fe I 4383'], ['FEH', 'FEH', 'FEH'])
    """
    from stellar_relevance.spectra import SpectralSet

    if n_spectra < 1:
        raise ValueError(f"n_spectra must be at least 1, got {n_spectra}")
    if not snr > 0:
        raise ValueError(f"snr must be positive, got {snr}")
    rng = np.random.default_rng(random_state)
    wavelength = miles_grid()
    wave = wavelength.value
    lines = planted_lines(n_nuisance=n_nuisance, random_state=random_state)

    teff = rng.uniform(4000.0, 7500.0, n_spectra)
    logg = rng.uniform(1.0, 5.0, n_spectra)
    feh = rng.uniform(-2.0, 0.5, n_spectra)

    # continuum: a power law in wavelength, redder for cooler stars
    slope = 2.5 * (5500.0 - teff) / 3500.0  # ~+1 (cool) ... ~-0.6 (hot)
    continuum = (wave[None, :] / 5500.0) ** slope[:, None]

    centre = u.Quantity(lines["center"], u.AA).value
    sigma = u.Quantity(lines["sigma"], u.AA).value
    depth0 = np.asarray(lines["depth"], float)
    kind = np.asarray(lines["sensitive_to"])
    # depth of every line in every star
    depth = np.empty((n_spectra, len(lines)))
    metal = kind == "FEH"
    balmer = kind == "TEFF"
    other = ~(metal | balmer)
    depth[:, metal] = depth0[metal] * 10 ** (0.35 * feh[:, None])
    depth[:, balmer] = depth0[balmer] * np.clip((teff[:, None] - 3500.0) / 3000.0, 0.05, 1.3)
    depth[:, other] = depth0[other] * rng.uniform(0.2, 1.8, (n_spectra, int(other.sum())))
    depth = np.clip(depth, 0.0, 0.9)

    absorption = np.zeros((n_spectra, wave.size))
    for j in range(len(lines)):
        window = np.abs(wave - centre[j]) < 6 * sigma[j]
        profile = np.exp(-0.5 * ((wave[window] - centre[j]) / sigma[j]) ** 2)
        absorption[:, window] += depth[:, j : j + 1] * profile[None, :]
    flux = continuum * np.clip(1.0 - absorption, 0.02, None)

    norm_window = (wave >= 5400.0) & (wave <= 5630.0)
    flux /= flux[:, norm_window].mean(axis=1, keepdims=True)
    noise_sigma = 1.0 / snr
    flux = flux + rng.normal(0.0, noise_sigma, flux.shape)
    ivar = np.full(flux.shape, 1.0 / noise_sigma**2)

    labels = Table(
        {
            "ID": [f"SYN{i + 1:05d}" for i in range(n_spectra)],
            "TEFF": teff,
            "LOGG": logg,
            "FEH": feh,
        }
    )
    labels["TEFF"].unit = u.K
    labels["LOGG"].unit = u.dex
    labels["FEH"].unit = u.dex
    meta = {
        "FWHM": 2.5 * u.AA,
        "source": "synthetic",
        "reader": "stellar_relevance.datasets.make_synthetic_spectra",
        "random_state": random_state,
        "snr": snr,
        "planted_lines": lines,
        "files": [],
        "warnings": [],
    }
    logger.info("made %d synthetic spectra (snr=%g, seed=%s)", n_spectra, snr, random_state)
    return SpectralSet(wavelength, flux, ivar=ivar, labels=labels, wave_frame="air", meta=meta)
