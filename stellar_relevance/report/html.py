"""The self-contained HTML page of a :class:`~stellar_relevance.report.result.RankingResult`.

This module computes nothing: it lays out what the result holds
(``ranking``, ``features``, ``indices``, ``curve``, ``metrics``,
``settings``, ``provenance``) with the figures of
:mod:`stellar_relevance.report.figures`, embedded as base64 PNG so the page
opens with no network and no side files.
"""

import base64
import html
import logging
from pathlib import Path

import numpy as np

from stellar_relevance.io.atomic import atomic_write
from stellar_relevance.report._html import (CSS, dict_rows, features_html, fmt, key_numbers, stability_html,
                                            table_html, warnings_html)
from stellar_relevance.report.figures import _spread_band, figure_pngs, label_display_name  # noqa: F401 (by_label)

__all__ = ["render_html", "write_html"]

logger = logging.getLogger(__name__)


def _curve_advice(metrics, top):
    """One paragraph: which of the two top-k curves answers "how well do k pixels predict the label"."""
    masked, retrained = metrics.get("topk_mae_masked"), metrics.get("topk_mae")
    text = ("<b>Which curve to trust:</b> the retrained one says how well k pixels alone predict the label. The "
            "masked one says how much this model loses when the other pixels are frozen; a model that uses many "
            "pixels a little (the default l2 penalty switches none off) loses much, although a model trained on "
            "the k pixels would not.")
    if masked is not None and retrained is not None and np.isfinite(masked) and np.isfinite(retrained):
        text += (f" Here, top {top}: masked {masked:.3g}, retrained {retrained:.3g}"
                 + (": read the retrained curve." if masked - retrained > 0.02 else ": the two agree."))
    return f'<p class="note">{text}</p>'


def render_html(result, pngs=None):
    """The report page as one HTML string (figures embedded as base64 PNG).

    Parameters
    ----------
    result : RankingResult
    pngs : dict, optional
        From :func:`figure_pngs` (rendered here when omitted).

    Returns
    -------
    str
        A whole HTML document.

    Examples
    --------
    >>> from stellar_relevance import make_synthetic_spectra, rank_spectra
    >>> result = rank_spectra(make_synthetic_spectra(n_spectra=200), hidden_layer_sizes=(8,), max_epochs=1,
    ...                       ks=(10, "all"), n_permutations=10)
    >>> page = render_html(result, figure_pngs(result, dpi=30))
    >>> page.startswith("<!DOCTYPE html>"), "Which pixels carry [Fe/H]?" in page
    (True, True)
    """
    from astropy.table import Table

    pngs = figure_pngs(result) if pngs is None else pngs
    s, m, p = result.settings, result.metrics, result.provenance
    label = html.escape(label_display_name(s.get("label")))
    unit = html.escape(str(s.get("label_unit") or ""))
    top = int(s.get("top", 30))
    data = p.get("data") or {}

    def img(name, alt):
        encoded = base64.b64encode(pngs[name]).decode("ascii")
        return f'<img id="fig-{name}" alt="{html.escape(alt)}" src="data:image/png;base64,{encoded}">'

    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>stelrel ranking: {label}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>Which pixels carry {label}? — stelrel report</h1>",
        f'<p class="note">{html.escape(result.split_text)}. Data: {html.escape(str(data.get("source", "")))}'
        f" ({html.escape(str(data.get('n_pixels', '')))} pixels). "
        f"Created {html.escape(str(p.get('created')))} with stelrel {html.escape(str((p.get('versions') or {}).get('stellar_relevance')))}."
        f" MAE in {unit or 'label units'}.</p>",
        "<h2>Key numbers</h2>",
        *key_numbers(result),
    ]
    parts += stability_html(m.get("stability") or {}, s)
    parts += warnings_html(p)
    truth = m.get("ground_truth")
    if truth:
        parts.append(
            f"<p>Ground truth (synthetic spectra): {truth['top_in_planted_lines']:.0%} of the top-{top} pixels lie on "
            f"planted {label}-sensitive lines, which cover {truth['planted_pixel_share']:.1%} of the pixels; "
            f"lines recovered: {len(truth['lines_recovered'])} of {truth['n_lines']} "
            f"({html.escape(', '.join(truth['lines_recovered']))}).</p>"
        )
    claims = m.get("claims") or []
    if claims:
        parts.append("<h2>The paper's claims, checked on this run</h2>")
        rows = "".join(
            f"<tr><td>{html.escape(c['claim'])}</td><td>{html.escape(c['observed'])}</td>"
            f"<td class=\"{'ok' if c['holds'] else 'no'}\">{'holds' if c['holds'] else 'does not hold'}</td></tr>"
            for c in claims
        )
        parts.append(
            '<table class="data claims"><thead><tr><th>claim</th><th>observed</th><th>verdict</th></tr></thead>'
            f"<tbody>{rows}</tbody></table>"
        )
    parts += [
        "<h2>Figures</h2>",
        '<p class="note">Two answers per pixel. <b>Relevance</b> is what the model uses (a filter: |lambda| ||psi|| '
        "of the spectral layer); <b>sensitivity</b> is how the pixel's flux responds to the label (a pattern: the "
        "covariance of the flux with the model's prediction over the prediction's variance, after the given labels, "
        "in units of the flux scatter the prediction leaves). A pixel the model needs only to cancel noise has "
        "relevance but little sensitivity; a pixel that responds but repeats a better one has sensitivity but "
        "little relevance.</p>",
        '<div class="figs">',
        img("relevance", f"relevance and sensitivity of each pixel for {label} over the mean spectrum, index bands "
            "shaded"),
        '<div class="row">',
        img("curve", "test MAE against the number of pixels kept, spectral vs random"),
        img("eigenvalues", "histogram of the first-layer eigenvalues, log scale"),
        "</div></div>",
        *features_html(result),
        f"<h2>Top-{top} pixels</h2>",
        table_html(result.ranking, ["rank", "wavelength", "relevance", "relevance_std", "sensitivity",
                                     "sensitivity_std", "selection_frequency", "signed_eigenvalue", "indices"],
                   max_rows=top),
        "<h2>Index bands</h2>",
        table_html(result.indices),
        "<h2>Error vs k</h2>",
        '<p class="note">Masked: the trained model with every pixel outside the k kept set to its training mean. '
        "Retrained: a new model trained on the k pixels alone (same settings, seed "
        f"{html.escape(str((s.get('seeds') or [None])[0]))}). Random: mean ± spread over random-k draws.</p>",
        _curve_advice(m, top),
        table_html(result.curve),
        "<h2>Provenance</h2>",
        table_html(dict_rows(s), caption="settings"),
        table_html(dict_rows({k: v for k, v in (p.get("split") or {}).items() if k != "test_ids"}), caption="split"),
        table_html(dict_rows(data), caption="data"),
        table_html(dict_rows(p.get("timings") or {}), caption="timings [s]"),
        table_html(dict_rows(p.get("versions") or {}), caption="versions"),
    ]
    if m.get("seeds"):
        parts.append(table_html(Table(rows=[list(r.values()) for r in m["seeds"]], names=list(m["seeds"][0])),
                                 caption="per seed"))
    if p.get("command"):
        parts.append(f"<p>Command: <code>{html.escape(str(p['command']))}</code></p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_html(result, path, pngs=None, overwrite=True):
    """Write :func:`render_html` to ``path`` atomically.

    Parameters
    ----------
    result : RankingResult
    path : str or Path
    pngs : dict, optional
        From :func:`figure_pngs`.
    overwrite : bool, default=True
        Replace an existing file; otherwise :class:`FileExistsError`.

    Returns
    -------
    pathlib.Path
        The file written.

    Examples
    --------
    >>> import tempfile
    >>> from stellar_relevance import make_synthetic_spectra, rank_spectra
    >>> result = rank_spectra(make_synthetic_spectra(n_spectra=200), hidden_layer_sizes=(8,), max_epochs=1,
    ...                       ks=(10, "all"), n_permutations=10)
    >>> path = write_html(result, Path(tempfile.mkdtemp()) / "report.html", figure_pngs(result, dpi=30))
    >>> path.name, path.read_text(encoding="utf-8").endswith("</html>")
    ('report.html', True)
    """
    text = render_html(result, pngs)
    return atomic_write(Path(path), lambda tmp: Path(tmp).write_text(text, encoding="utf-8"), overwrite=overwrite)
