"""benchmarks/scale.py runs in its quick mode (a store, trained from the memory map and from memory) and writes its JSON."""

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_scale_quick(tmp_path):
    output = tmp_path / "scale.json"
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "scale.py"), "--quick", "--output", str(output),
         "--store-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "| 600 | store | 1 |" in result.stdout
    payload = json.loads(output.read_text())
    runs = {(row["mode"], row["processes"]): row for row in payload["runs"]}
    assert set(runs) == {("store", 1), ("memory", 1)}
    for row in runs.values():
        assert row["seconds_per_epoch"] > 0 and row["spectra_per_s"] > 0
        assert row["peak_anon_mib"] > 0 and row["peak_file_mib"] > 0
        assert abs(row["final_loss"]) < 10
    # the store path is the same training: same data, same seed -> the same final loss
    assert abs(runs["store", 1]["final_loss"] - runs["memory", 1]["final_loss"]) < 1e-3
    assert list(tmp_path.glob("*.fits")) == [] and [p for p in tmp_path.iterdir() if p.is_dir()] == []
