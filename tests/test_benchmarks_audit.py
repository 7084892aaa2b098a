"""benchmarks/audit_cli.py runs in its quick mode: a few bad inputs through the command line and the API."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
SURVEYS = Path(os.environ.get("STELREL_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")) / "surveys"
NEEDED = ("spec-58397-EG014118N254444M01_sp03-031.fits", "spec-57287-KP193637N444141V03_sp10-161.fits.gz",
          "med-58408-TD230151N343645T01_sp01-015.fits", "spec-0266-51602-0031.fits", "XP_CONTINUOUS_RAW.csv",
          "XP_CONTINUOUS_RAW.fits")


@pytest.mark.skipif(not all((SURVEYS / name).is_file() for name in NEEDED),
                    reason=f"real survey files not found in {SURVEYS}")
def test_audit_quick(tmp_path):
    output = tmp_path / "audit.json"
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "audit_cli.py"), "--quick", "--output",
                           str(output), "--workdir", str(tmp_path)],
                          capture_output=True, text=True, timeout=300, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(output.read_text())
    cases = {case["id"]: case for case in result["cases"]}
    assert {"3a", "7a", "8b", "11a", "g-truncated", "g-jobs", "a-rank-ndarray"} <= set(cases)
    assert result["totals"]["tracebacks"] == 0 and result["totals"]["partial_outputs"] == 0
    assert result["totals"]["inputs_changed"] == 0 and result["originals_changed"] == []
    assert all(case["as_expected"] for case in cases.values()), [c for c in cases.values() if not c["as_expected"]]
    assert cases["7a"]["exit"] == 2 and cases["7a"]["message"] == "Error: Missing option '-o' / '--output'."
    assert cases["a-rank-ndarray"]["exit"] == "ParameterError" and cases["a-rank-ndarray"]["kind"] == "API"
    assert "totals: cases 7" in proc.stdout and "| case | item | kind |" in proc.stdout
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("stelrel-audit-")]  # work folder removed


def test_the_audit_notices_what_it_is_for(tmp_path):
    """Its detectors: Python words on the command line, partial outputs, a changed input, a traceback."""
    import audit_cli

    assert audit_cli.python_words(["Error: use a larger test_fraction or pass include_omitted=True"]) == [
        "True", "include_omitted", "test_fraction"]
    assert audit_cli.python_words(["Error: /a/b_c/spec_1.fits: 'n_a' is not a number (see --id-column)"]) == []
    assert audit_cli.python_words(["Error: read it with read_packed(path)"]) == ["read_packed("]

    def leaves_scratch(folder, shared):
        (folder / "in").mkdir()
        (folder / "in" / "x.fits").write_text("data\n")
        return lambda: ((folder / "out" / ".a.fits.tmp1").write_text(""), (folder / "in" / "x.fits").write_text("!"),
                        {}["missing"])

    case = audit_cli.Case("t", "generic", "a call that misbehaves", leaves_scratch, ("DataError",), api=True)
    (tmp_path / "root").mkdir()
    row = audit_cli.run_case(case, tmp_path / "root", None)
    assert row["exit"] == "KeyError" and row["traceback"] and not row["as_expected"]
    assert row["partial_outputs"] == ["out/.a.fits.tmp1"] and row["inputs_changed"] == ["t/in/x.fits"]
