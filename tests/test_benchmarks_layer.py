"""benchmarks/layer_overhead.py runs in its quick mode and writes its JSON."""

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_layer_overhead_quick(tmp_path):
    output = tmp_path / "layer.json"
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "layer_overhead.py"), "--quick", "--inputs", "1000",
         "--output", str(output)],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "| spectral (fused) |" in result.stdout
    payload = json.loads(output.read_text())
    variants = {row["variant"]: row for row in payload["steps"]}
    assert {"dense", "spectral (fused)", "naive x*lambda", "naive W=psi*lambda", "dense, fused Adam",
            "spectral (fused), fused Adam"} == set(variants)
    assert sorted({row["threads"] for row in payload["steps"]}) == [1, 2]
    assert all(row["ms_per_step"] > 0 for row in variants.values())
    assert [row["threads"] for row in payload["threads"]] == [1, 2]
