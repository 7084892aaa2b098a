"""The building blocks of the HTML report page: tables, key numbers, features, warnings, stability, the style.

Private to :mod:`stellar_relevance.report.html`, which assembles the page
(:func:`~stellar_relevance.report.html.render_html`).
"""

import html
import json

import astropy.units as u
import numpy as np

#: Number formats of table columns (others: 4 significant digits).
COLUMN_FORMATS = {"wavelength": "{:.1f}", "band_lower": "{:.3f}", "band_upper": "{:.3f}", "wavelength_lower": "{:.1f}",
                  "wavelength_upper": "{:.1f}", "peak_wavelength": "{:.1f}"}


def fmt(value):
    if isinstance(value, (float, np.floating)):
        if not np.isfinite(value):
            return "—"
        return f"{value:.4g}"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    return str(value)


def table_html(table, columns=None, max_rows=None, caption=None, css_class="data"):
    columns = [c for c in (columns or table.colnames) if c in table.colnames]
    head = []
    for name in columns:
        unit = getattr(table[name], "unit", None)
        unit = "" if unit is None or str(unit) in ("", "dimensionless") else f" [{unit}]"
        head.append(f"<th>{html.escape(name + unit)}</th>")
    rows = []
    n = len(table) if max_rows is None else min(len(table), max_rows)
    for i in range(n):
        cells = []
        for name in columns:
            value = table[name][i]
            if isinstance(value, u.Quantity):
                value = value.value
            text = COLUMN_FORMATS[name].format(value) if name in COLUMN_FORMATS else fmt(value)
            cells.append(f"<td>{html.escape(text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return (
        f'<table class="{css_class}">{cap}<thead><tr>{"".join(head)}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def dict_rows(mapping):
    from astropy.table import Table

    keys = list(mapping)
    return Table({"setting": keys, "value": [json.dumps(mapping[k]) if isinstance(mapping[k], (list, dict)) else fmt(mapping[k]) for k in keys]})


CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;max-width:1180px;color:#222;padding:0 1em}
h1{font-size:1.5em} h2{font-size:1.15em;border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.8em}
table{border-collapse:collapse;font-size:.82em;margin:.6em 0} th,td{border:1px solid #ccc;padding:.2em .5em;text-align:right}
th{background:#f3f3f3} td:first-child,th:first-child{text-align:left} caption{text-align:left;font-weight:bold;padding:.3em 0}
.figs img{max-width:100%;border:1px solid #eee;margin:.4em 0} .row{display:flex;gap:1em;flex-wrap:wrap}
.ok{color:#1a7f37;font-weight:bold} .no{color:#c62828;font-weight:bold} .key td{font-size:1.05em}
.note{color:#555;font-size:.88em} code{background:#f5f5f5;padding:0 .25em}
"""


def warnings_html(provenance):
    """The reader's warnings and the pipeline's own, each written out (not only counted)."""
    data = provenance.get("data") or {}
    groups = [("while reading the spectra", data.get("warnings")), ("while ranking", provenance.get("warnings"))]
    groups = [(when, list(items)) for when, items in groups if items]
    if not groups:
        n = data.get("n_warnings")
        return [f'<p class="note">The reader reported {n} warning(s); their text was not saved.</p>'] if n else []
    parts = ["<h2>Warnings</h2>"]
    for when, items in groups:
        parts.append(f"<p>{len(items)} warning(s) {when}:</p><ul class=\"warnings\">"
                     + "".join(f"<li>{html.escape(str(w))}</li>" for w in items) + "</ul>")
    return parts


def stability_html(stability, settings):
    """The stability paragraph: top-k overlaps across seeds, or that one seed gives no spread."""
    overlaps = {k: v for k, v in stability.items() if k.startswith("top") and k.endswith("_overlap")}
    if stability.get("note"):
        return [f'<p class="stability">Stability across seeds: {html.escape(str(stability["note"]))}.</p>']
    if not overlaps:
        return []
    top = int(settings.get("top", 30))
    return [
        f'<p class="stability">Stability across {stability.get("n_seeds", len(settings.get("seeds") or []))} seeds '
        f"(mean pairwise top-k overlap, ±{settings.get('overlap_tolerance_pixels', 2)} pixels): "
        + ", ".join(f"{html.escape(k)} = {v:.2f}" for k, v in overlaps.items())
        + f". The relevance figure shades ±1 standard deviation over seeds; its lower panel and the "
        f"<code>selection_frequency</code> column give the share of seeds in whose top-{top} each pixel is.</p>"
    ]


def key_numbers(result):
    """The key-numbers table: errors (with predicting the training mean), index enrichment, relevance vs sensitivity."""
    from astropy.table import Table

    s, m = result.settings, result.metrics
    top = int(s.get("top", 30))
    seeds = f" (mean of {s.get('n_seeds')} seeds' predictions)" if s.get("n_seeds", 1) > 1 else ""
    rows = [
        ("test MAE, all pixels" + seeds, fmt(m.get("test_mae"))),
        ("test MAE of predicting the training mean", fmt(m.get("training_mean_mae"))),
        (f"test MAE, top-{top} retrained", fmt(m.get("topk_mae"))),
        (f"test MAE, random-{top} retrained", fmt(m.get("topk_mae_random"))),
        (f"test MAE, top-{top} (others masked)", fmt(m.get("topk_mae_masked"))),
        ("standard error of the test MAE", fmt(m.get("test_mae_standard_error"))),
        (f"index enrichment of the top-{top}: overall p-value",
         fmt(m.get("overall_p_value")) + f" ({m.get('n_permutations')} permutations)"),
        ("Spearman correlation of relevance with |sensitivity|", fmt(m.get("relevance_sensitivity_spearman"))),
    ]
    if m.get("n_features") is not None:
        rows.append((f"features (merged top-{top} pixels) significant at FDR {s.get('fdr')}",
                     f"{m.get('n_significant_features')} of {m.get('n_features')}"))
    parts = [table_html(Table({"quantity": [r[0] for r in rows], "value": [r[1] for r in rows]}), css_class="data key")]
    if m.get("beats_training_mean") is False:
        parts.append(f'<p class="no">The model does not beat predicting the training mean: test MAE '
                     f"{fmt(m.get('test_mae'))} against {fmt(m.get('training_mean_mae'))}. Its relevance ranks the "
                     "pixels of a model that learned nothing useful.</p>")
    return parts


#: Columns of the features table shown in the report.
FEATURE_COLUMNS = ["feature", "wavelength_lower", "wavelength_upper", "peak_wavelength", "n_top_pixels",
                   "peak_relevance", "sensitivity", "indices", "q_value", "significant"]


def features_html(result):
    """The features section: the merged top pixels with their significance, or that none is significant."""
    features = getattr(result, "features", None)
    if features is None:
        return []
    fdr = result.settings.get("fdr")
    parts = [f"<h2>Features: the top-{int(result.settings.get('top', 30))} pixels merged into lines</h2>"]
    method = features.meta.get("significance", "")
    if method:
        parts.append(f'<p class="note">{html.escape(str(method))}</p>')
    if not len(features):
        return parts + ["<p>No feature.</p>"]
    n_significant = int(np.sum(np.asarray(features["significant"], bool))) if "significant" in features.colnames else 0
    if n_significant == 0:
        parts.append(f'<p class="no">Nothing here is significant: no feature stands out from the shadow pixels at a '
                     f"false-discovery rate of {fmt(fdr)}.</p>")
    else:
        parts.append(f"<p>{n_significant} of {len(features)} features are significant at a false-discovery rate of "
                     f"{fmt(fdr)}.</p>")
    return parts + [table_html(features, FEATURE_COLUMNS)]
