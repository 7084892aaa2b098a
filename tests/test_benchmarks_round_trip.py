"""benchmarks/round_trip.py runs in its quick mode: pack, rank, predict the other half, through the command line."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from test_io_surveys_real import DR6, DR7, SURVEYS  # the real files, found one way

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(not (DR7.is_file() and DR6.is_file()), reason=f"real LAMOST files not found in {SURVEYS}")
def test_round_trip_benchmark_quick(tmp_path):
    output = tmp_path / "round_trip.json"
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "round_trip.py"), "--quick", "--output",
                           str(output), "--workdir", str(tmp_path)],
                          capture_output=True, text=True, timeout=600, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(output.read_text())
    steps = {step["step"]: step for step in result["steps"]}
    assert len(steps) == 8 and not any(step["traceback"] for step in steps.values())
    # 3: a short training on 24 spectra may not beat the training mean; the outputs are written all the same
    assert steps.pop("rank half 1")["exit"] in (0, 3)
    assert all(step["exit"] == 0 for step in steps.values()), steps
    assert "--grid-from runA/model.pt" in steps["pack half 2 --grid-from"]["command"]
    assert steps["pack half 2 --grid by hand"]["command"].split("--grid ")[1].startswith("log:")
    packs = {p["file"]: p for p in result["packs"]}
    assert packs["A.fits"]["spectra"] == packs["B_model_grid.fits"]["spectra"] == 24
    assert packs["B_model_grid.fits"]["pixels"] == packs["B_hand.fits"]["pixels"] == packs["runA/model.pt (grid)"]["pixels"]
    by_hand = result["predictions"][1]
    assert result["predictions_equal"] and by_hand["equal_to_grid_from"] and by_hand["max_abs_diff"] == 0
    assert all(row["spectra"] == 24 for row in result["predictions"])
    assert "| step | exit | seconds | command |" in proc.stdout and "a short training" in proc.stdout
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("stelrel-round-trip-")]  # work folder removed


def test_round_trip_benchmark_says_when_the_data_are_absent(tmp_path):
    output = tmp_path / "round_trip.json"
    env = dict(os.environ, STELREL_SHARED_DATA=str(tmp_path / "nowhere"))
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "round_trip.py"), "--quick", "--output",
                           str(output)], capture_output=True, text=True, timeout=120, cwd=REPO, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "the real LAMOST files are not in" in proc.stdout and str(tmp_path / "nowhere") in proc.stdout
    assert "skipped" in json.loads(output.read_text())
