"""stellar_relevance (stelrel): which wavelengths of a spectrum carry the information.

The public API is imported lazily so that ``import stellar_relevance`` stays
fast and a command such as ``stelrel --version`` does not pay for torch.
"""

from importlib import import_module

from ._version import __version__

# public name -> module that defines it
_EXPORTS = {
    # the method
    "SpectralLinear": "layers",
    "SpectralNetwork": "network",
    "build_network": "network",
    "train": "training",
    "SpectralRelevanceClassifier": "estimators",
    "SpectralRelevanceRegressor": "estimators",
    "topk_curve": "evaluation",
    "topk_overlap": "evaluation",
    # spectra
    "SpectralSet": "spectra",
    "load_miles": "io",
    "read_miles": "io",
    "read_packed": "io",
    "write_packed": "io",
    "read_spectra": "io",
    "pack_spectra": "io",
    "read_sdss": "io",
    "read_lamost": "io",
    "read_labels": "io",
    "load_catalog": "indices",
    "catalog_names": "indices",
    "measure_indices": "indices",
    "match_indices": "matching",
    # pipeline
    "rank_spectra": "pipeline",
    "RankingResult": "result",
    "load_model": "model_file",
    "predict_labels": "model_file",
    "make_synthetic_spectra": "datasets",
    "atomic_write": "atomic",
    # errors
    "StelrelError": "exceptions",
    "DataError": "exceptions",
    "DataWarning": "exceptions",
    "ParameterError": "exceptions",
}

__all__ = ["__version__", "datasets", *_EXPORTS]


def __getattr__(name):
    if name == "datasets":
        return import_module(".datasets", __name__)
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'stellar_relevance' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(__all__)
