"""The vectorised flux-conserving resampler against specutils' FluxConservingResampler, and grid parsing."""

import os
import warnings
from pathlib import Path

import numpy as np
import pytest
from astropy import units as u
from astropy.io import fits
from astropy.nddata import InverseVariance

from stellar_relevance.exceptions import ParameterError
from stellar_relevance.io.resample import bin_edges, grid_bins, parse_grid, resample

SURVEYS = Path(os.environ.get("STELREL_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")) / "surveys"
LAMOST = [SURVEYS / "spec-58397-EG014118N254444M01_sp03-031.fits",
          SURVEYS / "spec-57287-KP193637N444141V03_sp10-161.fits.gz"]


def specutils_resample(wave, flux, ivar, grid):
    from specutils import Spectrum
    from specutils.manipulation import FluxConservingResampler

    spectrum = Spectrum(flux=flux * u.dimensionless_unscaled, spectral_axis=wave * u.AA,
                        uncertainty=InverseVariance(ivar))
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore")
        out = FluxConservingResampler(extrapolation_treatment="nan_fill")(spectrum, grid * u.AA)
    return out.flux.value, out.uncertainty.array


def test_bin_edges_match_specutils():
    from specutils import SpectralAxis

    centers = 10 ** (3.5682 + 1e-4 * np.arange(50))
    np.testing.assert_array_equal(bin_edges(centers), SpectralAxis(centers * u.AA).bin_edges.value)


@pytest.mark.parametrize("path", LAMOST, ids=["dr7", "dr6"])
def test_agrees_with_specutils_on_real_lamost(path):
    if not path.is_file():
        pytest.skip(f"real survey file not found: {path}")
    data = fits.getdata(path).astype(float)
    flux, ivar, wave = data[0], data[1], data[2] / (1 - 1.7e-4)  # a rest-frame shift: the grids differ
    good = ivar > 0
    grid = 10 ** (np.log10(4000.0) + 1e-4 * np.arange(1500))  # a sub-range keeps specutils' loop short
    ref_flux, ref_ivar = specutils_resample(wave, np.where(good, flux, 0.0), np.where(good, ivar, 0.0), grid)
    lo, hi = grid_bins(grid)
    out_flux, out_ivar = resample(wave, np.where(good, flux, np.nan), ivar, lo, hi)
    both = np.isfinite(out_flux) & np.isfinite(ref_flux)
    assert both.sum() > 0.95 * grid.size
    np.testing.assert_allclose(out_flux[both], ref_flux[both], rtol=1e-6)
    np.testing.assert_allclose(out_ivar[both], ref_ivar[both], rtol=1e-6)
    # where we say NaN and specutils gives a number, an input bad pixel touches the output bin
    touched = ~np.isfinite(out_flux) & np.isfinite(ref_flux)
    assert touched.sum() <= 3 * (~good).sum()


def test_conserves_flux_and_handles_2d():
    rng = np.random.default_rng(1)
    wave = np.cumsum(rng.uniform(0.5, 1.5, 400)) + 4000
    flux = rng.normal(10, 1, (3, 400))
    ivar = rng.uniform(1, 2, (3, 400))
    grid = np.linspace(wave[5], wave[-5], 120)
    lo, hi = grid_bins(grid)
    out, out_ivar = resample(wave, flux, ivar, lo, hi)
    edges = bin_edges(wave)
    for row in range(3):
        one, one_ivar = resample(wave, flux[row], ivar[row], lo, hi)
        np.testing.assert_array_equal(one, out[row])
        np.testing.assert_array_equal(one_ivar, out_ivar[row])
        # the integral over the output bins equals the integral of the input over the same span
        inside = (edges[:-1] >= lo[0]) & (edges[1:] <= hi[-1])
        assert np.isclose(np.sum(out[row] * (hi - lo)), np.sum((flux[row] * np.diff(edges))[inside]), rtol=2e-2)


def test_bad_pixels_and_out_of_range_are_nan():
    wave = np.arange(100.0)
    flux = np.ones(100)
    flux[50] = np.nan
    ivar = np.ones(100)
    ivar[20] = 0
    lo, hi = grid_bins(np.arange(-5.0, 110.0, 2.0))
    out, out_ivar = resample(wave, flux, ivar, lo, hi)
    centres = (lo + hi) / 2
    assert np.isnan(out[centres < 0]).all() and np.isnan(out[centres > 99]).all()
    assert np.isnan(out[np.abs(centres - 50) < 1.5]).all() and np.isnan(out[np.abs(centres - 20) < 1.5]).all()
    assert (out_ivar[~np.isfinite(out)] == 0).all()
    np.testing.assert_allclose(out[np.isfinite(out)], 1.0)
    # each 2-wide bin: one whole unit-ivar pixel and two halves: var = (1 + 2 * 0.25) / 2**2
    np.testing.assert_allclose(out_ivar[np.isfinite(out)], 8 / 3)


def test_gap_aware_bins():
    centers = np.r_[np.arange(10.0), 100 + np.arange(10.0)]
    lo, hi = grid_bins(centers)
    assert hi[9] == 9.5 and lo[10] == 99.5


def test_parse_grid():
    np.testing.assert_allclose(parse_grid("3800:3802:0.5").value, [3800, 3800.5, 3801, 3801.5, 3802])
    g = parse_grid("log:3800:8900:1e-4")
    np.testing.assert_allclose(np.diff(np.log10(g.value)), 1e-4)
    assert g.unit == u.AA and g[-1].value <= 8900
    for bad in ("3800:8900", "a:b:c", "8900:3800:1", "3800:8900:0", "3800:8900:-1", "1:1e12:1e-6"):
        with pytest.raises(ParameterError) as info:
            parse_grid(bad)
        assert info.value.parameter == "grid"
