"""The model.pt format (stellar_relevance.report.model_file): write, load, predict, refuse other files."""

import astropy.units as u
import numpy as np
import pytest
import torch

from stellar_relevance.datasets.synthetic_spectra import make_synthetic_spectra
from stellar_relevance.exceptions import DataError
from stellar_relevance.report.model_file import load_model, predict_labels
from stellar_relevance.ranking.pipeline import rank_spectra
from stellar_relevance.spectra import SpectralSet

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def synthetic():
    return make_synthetic_spectra(n_spectra=120, random_state=1)


@pytest.fixture(scope="module")
def result(synthetic):
    return rank_spectra(synthetic, "FEH", n_seeds=2, random_state=3, max_epochs=4, min_epochs=2, batch_size=50,
                        ks=(30, "all"), retrain_ks=(), n_random=1, catalog=None)


def test_model_file_predicts_and_checks_the_grid(result, synthetic, tmp_path):
    result.save(tmp_path, figures=False)
    model = load_model(tmp_path / "model.pt")
    assert model["label"] == "FEH" and len(model["estimators"]) == 2
    assert model["config"]["hidden_layer_sizes"] == [200, 50, 50]
    pred = predict_labels(model, synthetic[np.arange(10)])
    X, _ = synthetic[np.arange(10)].to_xy("FEH")
    expected = np.mean([est.predict(X) for est in result.estimators], axis=0)
    assert np.allclose(pred, expected)
    shifted = SpectralSet(synthetic.wavelength + 1 * u.AA, synthetic.flux[:3], labels=synthetic.labels[:3])
    with pytest.raises(DataError, match="does not match the model"):
        predict_labels(model, shifted)
    (tmp_path / "junk.pt").write_bytes(b"not a model")
    with pytest.raises(DataError, match="not a stelrel model"):
        load_model(tmp_path / "junk.pt")
