"""Figures (stellar_relevance.report.figures) and the self-contained HTML page (report.html), on an in-memory result."""

import base64
import re
import shutil
import subprocess

import astropy.units as u
import numpy as np
import pytest
from astropy.table import QTable, Table

from stellar_relevance.report.figures import (
    figure_pngs,
    label_display_name,
    plot_curve,
    plot_eigenvalues,
    plot_relevance,
    plot_sensitivity,
)
from stellar_relevance.report.html import render_html, write_html
from stellar_relevance.report.result import RankingResult

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture()
def fake_result():
    """A hand-made result: 400 pixels, relevance peaked at two 'lines', two index bands."""
    rng = np.random.default_rng(0)
    wave = (4800 + 1.0 * np.arange(400)) * u.AA
    relevance = rng.uniform(0, 1e-4, 400)
    relevance[[60, 61, 190]] = [0.2, 0.1, 0.3]
    relevance /= relevance.sum()
    order = np.argsort(-relevance, kind="stable")
    ranking = QTable(
        {
            "rank": np.arange(1, 401),
            "pixel": order,
            "wavelength": wave[order],
            "relevance": relevance[order],
            "relevance_std": np.zeros(400),
            "signed_eigenvalue": rng.normal(0, 0.1, 400)[order],
            "mean_flux": (1 - 0.3 * np.exp(-0.5 * ((wave.value - 4861) / 2) ** 2))[order],
            "indices": np.where(np.isin(order, [60, 61]), "Hb", "").astype(str),
        }
    )
    indices = QTable(
        {
            "name": ["Hb", "Fe5015"],
            "display_name": ["Hβ", "Fe5015"],
            "band_lower": [4847.875, 4977.750] * u.AA,
            "band_upper": [4876.625, 5054.000] * u.AA,
            "n_top_bins": [2, 0],
            "enrichment": [12.0, 0.4],
            "p_value": [0.002, 0.9],
        }
    )
    curve = Table(
        {
            "k": [5, 30, 400],
            "mae_masked": [0.5, 0.3, 0.2],
            "mae_masked_random": [0.7, 0.6, 0.2],
            "mae_masked_random_std": [0.05, 0.04, 0.0],
            "mae_retrained": [0.3, 0.22, 0.21],
            "mae_random": [0.5, 0.4, 0.21],
            "mae_random_std": [0.03, 0.02, 0.0],
        }
    )
    metrics = {
        "test_mae": 0.2, "topk_mae": 0.22, "topk_mae_random": 0.4, "topk_mae_masked": 0.3,
        "overall_p_value": 0.003, "n_permutations": 1000, "test_mae_standard_error": 0.02,
        "stability": {"top30_overlap": 0.85},
        "claims": [
            {"claim": "no top-30 pixel in H-alpha", "observed": "0 top-30 pixels in H-alpha", "holds": True},
            {"claim": "minimum near 30 pixels", "observed": "minimum at k=400", "holds": False},
        ],
        "seeds": [{"seed": 0, "test_mae": 0.2, "best_epoch": 310, "n_epochs": 410, "seconds": 30.0}],
    }
    settings = {"label": "FEH", "label_unit": "dex", "top": 30, "seeds": [0], "n_seeds": 1, "random_state": 0,
                "wave_frame": "air", "hidden_layer_sizes": (200, 50, 50)}
    provenance = {"split": {"n_train": 700, "n_validation": 78, "n_test": 87, "n_with_label": 865},
                  "data": {"source": "test <fixture> & co", "n_pixels": 400, "n_warnings": 1,
                           "warnings": ["m0742.fits: 14 zero-padded pixels at 7380-7410 A masked"]},
                  "warnings": ["only 12 test spectra: the test MAE rests on few stars"],
                  "versions": {"stellar_relevance": "0.test"}, "timings": {"train": 1.5},
                  "created": "2026-01-01T00:00:00+00:00", "command": "stelrel rank x --out y"}
    return RankingResult(ranking, indices, curve, metrics, settings, provenance)


def test_plots_draw_what_the_result_holds(fake_result):
    ax = plot_relevance(fake_result)
    assert ax.get_xlim() == (4800.0, 5199.0)
    texts = {t.get_text() for t in ax.texts}
    assert {"Hβ", "Fe5015"} <= texts  # the index bands are labelled
    assert len(ax.patches) == 2  # ... and shaded
    ax = plot_eigenvalues(fake_result)
    assert ax.get_yscale() == "log"
    ax = plot_curve(fake_result)
    assert ax.get_xscale() == "log"
    labels = [line.get_label() for line in ax.get_lines()]
    assert any("retrained" in label for label in labels) and any("random" in label for label in labels)


def test_figure_pngs(fake_result):
    pngs = figure_pngs(fake_result)
    assert set(pngs) == {"relevance", "eigenvalues", "curve"}
    for data in pngs.values():
        assert data[:8] == PNG_MAGIC and len(data) > 5000


def test_html_is_self_contained(fake_result, tmp_path):
    path = write_html(fake_result, tmp_path / "report.html")
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]
    text = path.read_text(encoding="utf-8")
    images = re.findall(r'<img [^>]*src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)
    assert len(images) == 3
    assert all(base64.b64decode(img)[:8] == PNG_MAGIC for img in images)
    # nothing is fetched from anywhere
    assert not re.search(r'(src|href)="(https?:)?//', text)
    assert "<table" in text and text.count("<table") >= 5
    # the split, the numbers, the claims and the provenance are stated
    assert "700 train / 78 validation / 87 test" in text
    assert "does not hold" in text and "holds" in text
    assert "0.003" in text and "stelrel rank x --out y" in text
    # user text is escaped
    assert "test &lt;fixture&gt; &amp; co" in text


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


def test_report_renders_in_headless_chromium(fake_result, tmp_path):
    """Open the page in a real browser with no network and check figures and tables are in the DOM."""
    browser = _chromium()
    if browser is None:
        pytest.skip("no chromium binary found (install Debian's `chromium` package to run this check)")
    page = write_html(fake_result, tmp_path / "report.html")
    profile = tmp_path / "profile"
    common = [
        browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
    ]
    # the DOM after the page loaded: images decoded from data: URIs, tables present
    script_page = tmp_path / "check.html"
    script_page.write_text(
        page.read_text(encoding="utf-8").replace(
            "</body>",
            "<script>window.addEventListener('load',function(){var imgs=document.images,ok=0;"
            "for(var i=0;i<imgs.length;i++){if(imgs[i].complete&&imgs[i].naturalWidth>100)ok++;}"
            "document.body.setAttribute('data-decoded',ok);"
            "document.body.setAttribute('data-tables',document.querySelectorAll('table tbody tr').length);});"
            "</script></body>",
        ),
        encoding="utf-8",
    )
    dom = subprocess.run(
        [*common, "--virtual-time-budget=5000", "--dump-dom", script_page.as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    assert len(re.findall(r'<img [^>]*src="data:image/png;base64,', html)) == 3
    assert 'data-decoded="3"' in html, "the browser did not decode the three embedded figures"
    rows = int(re.search(r'data-tables="(\d+)"', html).group(1))
    assert rows >= 30
    assert "Top-30 pixels" in html and "Index bands" in html

    shot = tmp_path / "shot.png"
    done = subprocess.run(
        [*common, f"--screenshot={shot}", "--window-size=1200,2000", page.as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert shot.read_bytes()[:8] == PNG_MAGIC


def test_render_html_does_not_need_models(fake_result):
    assert fake_result.estimator is None
    text = render_html(fake_result)
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")


def test_report_speaks_to_people(fake_result):
    """[Fe/H] not FEH, the warnings themselves (not only their count), wavelengths to 0.1 A."""
    text = render_html(fake_result)
    assert "Which pixels carry [Fe/H]?" in text and "carry FEH" not in text
    assert "m0742.fits: 14 zero-padded pixels at 7380-7410 A masked" in text
    assert "only 12 test spectra" in text
    top = fake_result.ranking[:30]
    for wave in top["wavelength"].value[:5]:
        assert f"<td>{wave:.1f}</td>" in text
    assert "<td>4847.875</td>" in text  # band limits as the catalogue gives them
    assert plot_relevance(fake_result).get_title().startswith("[Fe/H]: spectral relevance")


@pytest.mark.parametrize("label, shown", [("FEH", "[Fe/H]"), ("TEFF", "T_eff"), ("LOGG", "log g"), ("XYZ", "XYZ")])
def test_label_display_names(label, shown):
    assert label_display_name(label) == shown


def test_write_html_refuses_to_overwrite_when_asked(fake_result, tmp_path):
    path = write_html(fake_result, tmp_path / "report.html")
    with pytest.raises(FileExistsError):
        write_html(fake_result, path, overwrite=False)


# ----------------------------------------------------------------------------- stability over seeds
def _with_seeds(result, n_seeds):
    """The fake result as if ``n_seeds`` seeds were trained (spread and selection frequency, or none)."""
    ranking = result.ranking
    rank = np.asarray(ranking["rank"])
    if n_seeds > 1:
        ranking["relevance_std"] = 0.1 * np.asarray(ranking["relevance"])
        ranking["selection_frequency"] = np.where(rank <= 25, 1.0, np.where(rank <= 35, 0.5, 0.0))
        result.metrics["stability"] = {"n_seeds": n_seeds, "top30_overlap": 0.83}
    else:
        ranking["relevance_std"] = np.full(len(ranking), np.nan)
        ranking["selection_frequency"] = np.full(len(ranking), np.nan)
        result.metrics["stability"] = {"n_seeds": 1, "note": "one seed trained: no spread, overlap or selection "
                                                              "frequency is available (use --seeds 2 or more)"}
    result.settings["seeds"] = list(range(n_seeds))
    return result


def test_relevance_figure_shows_spread_and_selection_frequency(fake_result):
    result = _with_seeds(fake_result, 2)
    ax = plot_relevance(result)
    fig_axes = ax.figure.axes
    assert len(fig_axes) == 4  # flux, its relevance twin, the sensitivity and the selection-frequency panels
    twin = [a for a in fig_axes if a is not ax and a.get_ylabel().startswith("relevance")][0]
    assert "±1 std over seeds" in [c.get_label() for c in twin.collections]
    panel = [a for a in fig_axes if "share of seeds" in a.get_ylabel()][0]
    assert sum(len(c.get_segments()) for c in panel.collections) == 35  # pixels in some seed's top 30
    assert any("overlap across seeds 0.83" in t.get_text() for t in panel.texts)
    page = render_html(result)
    assert "Stability across 2 seeds" in page and "top30_overlap = 0.83" in page
    assert "selection_frequency" in page


def test_one_seed_says_no_spread(fake_result):
    result = _with_seeds(fake_result, 1)
    ax = plot_relevance(result)
    twin = [a for a in ax.figure.axes if a is not ax and a.get_ylabel().startswith("relevance")][0]
    assert "±1 std over seeds" not in [c.get_label() for c in twin.collections]
    panel = [a for a in ax.figure.axes if "share of seeds" in a.get_ylabel()][0]
    assert any("no spread" in t.get_text() for t in panel.texts)
    assert "one seed trained: no spread" in render_html(result)


def test_relevance_by_label_has_one_panel_per_label(fake_result, tmp_path):
    import copy

    from stellar_relevance.report.by_label import plot_relevance_by_label, write_relevance_by_label

    teff = copy.deepcopy(fake_result)
    teff.settings.update(label="TEFF", label_unit="K", given=["LOGG"])
    fig = plot_relevance_by_label([_with_seeds(fake_result, 3), teff])
    axes = fig.axes
    assert len(axes) == 2 and axes[0].get_shared_x_axes().joined(axes[0], axes[1])
    assert axes[0].get_title(loc="left").startswith("[Fe/H]")
    assert axes[1].get_title(loc="left").startswith("T_eff given log g")
    path = write_relevance_by_label([fake_result, teff], tmp_path)
    assert path.name == "relevance_by_label.png" and path.read_bytes()[:8] == PNG_MAGIC
    with pytest.raises(FileExistsError):
        write_relevance_by_label([fake_result, teff], tmp_path)


# ----------------------------------------------------------------------------- sensitivity, features, the baseline
def _with_sensitivity_and_features(result, significant):
    from stellar_relevance.indices.features import find_features

    ranking = result.ranking
    order = np.argsort(np.asarray(ranking["pixel"]))
    wave = u.Quantity(ranking["wavelength"])[order]
    relevance = np.asarray(ranking["relevance"])[order]
    sensitivity = -50.0 * relevance + 0.01
    ranking["sensitivity"] = sensitivity[np.asarray(ranking["pixel"])]
    ranking["sensitivity_std"] = np.full(len(ranking), 0.01)
    q = np.ones(relevance.size)
    if significant:
        q[[60, 61]] = 0.01
    result.features = find_features(wave, relevance, top=30, sensitivity=sensitivity, q_values=q)
    result.features.meta["significance"] = "Significance: shadow pixels (test)."
    result.settings["fdr"] = 0.05
    result.metrics.update(training_mean_mae=0.45, beats_training_mean=True, relevance_sensitivity_spearman=0.31,
                          n_features=len(result.features), n_significant_features=int(significant))
    return result


def test_the_sensitivity_panel_reads_beside_the_relevance(fake_result):
    result = _with_sensitivity_and_features(fake_result, True)
    ax = plot_sensitivity(result)
    assert "sensitivity" in ax.get_ylabel()
    labels = [line.get_label() for line in ax.get_lines()]
    assert "sensitivity (responds)" in labels and "top pixels by relevance" in labels
    assert any("Spearman(relevance, |sensitivity|) = 0.31" in t.get_text() for t in ax.texts)
    assert any("no sensitivity" in t.get_text() for t in plot_sensitivity(fake_result.__class__(
        fake_result.ranking[["rank", "pixel", "wavelength", "relevance"]], fake_result.indices, fake_result.curve,
        {}, fake_result.settings, fake_result.provenance)).texts)
    page = render_html(result)
    assert "<b>Relevance</b> is what the model uses" in page and "<b>sensitivity</b> is how the pixel" in page
    assert "<th>sensitivity</th>" in page and "Spearman correlation of relevance with |sensitivity|" in page


def test_the_report_lists_features_with_their_significance(fake_result):
    page = render_html(_with_sensitivity_and_features(fake_result, True))
    assert "Features: the top-30 pixels merged into lines" in page
    assert "1 of " in page and "are significant at a false-discovery rate of 0.05" in page
    assert "<th>q_value</th>" in page and "<th>significant</th>" in page and "<td>yes</td>" in page
    assert "Nothing here is significant" not in page
    assert "Significance: shadow pixels (test)." in page


def test_the_report_says_when_nothing_is_significant(fake_result):
    page = render_html(_with_sensitivity_and_features(fake_result, False))
    assert "Nothing here is significant" in page and "<td>yes</td>" not in page


def test_the_report_sets_the_model_beside_predicting_the_training_mean(fake_result):
    result = _with_sensitivity_and_features(fake_result, True)
    page = render_html(result)
    assert "test MAE of predicting the training mean" in page and "<td>0.45</td>" in page
    assert "does not beat predicting the training mean" not in page
    result.metrics.update(test_mae=0.5, beats_training_mean=False)
    page = render_html(result)
    assert "The model does not beat predicting the training mean: test MAE 0.5 against 0.45" in page


def test_report_says_which_top_k_curve_to_trust(fake_result):
    page = render_html(fake_result)  # masked 0.3 against retrained 0.22
    assert "Which curve to trust:" in page and "top 30: masked 0.3, retrained 0.22: read the retrained curve." in page
    fake_result.metrics["topk_mae_masked"] = 0.23
    assert "masked 0.23, retrained 0.22: the two agree." in render_html(fake_result)
