"""Synthetic spectra with planted lines, and scoring a ranking against them (datasets.synthetic_spectra)."""

import astropy.units as u
import numpy as np
import pytest
import torch

from stellar_relevance.datasets.synthetic_spectra import (
    make_synthetic_spectra,
    miles_grid,
    planted_lines,
    planted_mask,
    planted_recovery,
)
from stellar_relevance.exceptions import DataError

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def synthetic():
    return make_synthetic_spectra(n_spectra=250, random_state=1)


def test_synthetic_spectra_grid_labels_and_truth(synthetic):
    assert synthetic.n_pixels == 4300
    assert u.allclose(synthetic.wavelength, miles_grid())
    assert synthetic.wavelength[0] == 3540.5 * u.AA
    assert synthetic.wave_frame == "air"
    assert set(synthetic.label_names) == {"TEFF", "LOGG", "FEH"}
    assert synthetic.labels["FEH"].unit == u.dex
    # normalised to 1 in the MILES normalisation window, like MILES
    window = (synthetic.wavelength.value >= 5400) & (synthetic.wavelength.value <= 5630)
    assert np.allclose(synthetic.flux[:, window].mean(axis=1), 1.0, atol=0.01)
    lines = synthetic.meta["planted_lines"]
    assert set(lines["sensitive_to"]) == {"FEH", "TEFF", "none"}
    # a metal line deepens with [Fe/H]: the flux at Mg I 5184 correlates negatively with FEH
    pixel = int(np.argmin(np.abs(synthetic.wavelength.value - 5183.6)))
    r = np.corrcoef(synthetic.flux[:, pixel], synthetic.labels["FEH"])[0, 1]
    assert r < -0.8
    # H-alpha tracks TEFF, not FEH
    pixel = int(np.argmin(np.abs(synthetic.wavelength.value - 6562.8)))
    assert abs(np.corrcoef(synthetic.flux[:, pixel], synthetic.labels["FEH"])[0, 1]) < 0.3


def test_synthetic_spectra_seeded():
    a = make_synthetic_spectra(n_spectra=5, random_state=7)
    b = make_synthetic_spectra(n_spectra=5, random_state=7)
    c = make_synthetic_spectra(n_spectra=5, random_state=8)
    assert np.array_equal(a.flux, b.flux)
    assert not np.array_equal(a.flux, c.flux)


@pytest.mark.parametrize("kwargs", [dict(n_spectra=0), dict(snr=0), dict(snr=-1)])
def test_synthetic_spectra_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        make_synthetic_spectra(**kwargs)


def test_planted_mask_marks_only_label_lines():
    lines = planted_lines(random_state=0)
    wave = miles_grid()
    feh = planted_mask(wave, lines, "FEH")
    teff = planted_mask(wave, lines, "TEFF")
    assert feh.any() and teff.any() and not (feh & teff).any()
    assert feh[np.argmin(np.abs(wave.value - 5269.54))]
    assert not feh[np.argmin(np.abs(wave.value - 6562.8))]


class _Ranked:
    """A stand-in result whose top pixels are chosen by hand."""

    def __init__(self, pixels, label="FEH", top=30):
        from astropy.table import QTable

        self.ranking = QTable({"pixel": np.asarray(pixels)})
        self.settings = {"label": label, "top": top}


def test_planted_recovery_scores_a_ranking(synthetic):
    wave = synthetic.wavelength
    truth = planted_mask(wave, synthetic.meta["planted_lines"], "FEH")
    on_lines = np.flatnonzero(truth)
    perfect = planted_recovery(_Ranked(np.concatenate([on_lines, np.flatnonzero(~truth)])), synthetic)
    assert perfect["top_in_planted_lines"] == 1.0
    assert perfect["n_lines"] == 10 and perfect["planted_pixel_share"] == pytest.approx(truth.mean())
    # H-alpha pixels only (a TEFF line): nothing recovered for FEH
    halpha = np.argsort(np.abs(wave.value - 6562.8))
    wrong = planted_recovery(_Ranked(halpha), synthetic)
    assert wrong["top_in_planted_lines"] == 0.0 and wrong["lines_recovered"] == []
    teff = planted_recovery(_Ranked(halpha, label="TEFF"), synthetic)
    assert "H-alpha" in teff["lines_recovered"] and teff["n_lines"] == 4


def test_planted_recovery_needs_planted_lines(synthetic):
    from stellar_relevance.spectra import SpectralSet

    plain = SpectralSet(synthetic.wavelength, synthetic.flux[:3], labels=synthetic.labels[:3])
    with pytest.raises(DataError, match="planted_lines"):
        planted_recovery(_Ranked(np.arange(30)), plain)
