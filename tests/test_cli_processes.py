"""``stelrel`` in several processes (``rank --nproc 2``, ``pack --jobs 2``), run as a user runs it.

Ctrl-C is the terminal's SIGINT to the command's process group: one line,
exit code 130, no traceback from any process, nothing partial left. With
``--nproc 2`` every warning and error is printed once.
"""

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stellar_relevance.io import read_packed, write_packed
from stellar_relevance.datasets.synthetic_spectra import make_synthetic_spectra
from stellar_relevance.nn.distributed import available_slots
from test_cli import _window
from test_io_ingest import REAL, make_files

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the process tree from /proc")
two_cores = pytest.mark.skipif(available_slots("cpu") < 2, reason="--nproc 2 needs 2 CPU cores")
INTERRUPTED = "Interrupted: stopped; no partial output was left."


def _parents():
    """Process id -> its parent's id (read from /proc)."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    return parents


def _descendants(root):
    """How many processes descend from ``root``."""
    parents = _parents()
    found, frontier = set(), {root}
    while frontier:
        frontier = {pid for pid, ppid in parents.items() if ppid in frontier} - found
        found |= frontier
    return len(found)


def _start(args, cwd, stderr):
    """``python -m stellar_relevance.cli *args`` in a session of its own (as a terminal runs a command)."""
    return subprocess.Popen([sys.executable, "-m", "stellar_relevance.cli", *map(str, args)], cwd=cwd,
                            stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True)


def _wait_for(condition, proc, timeout=180):
    start = time.monotonic()
    while not condition():
        assert proc.poll() is None, "the command ended before it could be interrupted"
        assert time.monotonic() - start < timeout, "timed out waiting for the processes"
        time.sleep(0.1)


def _interrupt(proc):
    """Ctrl-C: SIGINT to the command's process group; its exit code."""
    os.killpg(proc.pid, signal.SIGINT)
    try:
        return proc.wait(timeout=90)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


def _digest(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture()
def packed(tmp_path):
    path = tmp_path / "spectra.fits"
    write_packed(_window(make_synthetic_spectra(n_spectra=80, random_state=2)), path)
    return path


@two_cores
def test_ctrl_c_under_nproc_2_is_one_line_and_exit_130(packed, tmp_path):
    before = _digest(packed)
    log = tmp_path / "stderr.txt"
    with open(log, "w") as stderr:
        proc = _start(["rank", packed, "--out", tmp_path / "out", "--nproc", "2", "--seeds", "1", "--epochs", "5000",
                       "--min-epochs", "5000", "--batch-size", "16", "--permutations", "50"], tmp_path, stderr)
        # interrupt while the two processes train (their group has formed)
        _wait_for(lambda: "joined the gloo process group" in log.read_text(), proc)
        time.sleep(1.0)
        code = _interrupt(proc)
    text = log.read_text()
    assert code == 130, text
    assert "Traceback" not in text and "Error" not in text and "KeyboardInterrupt" not in text
    assert text.rstrip().splitlines()[-1].endswith(INTERRUPTED) and text.count(INTERRUPTED) == 1
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".stelrel-*"))
    assert _digest(packed) == before


def _readers(root):
    """How many processes ``root``'s children started: the reading processes of ``--jobs``, forked from the
    fork server (the resource tracker, the other child, starts none)."""
    parents = _parents()
    children = {pid for pid, ppid in parents.items() if ppid == root}
    return sum(ppid in children for ppid in parents.values())


def _pack_interrupted_while_reading(tmp_path, n_files):
    """``pack --jobs 2`` of ``n_files`` files, Ctrl-C as soon as its two readers run; None if it finished first."""
    folder = tmp_path / f"in{n_files}"
    make_files(folder, n_files)
    before = {p.name: _digest(p) for p in folder.iterdir()}
    out = tmp_path / f"out{n_files}"
    out.mkdir()
    log = tmp_path / f"stderr{n_files}.txt"
    with open(log, "w") as stderr:
        proc = _start(["pack", folder, "-o", out / "train.fits", "--jobs", "2", "--quiet"], tmp_path, stderr)
        start = time.monotonic()
        while _readers(proc.pid) < 2 and proc.poll() is None:
            assert time.monotonic() - start < 300, "timed out waiting for the reading processes"
            time.sleep(0.01)
        code = _interrupt(proc)
    if code == 0 and (out / "train.fits").is_file():
        return None  # the command was done before the signal came: not a Ctrl-C during the work
    return code, log.read_text(), sorted(p.name for p in out.iterdir()), before == {
        p.name: _digest(p) for p in folder.iterdir()}


@pytest.mark.skipif(not all(p.is_file() for p in REAL), reason=f"real LAMOST files not found in {REAL[0].parent}")
def test_ctrl_c_under_pack_jobs_2_is_one_line_and_exit_130(tmp_path):
    # the signal comes while the readers run (the first pass over the files, which finds the grid);
    # a machine fast enough to finish before it gets twice the files
    for n_files in (200, 400, 800):
        outcome = _pack_interrupted_while_reading(tmp_path, n_files)
        if outcome is not None:
            break
    else:
        pytest.fail("pack --jobs 2 of 800 files finished before the Ctrl-C: it was never interrupted mid-run")
    code, text, left, inputs_unchanged = outcome
    assert code == 130, text
    assert text.strip() == INTERRUPTED
    assert left == []  # neither the file nor its scratch folder
    assert inputs_unchanged


def test_ctrl_c_after_the_command_returned_keeps_its_exit_status(packed, tmp_path):
    # Ctrl-C once the command has written its output and returned: in the exit functions (Python's handler
    # still in place) and in the interpreter's teardown (where CPython gives SIGINT its default action back,
    # which killed the process by the signal with nothing printed); both ignored, the status is pack's own
    script = (
        "import atexit, os, signal, sys\n"
        "class CtrlCInTeardown:\n"
        "    def __del__(self):\n"
        "        os.kill(os.getpid(), signal.SIGINT)\n"
        "late = CtrlCInTeardown()\n"
        "atexit.register(os.kill, os.getpid(), signal.SIGINT)\n"
        "from stellar_relevance.cli.main import main\n"
        "sys.argv = ['stelrel', 'pack', sys.argv[1], '-o', sys.argv[2], '--quiet']\n"
        "main()\n"
    )
    out = tmp_path / "copy.fits"
    result = subprocess.run([sys.executable, "-c", script, str(packed), str(out)], cwd=tmp_path,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert len(read_packed(out)) == 80


@two_cores
def test_nproc_2_prints_each_warning_and_error_once(packed, tmp_path):
    before = _digest(packed)
    result = subprocess.run(
        [sys.executable, "-m", "stellar_relevance.cli", "rank", str(packed), "--out", str(tmp_path / "out"),
         "--nproc", "2", "--scaling", "standard", "--epochs", "3", "--ks", "5,99999"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    errors = [line for line in lines if line.startswith("Error:")]
    assert len(errors) == 1 and "'--ks'" in errors[0] and "99999" in errors[0], result.stderr
    assert len([line for line in lines if line.startswith("Warning:") and "standard input scaling" in line]) == 1
    assert len([line for line in lines if "joined the gloo process group" in line]) == 1  # rank 0's messages only
    assert "Traceback" not in result.stderr and "LaunchError" not in result.stderr
    assert not (tmp_path / "out").exists() and _digest(packed) == before
