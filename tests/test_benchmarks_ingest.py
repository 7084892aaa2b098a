"""benchmarks/ingest.py runs in its quick mode and writes its JSON."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SURVEYS = Path(os.environ.get("STELREL_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")) / "surveys"


@pytest.mark.skipif(not (SURVEYS / "spec-58397-EG014118N254444M01_sp03-031.fits").is_file(),
                    reason=f"real LAMOST files not found in {SURVEYS}")
def test_ingest_benchmark_quick(tmp_path):
    output = tmp_path / "ingest.json"
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "ingest.py"), "--quick", "--files", "60",
                           "--output", str(output), "--workdir", str(tmp_path)],
                          capture_output=True, text=True, timeout=900, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(output.read_text())
    assert {r["jobs"] for r in result["runs"]} == {1, 2}
    for run in result["runs"]:
        assert run["files_per_s"] > 0 and run["main_peak_mb"] > 0
        assert abs(run["read_share"] + run["resample_share"] + run["write_share"] - 1) < 1e-6
    assert result["resampler"]["max_rel_diff"] < 1e-6 and result["resampler"]["speedup"] > 1
    assert "| files | jobs |" in proc.stdout
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("stelrel-ingest-")]  # work folder removed
