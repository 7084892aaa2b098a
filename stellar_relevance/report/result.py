"""``RankingResult``: what a ranking found, saved to and loaded from one folder, and plotted.

The tables and dictionaries are filled by
:func:`~stellar_relevance.ranking.pipeline.rank_spectra`; this module only holds,
writes and reads them. Figures and the HTML page come from
:mod:`stellar_relevance.report.html`.
"""

import logging
from pathlib import Path

import astropy.units as u
import numpy as np

from stellar_relevance._version import __version__
from stellar_relevance.io.provenance import jsonable
from stellar_relevance.report._files import read_folder, write_files
from stellar_relevance.report.outputs import staged_output_dir

__all__ = ["RankingResult"]

logger = logging.getLogger(__name__)


class RankingResult:
    """Everything :func:`rank_spectra` found, with saving and plotting.

    Attributes
    ----------
    ranking : astropy.table.QTable
        One row per pixel, most relevant first: ``rank`` (1 = most relevant),
        ``pixel``, ``wavelength`` (Angstrom), ``relevance`` (mean over seeds of
        the per-seed relevance normalised to sum 1), ``relevance_std`` (spread
        over seeds; NaN with one seed), ``selection_frequency`` (share of
        seeds in whose top-``top`` the pixel is; NaN with one seed),
        ``signed_eigenvalue`` (lambda of the first seed's model;
        its sign is arbitrary up to the sign of psi), ``mean_flux`` (mean
        training spectrum) and ``indices`` (catalogue central bands holding the
        pixel, comma separated).
    features : astropy.table.QTable or None
        The top pixels merged into features (lines or blends), most relevant
        first, each with its wavelength range, peak relevance, sensitivity,
        index bands and significance
        (:func:`~stellar_relevance.indices.features.find_features`); None for
        results saved without it.
    preprocessing : dict or None
        What the networks' input was made of: ``fill_values`` (the value that
        fills each bad pixel) and ``continuum`` (the continuum rule); written
        into the model file so that predictions treat new spectra the same
        way. None after :meth:`load`.
    indices : astropy.table.QTable
        The :func:`~stellar_relevance.indices.matching.match_indices` table, with
        ``n_top_bins`` (top pixels in the central band), ``enrichment``,
        ``p_value`` and the band limits.
    curve : astropy.table.Table
        ``k``, ``mae_masked``, ``mae_masked_random``, ``mae_masked_random_std``,
        ``mae_retrained``, ``mae_random`` (retrained on random-k),
        ``mae_random_std``, ``n_random``; MAE in the label's unit.
    metrics : dict
        ``test_mae`` (all pixels), ``topk_mae`` (top-``top`` retrained),
        ``training_mean_mae`` (the test MAE of predicting the training mean)
        and ``beats_training_mean``, ``overall_p_value``, per-seed numbers,
        stability, ``relevance_sensitivity_spearman``, the feature counts
        and paper-claim checks (``claims``). A data set with a known answer adds its own
        score (e.g. ``ground_truth`` from
        :func:`~stellar_relevance.datasets.synthetic_spectra.planted_recovery`),
        which the report shows.
    settings : dict
        Every choice made (hyper-parameters, split, seeds, ks ...).
    provenance : dict
        Split sizes, data source and the reader's warnings, the pipeline's
        own warnings (``warnings``), versions, timings, creation time and
        the command line (``command``, when given).
    estimators : list
        The fitted regressors (one per seed); empty after :meth:`load`.

    Examples
    --------
    A ranking of small synthetic spectra (a tiny network, one epoch: seconds):

    >>> from stellar_relevance import make_synthetic_spectra, rank_spectra
    >>> result = rank_spectra(make_synthetic_spectra(n_spectra=200), "FEH", hidden_layer_sizes=(8,),
    ...                       max_epochs=1, ks=(10, "all"), n_permutations=10)
    >>> result.settings["label"], result.settings["seeds"], len(result.estimators)
    ('FEH', [0, 1], 2)
    >>> result.split_text
    'seeded split (random_state=0): 162 train / 18 validation / 20 test spectra'
    >>> result.ranking.colnames[:4], result.curve["k"].tolist()
    (['rank', 'pixel', 'wavelength', 'relevance'], [10, 4300])
    >>> ax = result.plot_relevance()  # a matplotlib Axes on a new Figure (no pyplot state)
    """

    def __init__(self, ranking, indices, curve, metrics, settings, provenance, estimators=(), wavelength=None,
                 features=None, preprocessing=None):
        self.ranking = ranking
        self.indices = indices
        self.curve = curve
        self.metrics = dict(metrics)
        self.settings = dict(settings)
        self.provenance = dict(provenance)
        self.estimators = list(estimators)
        self.features = features
        self.preprocessing = preprocessing
        self._wavelength = wavelength

    def __repr__(self):
        return (
            f"<RankingResult {self.settings.get('label')}: test MAE {self.metrics.get('test_mae'):.4g}, "
            f"top-{self.settings.get('top')} retrained MAE {self.metrics.get('topk_mae')}, "
            f"p={self.metrics.get('overall_p_value')}, {len(self.estimators)} model(s)>"
        )

    @property
    def estimator(self):
        """The first seed's fitted regressor (None after :meth:`load`)."""
        return self.estimators[0] if self.estimators else None

    @property
    def wavelength(self):
        """The pixel grid in pixel order (Quantity)."""
        if self._wavelength is not None:
            return self._wavelength
        order = np.argsort(np.asarray(self.ranking["pixel"]))
        return u.Quantity(self.ranking["wavelength"][order], u.AA)

    def top(self, k=None):
        """The ``k`` most relevant pixels (default: the ``top`` setting).

        Parameters
        ----------
        k : int, optional
            How many rows of ``ranking`` to return.

        Returns
        -------
        astropy.table.QTable
            The first ``k`` rows of ``ranking`` (rank 1 first).

        Examples
        --------
        >>> from stellar_relevance import make_synthetic_spectra, rank_spectra
        >>> result = rank_spectra(make_synthetic_spectra(n_spectra=200), hidden_layer_sizes=(8,), max_epochs=1,
        ...                       ks=(10, "all"), n_permutations=10)
        >>> result.top(3)["rank"].tolist(), len(result.top())
        ([1, 2, 3], 30)
        """
        k = self.settings.get("top", 30) if k is None else k
        return self.ranking[:k]

    @property
    def split_text(self):
        """One line stating the split, written into every output."""
        p = self.provenance.get("split", {})
        kind = "given test IDs" if self.settings.get("test_ids_given") else "seeded split"
        return (
            f"{kind} (random_state={self.settings.get('random_state')}): "
            f"{p.get('n_train')} train / {p.get('n_validation')} validation / {p.get('n_test')} test spectra"
        )

    def summary(self):
        """The content of ``summary.json`` (plain JSON types).

        Returns
        -------
        dict
            The headline numbers (``test_mae``, ``topk_mae``,
            ``overall_p_value`` ...), the split, every setting, the
            metrics, the data source, versions and timings.

        Examples
        --------
        >>> import json
        >>> from stellar_relevance import make_synthetic_spectra, rank_spectra
        >>> result = rank_spectra(make_synthetic_spectra(n_spectra=200), hidden_layer_sizes=(8,), max_epochs=1,
        ...                       ks=(10, "all"), n_permutations=10)
        >>> summary = result.summary()
        >>> summary["label"], summary["split"]["n_test"], len(json.dumps(summary)) > 0
        ('FEH', 20, True)
        """
        m = self.metrics
        return jsonable(
            {
                "stelrel_version": __version__,
                "label": self.settings.get("label"),
                "label_unit": self.settings.get("label_unit"),
                "split": self.provenance.get("split"),
                "split_text": self.split_text,
                "seeds": self.settings.get("seeds"),
                "test_mae": m.get("test_mae"),
                "topk_mae": m.get("topk_mae"),
                "topk_mae_masked": m.get("topk_mae_masked"),
                "topk_mae_random": m.get("topk_mae_random"),
                "top": self.settings.get("top"),
                "overall_p_value": m.get("overall_p_value"),
                "metrics": m,
                "settings": self.settings,
                "data": self.provenance.get("data"),
                "versions": self.provenance.get("versions"),
                "timings": self.provenance.get("timings"),
                "created": self.provenance.get("created"),
                "command": self.provenance.get("command"),
                "warnings": self.provenance.get("warnings"),
            }
        )

    # ------------------------------------------------------------ saving
    def save(self, directory, overwrite=False, figures=True):
        """Write every output into ``directory``: the whole folder, or nothing.

        Files: ``ranking.ecsv``, ``features.ecsv``, ``indices.ecsv``, ``curve.ecsv``,
        ``summary.json``, ``model.pt`` (when models are held),
        ``relevance.png``, ``eigenvalues.png``, ``curve.png`` and
        ``report.html``. They are written into a temporary folder beside
        ``directory`` that is moved into place once all are written
        (:func:`~stellar_relevance.report.outputs.staged_output_dir`): an
        interrupted save leaves no partial folder.

        Parameters
        ----------
        directory : str or Path
            Created if needed (with its parents).
        overwrite : bool
            Replace existing result files; otherwise refuse.
        figures : bool
            Write the PNG figures and ``report.html``.

        Returns
        -------
        dict
            File name -> Path of every file written (in ``directory``).

        Raises
        ------
        FileExistsError
            When ``directory`` holds results and ``overwrite`` is False.

        Examples
        --------
        >>> import tempfile
        >>> from pathlib import Path
        >>> from stellar_relevance import make_synthetic_spectra, rank_spectra
        >>> result = rank_spectra(make_synthetic_spectra(n_spectra=200), hidden_layer_sizes=(8,), max_epochs=1,
        ...                       ks=(10, "all"), n_permutations=10)
        >>> written = result.save(Path(tempfile.mkdtemp()) / "out", figures=False)
        >>> sorted(written)
        ['curve.ecsv', 'features.ecsv', 'indices.ecsv', 'model.pt', 'ranking.ecsv', 'summary.json']
        """
        directory = Path(directory).expanduser()
        with staged_output_dir(directory, overwrite=overwrite) as staging:
            names = write_files(self, staging, figures)
        written = {name: directory / name for name in names}
        logger.info("wrote %d files to %s", len(written), directory)
        return written

    @classmethod
    def load(cls, directory):
        """Read a result saved with :meth:`save` (tables and summary; no models).

        Parameters
        ----------
        directory : str or Path
            A folder written by :meth:`save` (or ``stelrel rank --out``).

        Returns
        -------
        RankingResult
            With ``ranking``, ``indices``, ``curve``, ``metrics``,
            ``settings`` and ``provenance``; ``estimators`` is empty (the
            models are in ``model.pt``: :func:`~stellar_relevance.load_model`).

        Raises
        ------
        DataError
            When a file is missing or unreadable.

        Examples
        --------
        >>> import tempfile
        >>> from pathlib import Path
        >>> from stellar_relevance import RankingResult, make_synthetic_spectra, rank_spectra
        >>> result = rank_spectra(make_synthetic_spectra(n_spectra=200), hidden_layer_sizes=(8,), max_epochs=1,
        ...                       ks=(10, "all"), n_permutations=10)
        >>> folder = Path(tempfile.mkdtemp()) / "out"
        >>> _ = result.save(folder, figures=False)
        >>> loaded = RankingResult.load(folder)
        >>> list(loaded.ranking["pixel"][:5]) == list(result.ranking["pixel"][:5]), loaded.estimators
        (True, [])
        """
        tables, summary = read_folder(directory)
        provenance = {
            key: summary.get(key)
            for key in ("split", "data", "versions", "timings", "created", "command", "warnings")
        }
        return cls(
            tables["ranking"], tables["indices"], tables["curve"],
            summary.get("metrics", {}), summary.get("settings", {}), provenance, features=tables["features"],
        )

    # ------------------------------------------------------------ plotting
    def plot_relevance(self, ax=None):
        """Relevance over the mean spectrum with index bands (paper Fig. 11 bottom).

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Drawn into; a new figure is made otherwise.

        Returns
        -------
        matplotlib.axes.Axes
            The axes drawn into.

        See Also
        --------
        stellar_relevance.report.figures.plot_relevance : The same figure, with an example.
        """
        from stellar_relevance.report.figures import plot_relevance

        return plot_relevance(self, ax=ax)

    def plot_eigenvalues(self, ax=None):
        """Histogram of the first-layer eigenvalues (log y).

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Drawn into; a new figure is made otherwise.

        Returns
        -------
        matplotlib.axes.Axes
            The axes drawn into.

        See Also
        --------
        stellar_relevance.report.figures.plot_eigenvalues : The same figure, with an example.
        """
        from stellar_relevance.report.figures import plot_eigenvalues

        return plot_eigenvalues(self, ax=ax)

    def plot_curve(self, ax=None):
        """Test MAE against the number of pixels kept, spectral vs random.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Drawn into; a new figure is made otherwise.

        Returns
        -------
        matplotlib.axes.Axes
            The axes drawn into.

        See Also
        --------
        stellar_relevance.report.figures.plot_curve : The same figure, with an example.
        """
        from stellar_relevance.report.figures import plot_curve

        return plot_curve(self, ax=ax)

    def write_report(self, path, overwrite=True):
        """Write the self-contained ``report.html`` to ``path`` (atomically).

        Parameters
        ----------
        path : str or Path
            The HTML file to write.
        overwrite : bool, default=True
            Replace an existing file; otherwise :class:`FileExistsError`.

        Returns
        -------
        pathlib.Path
            The file written.

        See Also
        --------
        stellar_relevance.report.html.write_html : The same page, with an example.
        """
        from stellar_relevance.report.html import write_html

        return write_html(self, path, overwrite=overwrite)
