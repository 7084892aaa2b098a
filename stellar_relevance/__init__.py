"""stellar_relevance (stelrel): which wavelengths of a spectrum carry the information.

The public API is imported lazily so that ``import stellar_relevance`` stays
fast and a command such as ``stelrel --version`` does not pay for torch.
"""

from importlib import import_module

from stellar_relevance._version import __version__

# public name -> the subpackage (room) that exports it
_EXPORTS = {
    # the method
    "SpectralLinear": "nn",
    "SpectralNetwork": "nn",
    "build_network": "nn",
    "train": "nn",
    "SpectralRelevanceClassifier": "estimators",
    "SpectralRelevanceRegressor": "estimators",
    "forward_sensitivity": "estimators",
    "topk_curve": "ranking",
    "topk_overlap": "ranking",
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
    "match_indices": "indices",
    # pipeline
    "rank_spectra": "ranking",
    "RankingResult": "report",
    "load_model": "report",
    "predict_labels": "report",
    "make_synthetic_spectra": "datasets",
    "atomic_write": "io",
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
