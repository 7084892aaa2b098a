"""The benchmarks without a test of their own run in their quick modes on the real data and write their JSON."""

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _run(args, timeout=600):
    result = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=timeout,
                            cwd=REPO / "benchmarks")
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_penalties_quick(tmp_path, miles_dir):
    out = tmp_path / "penalties.json"
    stdout = _run(["penalties.py", "--quick", "--miles", str(miles_dir), "--out", str(out)])
    rows = json.loads(out.read_text())["rows"]
    assert [(r["penalty"], r["strength"]) for r in rows] == [("l2", 0.01), ("l1", 0.003)]
    assert all(0 < r["test_mae"] < 2 and 1 <= r["n_selected"] <= 4300 for r in rows)
    assert "| penalty |" in stdout


def test_seed_stability_quick(tmp_path, miles_dir, monkeypatch):
    monkeypatch.setenv("STELREL_MILES_DIR", str(miles_dir))
    out = tmp_path / "seeds.json"
    stdout = _run(["seed_stability.py", "--quick", "--output", str(out)])
    assert "test MAE per seed" in stdout
    payload = json.loads(out.read_text())
    assert payload["rows"][0]["n_seeds"] == "single (pairwise)"
    assert all(0 <= r["overlap_exact"] <= 1 for r in payload["rows"])


def test_miles_quick(tmp_path, miles_dir):
    out = tmp_path / "miles.json"
    _run(["miles.py", "--quick", "--miles", str(miles_dir), "--output", str(out)])
    payload = json.loads(out.read_text())
    assert payload["folds_run"] == 2 and len(payload["folds"]) == 2
    assert all(0 < fold["test_mae"] < 1 and fold["n_test"] > 100 for fold in payload["folds"])


def test_loaders_quick(tmp_path, miles_dir):
    out = tmp_path / "loaders.json"
    _run(["loaders.py", "--quick", "--miles-dir", str(miles_dir), "--output", str(out)])
    results = {r["loader"]: r for r in json.loads(out.read_text())["results"]}
    assert results["read_miles"]["n_spectra"] == 984 and results["read_miles"]["median_s"] > 0


def test_store_mmap_small(tmp_path):
    out = tmp_path / "store.json"
    stdout = _run(["store_mmap.py", "--rows", "2000", "--pixels", "500", "--output", str(out)])
    probes = {p["what"]: p for p in json.loads(out.read_text())["probes"]}
    assert {"open_store", "read_packed(memmap=False)"} <= set(probes)
    assert all(p["open_s"] >= 0 and p["peak_mib"] > 0 for p in probes.values())
    assert "|" in stdout


def test_features_null_quick(tmp_path, miles_dir, monkeypatch):
    monkeypatch.setenv("STELREL_MILES_DIR", str(miles_dir))
    out = tmp_path / "null.json"
    stdout = _run(["features_null.py", "--quick", "--permutations", "1", "--output", str(out)])
    rows = json.loads(out.read_text())["rows"]
    assert [r["labels"] for r in rows] == ["real [Fe/H]", "permuted (seed 0)"]
    assert all(0 <= r["n_significant"] <= r["n_features"] and r["seconds"] > 0 for r in rows)
    assert "permutations with 0 significant features:" in stdout
