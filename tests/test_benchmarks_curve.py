"""benchmarks/curve_batched.py and benchmarks/threads.py run in their quick modes on the real MILES stars."""

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _run(script, output, miles_dir):
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / script), "--quick", "--miles", str(miles_dir),
         "--output", str(output)],
        capture_output=True, text=True, timeout=600, cwd=REPO / "benchmarks",
    )
    assert result.returncode == 0, result.stderr
    return result.stdout, json.loads(output.read_text())


def test_curve_batched_quick_trains_the_same_curve_both_ways(tmp_path, miles_dir):
    stdout, payload = _run("curve_batched.py", tmp_path / "curve.json", miles_dir)
    assert "| stacked |" in stdout and "| sequential |" in stdout
    assert {row["way"] for row in payload["rows"]} == {"sequential", "stacked"}
    assert all(row["seconds"] > 0 for row in payload["rows"])
    # the same networks: the two curves agree to float noise
    assert payload["max_mae_difference"] < 1e-3


def test_threads_quick_times_both_fits_at_each_thread_count(tmp_path, miles_dir):
    stdout, payload = _run("threads.py", tmp_path / "threads.json", miles_dir)
    counts = payload["settings"]["counts"]
    assert counts[0] == 1
    assert {(row["fit"], row["threads"]) for row in payload["rows"]} == {
        (fit, n) for fit in ("full grid", "retrained k (24 stacked)") for n in counts}
    assert "load average at the end" in stdout
