"""benchmarks/audit_cli.py runs in its quick mode: a few bad inputs through the command line and the API."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from test_io_surveys_real import DR6, DR7, MRS, SDSS, SURVEYS, XP_CSV, XP_FITS  # the real files, found one way

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))


def _audit(*options, folder):
    """``python benchmarks/audit_cli.py *options`` with its work folder in ``folder``: (process, its JSON)."""
    command = [sys.executable, str(REPO / "benchmarks" / "audit_cli.py"), *options, "--output",
               str(folder / "audit.json"), "--workdir", str(folder)]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc, json.loads((folder / "audit.json").read_text())


@pytest.mark.skipif(not all(p.is_file() for p in (DR7, DR6, MRS, SDSS, XP_CSV, XP_FITS)),
                    reason=f"real survey files not found in {SURVEYS}")
def test_audit_quick(tmp_path):
    proc, result = _audit("--quick", folder=tmp_path)
    cases = {case["id"]: case for case in result["cases"]}
    assert {"3a", "7a", "8b", "11a", "g-truncated", "g-jobs", "a-rank-ndarray"} <= set(cases)
    assert result["totals"]["tracebacks"] == 0 and result["totals"]["partial_outputs"] == 0
    assert result["totals"]["inputs_changed"] == 0 and result["originals_changed"] == []
    assert all(case["as_expected"] for case in cases.values()), [c for c in cases.values() if not c["as_expected"]]
    assert cases["7a"]["exit"] == 2 and cases["7a"]["message"] == "Error: Missing option '-o' / '--output'."
    assert cases["a-rank-ndarray"]["exit"] == "ParameterError" and cases["a-rank-ndarray"]["kind"] == "API"
    assert "totals: cases 7" in proc.stdout and "| case | item | kind |" in proc.stdout
    assert [p.name for p in tmp_path.iterdir()] == ["audit.json"]  # the work folder removed


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
