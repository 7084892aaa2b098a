"""benchmarks/indices.py runs in its quick mode and writes its JSON."""

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_indices_benchmark_quick(tmp_path, miles_dir):
    output = tmp_path / "indices.json"
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "indices.py"), "--quick", "--output", str(output),
         "--miles-dir", str(miles_dir)],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    payload = json.loads(output.read_text())
    assert len(payload["timings"]) == 3
    assert payload["miles"]["n_spectra"] == 984
    rho = {row["index"]: row for row in payload["miles"]["correlations"]}
    # the iron indices trace [Fe/H] at fixed Teff; H-alpha traces Teff
    assert rho["Fe5270"]["rho_feh_5000_6500K"] > 0.5
    assert rho["Halpha"]["rho_teff"] > 0.8
