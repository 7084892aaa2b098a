"""Figures of a :class:`~stellar_relevance.report.result.RankingResult`.

This module computes nothing: it draws what the result holds (``ranking``,
``indices``, ``curve``, ``metrics``, ``settings``). Figures use matplotlib's
object API (no global pyplot state, Agg backend); :func:`figure_pngs`
renders them for the HTML page (:mod:`stellar_relevance.report.html`).
"""

import io
import logging

import astropy.units as u
import numpy as np

__all__ = ["plot_relevance", "plot_sensitivity", "plot_selection_frequency", "plot_eigenvalues", "plot_curve",
           "figure_pngs", "label_display_name"]

logger = logging.getLogger(__name__)

#: How labels are written for people (others are shown as they are).
LABEL_DISPLAY_NAMES = {"FEH": "[Fe/H]", "MH": "[M/H]", "TEFF": "T_eff", "LOGG": "log g", "ALPHAFE": "[alpha/Fe]"}


def label_display_name(label):
    """The label as people write it: ``FEH`` -> ``[Fe/H]``, ``TEFF`` -> ``T_eff``, ``LOGG`` -> ``log g``.

    Examples
    --------
    >>> label_display_name("FEH"), label_display_name("logg"), label_display_name("VMAC")
    ('[Fe/H]', 'log g', 'VMAC')
    """
    return LABEL_DISPLAY_NAMES.get(str(label).upper(), str(label))

_FIGSIZE = {"relevance": (12, 7.0), "sensitivity": (12, 2.6), "eigenvalues": (5.5, 4), "curve": (6.5, 4), "by_label": (12, 2.6)}


def _new_axes(name):
    from matplotlib.figure import Figure

    fig = Figure(figsize=_FIGSIZE[name], layout="constrained")
    return fig.add_subplot()


def _column_by_pixel(result, name):
    """Column ``name`` of the ranking in pixel order, or None when absent or all NaN (one seed, old results)."""
    ranking, order, _ = _by_pixel(result)
    if name not in ranking.colnames:
        return None
    values = np.asarray(ranking[name], float)[order]
    return values if np.isfinite(values).any() else None


def _spread_band(ax, wave, relevance, std, color="tab:blue"):
    """Shade relevance +- 1 standard deviation over seeds."""
    if std is None:
        return
    std = np.nan_to_num(std)
    ax.fill_between(wave, np.clip(relevance - std, 0, None), relevance + std, color=color, alpha=0.5, lw=0,
                    step="mid", label="±1 std over seeds", zorder=3)


def plot_selection_frequency(result, ax=None):
    """Share of seeds in whose top-``top`` each pixel is (stability selection), against wavelength.

    With one seed (or results saved before selection frequencies existed)
    the axes say that no spread is available.

    Parameters
    ----------
    result : RankingResult
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn into.

    Examples
    --------
    >>> from stellar_relevance import make_synthetic_spectra, rank_spectra
    >>> result = rank_spectra(make_synthetic_spectra(n_spectra=200), hidden_layer_sizes=(8,), max_epochs=1,
    ...                       ks=(10, "all"), n_permutations=10)
    >>> ax = plot_selection_frequency(result)  # 2 seeds: the share of them with each pixel in their top-30
    >>> " ".join(ax.get_ylabel().split())
    'in top-30 (share of seeds)'
    """
    ax = _new_axes("by_label") if ax is None else ax
    _, _, wave = _by_pixel(result)
    frequency = _column_by_pixel(result, "selection_frequency")
    top = int(result.settings.get("top", 30))
    if frequency is None:
        ax.text(0.5, 0.5, f"{len(result.settings.get('seeds') or [None])} seed: no spread or selection frequency "
                "available (train 2 or more seeds)", transform=ax.transAxes, ha="center", va="center", fontsize=8)
    else:
        hit = frequency > 0
        ax.vlines(wave[hit], 0, frequency[hit], color="tab:purple", lw=1.0)
        overlap = (result.metrics.get("stability") or {}).get(f"top{top}_overlap")
        text = f"top-{top} overlap across seeds {overlap:.2f}" if overlap is not None else ""
        ax.text(0.995, 0.95, text, transform=ax.transAxes, ha="right", va="top", fontsize=7.5)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel(f"in top-{top}\n(share of seeds)", fontsize=8)
    return ax


def _by_pixel(result):
    ranking = result.ranking
    order = np.argsort(np.asarray(ranking["pixel"]))
    wave = u.Quantity(ranking["wavelength"], u.AA).value[order]
    return ranking, order, wave


def plot_relevance(result, ax=None):
    """Relevance per pixel over the mean spectrum, index bands shaded and labelled.

    The paper's Fig. 11 (bottom): the mean training spectrum (grey, left
    axis), the relevance of every pixel (black lines, right axis, top-``top``
    pixels in red), its spread over seeds (blue band, ±1 standard
    deviation) and the central bands of the catalogue indices (shaded;
    orange where a top pixel falls). On a new figure (no ``ax``) two panels
    below show each pixel's sensitivity (:func:`plot_sensitivity`: how
    the flux responds to the label, beside what the model uses) and its
    selection frequency (:func:`plot_selection_frequency`).

    Parameters
    ----------
    result : RankingResult
    ax : matplotlib.axes.Axes, optional
        Drawn into; a new figure is made otherwise.

    Returns
    -------
    matplotlib.axes.Axes
        The flux axis (the relevance axis is its twin).

    Examples
    --------
    >>> from stellar_relevance import make_synthetic_spectra, rank_spectra
    >>> result = rank_spectra(make_synthetic_spectra(n_spectra=200), hidden_layer_sizes=(8,), max_epochs=1,
    ...                       ks=(10, "all"), n_permutations=10)
    >>> ax = plot_relevance(result)  # on a new matplotlib Figure: no pyplot, no window
    >>> ax.get_ylabel(), len(ax.figure.axes)  # flux, its relevance twin, the sensitivity, the selection frequency
    ('mean flux (training stars)', 4)
    >>> ax.figure.savefig(io.BytesIO(), format="png")  # or a file name
    """
    sensitivity_ax = frequency_ax = None
    if ax is None:
        from matplotlib.figure import Figure

        fig = Figure(figsize=_FIGSIZE["relevance"], layout="constrained")
        ax, sensitivity_ax, frequency_ax = fig.subplots(3, 1, sharex=True, height_ratios=[4, 1.6, 1.2])
    ranking, order, wave = _by_pixel(result)
    flux = np.asarray(ranking["mean_flux"], float)[order]
    relevance = np.asarray(ranking["relevance"], float)[order]
    top = int(result.settings.get("top", 30))
    is_top = np.asarray(ranking["rank"])[order] <= top

    indices = result.indices
    if "band_lower" in indices.colnames and len(indices):
        lower = u.Quantity(indices["band_lower"], u.AA).value
        upper = u.Quantity(indices["band_upper"], u.AA).value
        n_top = np.asarray(indices["n_top_bins"]) if "n_top_bins" in indices.colnames else np.zeros(len(indices))
        names = indices["display_name"] if "display_name" in indices.colnames else indices["name"]
        labels = []  # [centre, names, any_hit]: bands with (nearly) the same centre share one label
        for lo, hi, n, name in sorted(zip(lower, upper, n_top, names), key=lambda row: row[0] + row[1]):
            if hi < wave[0] or lo > wave[-1]:
                continue
            hit = n > 0
            centre = 0.5 * (lo + hi)
            ax.axvspan(lo, hi, color="tab:orange" if hit else "0.85", alpha=0.45 if hit else 0.6, lw=0, zorder=0)
            if labels and centre - labels[-1][0] < 0.004 * (wave[-1] - wave[0]):
                labels[-1][1].append(str(name))
                labels[-1][2] |= hit
            else:
                labels.append([centre, [str(name)], hit])
        for centre, group, hit in labels:
            ax.text(
                centre, 1.0, "/".join(group), transform=ax.get_xaxis_transform(), rotation=90,
                ha="center", va="bottom", fontsize=6.5, color="tab:red" if hit else "0.35",
                fontweight="bold" if hit else "normal",
            )
    ax.plot(wave, flux, color="0.45", lw=0.7, zorder=1)
    ax.set_xlim(wave[0], wave[-1])
    xlabel = "wavelength [Å, " + str(result.settings.get("wave_frame", "air")) + "]"
    ax.set_xlabel(xlabel)
    ax.set_ylabel("mean flux (training stars)", color="0.35")
    twin = ax.twinx()
    _spread_band(twin, wave, relevance, _column_by_pixel(result, "relevance_std"))
    twin.vlines(wave[~is_top], 0, relevance[~is_top], color="black", lw=0.6)
    twin.vlines(wave[is_top], 0, relevance[is_top], color="tab:red", lw=1.2, label=f"top {top}")
    twin.set_ylim(0, max(relevance.max() * 1.08, 1e-12))
    twin.set_ylabel("relevance (normalised)")
    twin.legend(loc="upper right", fontsize=8, frameon=False)
    ax.set_title(
        f"{label_display_name(result.settings.get('label'))}: spectral relevance — {result.split_text}",
        fontsize=8.5, pad=48,
    )
    if frequency_ax is not None:
        ax.set_xlabel("")
        plot_sensitivity(result, ax=sensitivity_ax)
        sensitivity_ax.set_xlabel("")
        plot_selection_frequency(result, ax=frequency_ax)
        frequency_ax.set_xlabel(xlabel)
    return ax


def plot_sensitivity(result, ax=None):
    """The sensitivity of every pixel (how its flux responds to the label) against wavelength.

    Signed: negative where the flux drops as the label rises (a line that
    deepens). The top-``top`` pixels by relevance are drawn in red, so the
    filter (relevance) and the pattern (sensitivity) can be read together;
    the band shades ±1 standard deviation over seeds. Results without a
    sensitivity say so on the axes.

    Parameters
    ----------
    result : RankingResult
    ax : matplotlib.axes.Axes, optional
        Drawn into; a new figure is made otherwise.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn into.

    Examples
    --------
    >>> from stellar_relevance import make_synthetic_spectra, rank_spectra
    >>> result = rank_spectra(make_synthetic_spectra(n_spectra=200), hidden_layer_sizes=(8,), max_epochs=1,
    ...                       ks=(10, "all"), n_permutations=10)
    >>> " ".join(plot_sensitivity(result).get_ylabel().split())
    'sensitivity (per label unit)'
    """
    ax = _new_axes("sensitivity") if ax is None else ax
    ranking, order, wave = _by_pixel(result)
    ax.set_ylabel("sensitivity\n(per label unit)", fontsize=8)
    if "sensitivity" not in ranking.colnames:
        ax.text(0.5, 0.5, "no sensitivity in this result", transform=ax.transAxes, ha="center", va="center",
                fontsize=8)
        return ax
    sensitivity = np.asarray(ranking["sensitivity"], float)[order]
    std = _column_by_pixel(result, "sensitivity_std")
    if std is not None:
        ax.fill_between(wave, sensitivity - np.nan_to_num(std), sensitivity + np.nan_to_num(std), color="tab:green",
                        alpha=0.35, lw=0, step="mid", label="±1 std over seeds")
    ax.plot(wave, sensitivity, color="tab:green", lw=0.7, label="sensitivity (responds)")
    is_top = np.asarray(ranking["rank"])[order] <= int(result.settings.get("top", 30))
    ax.plot(wave[is_top], sensitivity[is_top], "o", color="tab:red", ms=2.5, label="top pixels by relevance")
    ax.axhline(0.0, color="0.5", lw=0.5)
    spearman = result.metrics.get("relevance_sensitivity_spearman")
    if spearman is not None:
        ax.text(0.005, 0.95, f"Spearman(relevance, |sensitivity|) = {spearman:.2f}", transform=ax.transAxes,
                ha="left", va="top", fontsize=7.5)
    ax.legend(loc="upper right", fontsize=7, frameon=False, ncol=3)
    return ax


def plot_eigenvalues(result, ax=None):
    """Histogram of the first-layer eigenvalues, normalised to the largest (log y).

    Parameters
    ----------
    result : RankingResult
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn into.

    Examples
    --------
    >>> from stellar_relevance import make_synthetic_spectra, rank_spectra
    >>> result = rank_spectra(make_synthetic_spectra(n_spectra=200), hidden_layer_sizes=(8,), max_epochs=1,
    ...                       ks=(10, "all"), n_permutations=10)
    >>> from matplotlib.figure import Figure
    >>> fig = Figure(figsize=(10, 4))
    >>> left, right = fig.subplots(1, 2)
    >>> plot_eigenvalues(result, ax=left).get_yscale(), plot_curve(result, ax=right).get_xscale()
    ('log', 'log')
    """
    ax = _new_axes("eigenvalues") if ax is None else ax
    values = np.asarray(result.ranking["signed_eigenvalue"], float)
    scale = np.max(np.abs(values)) if values.size and np.max(np.abs(values)) > 0 else 1.0
    ax.hist(values / scale, bins=60, color="0.3", log=True)
    ax.set_xlabel(r"$\lambda_i / \max_j |\lambda_j|$")
    ax.set_ylabel("pixels")
    seeds = result.settings.get("seeds") or [None]
    ax.set_title(f"first-layer eigenvalues (seed {seeds[0]})", fontsize=9)
    return ax


def plot_curve(result, ax=None):
    """Test MAE against the number of pixels kept: spectral vs random, masked and retrained.

    Parameters
    ----------
    result : RankingResult
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn into.

    Examples
    --------
    >>> from stellar_relevance import make_synthetic_spectra, rank_spectra
    >>> result = rank_spectra(make_synthetic_spectra(n_spectra=200), hidden_layer_sizes=(8,), max_epochs=1,
    ...                       ks=(10, "all"), n_permutations=10)
    >>> ax = plot_curve(result)
    >>> ax.get_xlabel(), ax.get_ylabel()
    ('pixels kept (k)', 'test MAE [dex]')
    """
    ax = _new_axes("curve") if ax is None else ax
    curve = result.curve
    k = np.asarray(curve["k"], float)
    unit = result.settings.get("label_unit") or ""

    def series(name):
        return np.asarray(curve[name], float) if name in curve.colnames else np.full(k.shape, np.nan)

    for column, spread, style, label in (
        ("mae_retrained", None, dict(color="tab:blue", marker="o"), "top-k, retrained"),
        ("mae_random", "mae_random_std", dict(color="tab:blue", marker="o", ls="--", mfc="none"), "random-k, retrained"),
        ("mae_masked", None, dict(color="tab:red", marker="s"), "top-k, others masked (mean)"),
        ("mae_masked_random", "mae_masked_random_std", dict(color="tab:red", marker="s", ls="--", mfc="none"),
         "random-k, others masked"),
    ):
        y = series(column)
        ok = np.isfinite(y)
        if not ok.any():
            continue
        ax.plot(k[ok], y[ok], label=label, ms=4, lw=1.2, **style)
        if spread is not None:
            s = series(spread)
            ax.fill_between(k[ok], (y - s)[ok], (y + s)[ok], color=style["color"], alpha=0.12, lw=0)
    test_mae = result.metrics.get("test_mae")
    if test_mae is not None:
        ax.axhline(test_mae, color="0.4", lw=0.8, ls=":", label=f"all pixels ({test_mae:.3f})")
    ax.set_xscale("log")
    ax.set_xlabel("pixels kept (k)")
    ax.set_ylabel(f"test MAE [{unit}]" if unit else "test MAE")
    ax.set_title(f"{label_display_name(result.settings.get('label'))}: error vs k", fontsize=9)
    ax.legend(fontsize=7, frameon=False)
    return ax


_PLOTTERS = {"relevance": plot_relevance, "eigenvalues": plot_eigenvalues, "curve": plot_curve}


def figure_pngs(result, dpi=110):
    """Render the three figures to PNG bytes.

    Parameters
    ----------
    result : RankingResult
    dpi : int, default=110
        Resolution of the PNG images.

    Returns
    -------
    dict
        ``{"relevance": bytes, "eigenvalues": bytes, "curve": bytes}``.

    Examples
    --------
    >>> from stellar_relevance import make_synthetic_spectra, rank_spectra
    >>> result = rank_spectra(make_synthetic_spectra(n_spectra=200), hidden_layer_sizes=(8,), max_epochs=1,
    ...                       ks=(10, "all"), n_permutations=10)
    >>> pngs = figure_pngs(result, dpi=50)
    >>> sorted(pngs), pngs["curve"][:4]
    (['curve', 'eigenvalues', 'relevance'], b'\x89PNG')
    """
    pngs = {}
    for name, plotter in _PLOTTERS.items():
        ax = plotter(result)
        buffer = io.BytesIO()
        ax.figure.savefig(buffer, format="png", dpi=dpi)
        pngs[name] = buffer.getvalue()
    return pngs
