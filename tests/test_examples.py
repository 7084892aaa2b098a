"""Every script in examples/ runs (in its quick mode) and prints what it promises."""

import os
import subprocess
import sys
from pathlib import Path


EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _run(script, *args, env=None):
    return subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        capture_output=True, text=True, timeout=300, env={**os.environ, **(env or {})},
    )


def test_every_example_is_tested():
    assert {p.name for p in EXAMPLES.glob("*.py")} == {"rank_synthetic.py", "rank_miles.py", "feature_selection.py"}


def test_rank_synthetic(tmp_path):
    done = _run("rank_synthetic.py", "--quick", "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr[-3000:]
    assert "top-30 pixels on planted [Fe/H] lines" in done.stdout
    assert (tmp_path / "out" / "report.html").exists()
    assert "Ground truth (synthetic spectra)" in (tmp_path / "out" / "report.html").read_text()
    assert "//report.html" not in done.stdout
    assert "features significant" in done.stdout and (tmp_path / "out" / "features.ecsv").exists()


def test_rank_miles(miles_dir, tmp_path):
    done = _run("rank_miles.py", "--quick", "--miles", str(miles_dir), "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr[-3000:]
    assert "[Fe/H] test MAE" in done.stdout and "H-alpha" in done.stdout
    assert "predicting the training mean" in done.stdout and "Spearman" in done.stdout
    assert (tmp_path / "out" / "summary.json").exists()


def test_rank_miles_skips_politely_without_data(tmp_path):
    done = _run("rank_miles.py", "--quick", "--miles", str(tmp_path / "no-miles-here"))
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith("skipping: MILES not available")


def test_feature_selection():
    done = _run("feature_selection.py", "--quick")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "ROC-AUC relevant vs irrelevant" in done.stdout
    accuracy = float(done.stdout.split("3-fold CV accuracy: ")[1].split()[0])
    assert accuracy > 0.9
