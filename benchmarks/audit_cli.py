"""A robustness audit of the ``stelrel`` command line (and of some Python API calls) on copies of the real survey files.

Every case runs in a folder of its own under a temporary work folder, on
copies of the real files of ``../shared/data/surveys`` (the folder the
tests use: ``$STELREL_SHARED_DATA/surveys``, else ``../shared/data/surveys``
beside the repository) and on LAMOST-layout files made from them. The
cases cover each of the 18 numbered items of issue 20 (the survey round
trip) with one or more cases, and the generic bad inputs: truncated,
empty, non-FITS and gzip-damaged files, malformed options, duplicate IDs,
a symbolic-link loop, corrupt model files, the ``-o`` cases and non-ASCII
names. Ctrl-C is left to ``tests/test_cli_processes.py``; a full disk to
``tests/test_cli_outputs.py`` (it needs a file system that fills up).

A command-line case runs ``stelrel ...`` in a subprocess, as a user types
it; an API case calls the Python function. For every case the audit
records the exit code (an API case: the exception's class), whether a
traceback was printed (an API case: an exception that is not one of the
library's own or a ValueError / OSError), whether any input changed (the
sha256 of every file of the case's folder and of the shared model and store,
before and after), whether a partial output was left (a new file that is
not a complete output: a hidden or temporary file, an output of a run that
failed, an output that does not read back), and the message (the
``Error:`` line, else the last ``Warning:`` line). Messages that contain
Python words (a lower-case name with an underscore, ``True`` / ``False`` /
``None``, a call ``name(``, ``dtype``, ``np.``) are listed for a human to
judge. Several cases also check that a specific word is in the message.

Prints a Markdown table and the totals, writes JSON (``--output``, default
``benchmarks/results/audit_cli.json``). ``--quick``: a few cases that need
no trained model (the smoke test). Without the real files it says so,
writes ``{"skipped": reason}`` and exits 0.

Usage::

    python benchmarks/audit_cli.py [--quick] [--only ID,ID] [--output PATH] [--workdir DIR] [--keep]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from _common import SHARED_DATA, environment, markdown_table, write_json
from round_trip import planted_files, stelrel

REPO = Path(__file__).resolve().parents[1]
SURVEYS = SHARED_DATA / "surveys"
DR7 = SURVEYS / "spec-58397-EG014118N254444M01_sp03-031.fits"
DR6 = SURVEYS / "spec-57287-KP193637N444141V03_sp10-161.fits.gz"
MRS = SURVEYS / "med-58408-TD230151N343645T01_sp01-015.fits"
SDSS = SURVEYS / "spec-0266-51602-0031.fits"
XP_CSV, XP_FITS = SURVEYS / "XP_CONTINUOUS_RAW.csv", SURVEYS / "XP_CONTINUOUS_RAW.fits"
DR7_OBSID, DR6_OBSID = "677503031", "359910161"
DEFAULT_OUTPUT = REPO / "benchmarks" / "results" / "audit_cli.json"
#: A short training for the cases that rank (the audit is about what the commands say, not the ranking).
SHORT = ["--epochs", "20", "--min-epochs", "5", "--seeds", "1", "--ks", "30,all", "--retrain-ks", "30",
         "--random-draws", "1", "--permutations", "20", "--catalog", "lick"]
PYTHON_WORDS = re.compile(r"\b(?:True|False|None)\b|\b[a-z_][a-z0-9_]*\((?!e?s\))|"
                          r"(?<![\w./-])[a-z][a-z0-9]*_[a-z0-9_]+\b(?![\w./-])|\bdtype\b|\bnp\.\w+|<U\d+")
RAW_WARNING = re.compile(r"^\S+\.py:\d+: \w*Warning: ")  # Python's own format, with the source line under it
TEMPORARY = re.compile(r"(^\.|\.tmp|~$|^stelrel-|\.part$)")
LIBRARY_ERRORS = (ValueError, OSError)  # StelrelError's subclasses are ValueErrors; OSError: a file system's word


@dataclass
class Case:
    """One audit case: ``setup(folder, shared)`` prepares the folder and returns the arguments (or calls the API)."""

    id: str
    item: str
    what: str
    setup: object
    expect: tuple = (1,)
    outputs: tuple = ()
    says: tuple = ()
    api: bool = False
    needs: str = ""  # "model": the shared model and store; "cores": two CPU cores
    quick: bool = False
    extra: dict = field(default_factory=dict)


# ----------------------------------------------------------------------------- files
def copy(folder, *sources, sub="in"):
    target = folder / sub
    target.mkdir(parents=True, exist_ok=True)
    for source in sources:
        shutil.copy(source, target / source.name)
    return target


def lamost(folder, sub="in"):
    """The two real LAMOST low-resolution files, copied into ``folder/sub``."""
    return copy(folder, DR7, DR6, sub=sub)


def edit_header(path, remove=(), **cards):
    """Remove the cards ``remove`` from the primary header of ``path``, set ``cards``."""
    from astropy.io import fits

    with fits.open(path, mode="update") as hdul:
        header = hdul[0].header
        header.update(cards)
        for key in remove:
            header.remove(key)


def set_flux(path, value):
    from astropy.io import fits

    with fits.open(path, mode="update") as hdul:
        hdul[0].data[0] = value


def write(path, text, encoding="utf-8"):
    path.parent.mkdir(parents=True, exist_ok=True)
    (path.write_bytes if isinstance(text, bytes) else lambda t: path.write_text(t, encoding=encoding))(text)
    return path


def digest(paths):
    """sha256 of every file under ``paths`` (symbolic links by their target's name, not followed)."""
    out = {}
    for root in paths:
        root = Path(root)
        walk = [(str(root.parent), [], [root.name])] if root.is_file() else os.walk(root)
        for folder, _, names in walk:
            for name in names:
                path = Path(folder) / name
                if path.is_symlink():
                    out[str(path)] = "link:" + os.readlink(path)
                elif path.is_file():
                    out[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def listing(folder):
    """Every file and folder under ``folder`` (relative names), links not followed."""
    found = set()
    for root, dirs, names in os.walk(folder):
        for name in dirs + names:
            found.add(os.path.relpath(os.path.join(root, name), folder))
    return found


def complete(path):
    """Whether an output reads back whole."""
    try:
        if path.is_dir():
            summaries = list(path.rglob("summary.json"))
            hidden = [p for p in path.rglob("*") if TEMPORARY.search(p.name)]
            return bool(summaries) and not hidden and all((s.parent / "model.pt").is_file() for s in summaries)
        if path.suffix == ".fits":
            from stellar_relevance.io import read_packed

            return len(read_packed(path, memmap=True)) > 0
        if path.suffix == ".ecsv":
            from astropy.table import Table

            return len(Table.read(path, format="ascii.ecsv")) > 0
        if path.suffix == ".html":
            return path.read_text().rstrip().endswith("</html>")
        return path.stat().st_size > 0
    except Exception:  # noqa: BLE001 - an output that does not read back is partial, whatever the reason
        return False


def message_of(text):
    """The case's one line: the ``Error:`` line, else the last ``Warning:`` line, else the last line."""
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("INFO:")]
    for prefix in ("Error:", "Interrupted:", "Warning:"):
        found = [line for line in lines if line.startswith(prefix)]
        if found:
            return found[0] if prefix != "Warning:" else found[-1]
    return lines[-1] if lines else ""


def python_words(lines, ignore=()):
    """The Python words of the ``Error:`` / ``Warning:`` lines (file names and quoted values left out)."""
    words = set()
    for line in lines:
        for name in ignore:
            line = line.replace(name, " ")
        line = re.sub(r"'[^']*'|\S*/\S*", " ", line)  # quoted values and paths are the user's own words
        words.update(m.group(0) for m in PYTHON_WORDS.finditer(line))
    return sorted(words)


# ------------------------------------------------------------------------ the shared model
def make_shared(root):
    """40 LAMOST-layout files with a planted label, packed, and a model trained on them (short training)."""
    shared = root / "shared"
    labels = planted_files(shared / "train", 40)
    (shared / "labels.csv").write_text("OBSID,PLANTED,NOISE,SPTYPE\n" + "".join(
        f"{k},{v!r},{float(np.sin(k))!r},G{k % 10}V\n" for k, v in labels.items()))
    for args in (["pack", "train", "-o", "store.fits", "--labels", "labels.csv", "--quiet"],
                 ["rank", "store.fits", "--label", "PLANTED", "--out", "run", "--continuum", "running", "--quiet",
                  *SHORT]):
        proc = subprocess.run([*stelrel(), *args], cwd=shared, capture_output=True, text=True)
        if proc.returncode not in (0, 3):
            raise SystemExit(f"could not make the shared model: stelrel {' '.join(args)}\n{proc.stderr[-3000:]}")
    return dict(root=shared, store=shared / "store.fits", model=shared / "run" / "model.pt", run=shared / "run",
                labels=shared / "labels.csv", train=shared / "train")


# ------------------------------------------------------------------------------ the cases
def _no_obsid(folder, shared):
    path = lamost(folder) / DR7.name
    edit_header(path, remove=("OBSID",))
    return ["pack", str(path), "-o", "out/a.fits"]


def _no_obsid_in_folder(folder, shared):
    edit_header(lamost(folder) / DR7.name, remove=("OBSID",))
    return ["pack", "in", "-o", "out/a.fits"]


def _constant(folder, shared):
    write(folder / "labels.csv", "OBSID,FEH\n" + "".join(f"{900000000 + i},0.1\n" for i in range(40)))
    return ["rank", str(shared["train"]), "--labels", "labels.csv", "--label", "FEH", "--out", "out/r", *SHORT]


def _non_ascii(folder, shared):
    inputs = lamost(folder)
    (inputs / DR7.name).rename(inputs / "spéc 1.fits")
    (inputs / DR6.name).rename(inputs / "spèc 2.fits.gz")
    write(inputs / "liste é.txt", "spéc 1.fits\nspèc 2.fits.gz\n")
    write(folder / "étiquettes.csv", "FILE,FEH\nspéc 1.fits,-0.3\nspèc 2,0.2\n")
    return ["pack", "@in/liste é.txt", "--labels", "étiquettes.csv", "--id-column", "FILE", "-o", "out/sortie é.fits"]


def _input_as_output(overwrite):
    def setup(folder, shared):
        inputs = lamost(folder)
        return ["pack", "in", str(inputs / DR7.name), "-o", str(inputs / DR7.name)] + (["--overwrite"] if overwrite else [])
    return setup


def _existing_output(folder, shared):
    lamost(folder)
    write(folder / "out" / "a.fits", "an earlier result\n")
    return ["pack", "in", "-o", "out/a.fits"]


def _labels(text, extra=()):
    def setup(folder, shared):
        lamost(folder)
        write(folder / "labels.csv", text if isinstance(text, bytes) else text.format(dr7=DR7_OBSID, dr6=DR6_OBSID))
        return ["pack", "in", "--labels", "labels.csv", "-o", "out/a.fits", *extra]
    return setup


def _out_inside(kind):
    def setup(folder, shared):
        inputs = lamost(folder)
        write(folder / "labels.csv", f"OBSID,FEH\n{DR7_OBSID},0.1\n{DR6_OBSID},0.2\n")
        write(folder / "list.txt", f"{inputs / DR7.name}\n{inputs / DR6.name}\n")
        source = {"glob": "in/*.fits*", "list": "@list.txt", "folder": "in"}[kind]
        return ["rank", source, "--labels", "labels.csv", "--label", "FEH", "--out", "in/results"]
    return setup


def _header(**cards):
    def setup(folder, shared):
        edit_header(lamost(folder) / DR7.name, **cards)
        return ["pack", "in", "-o", "out/a.fits"]
    return setup


def _zero_flux(folder, shared):
    set_flux(lamost(folder) / DR7.name, 0.0)
    return ["pack", "in", "-o", "out/a.fits"]


def _rv(value):
    def setup(folder, shared):
        lamost(folder)
        write(folder / "labels.csv", f"OBSID,RV\n{DR7_OBSID},{value}\n{DR6_OBSID},-20\n")
        return ["pack", "in", "--labels", "labels.csv", "--rv-column", "RV", "-o", "out/a.fits"]
    return setup


def _mixed(folder, shared):
    copy(folder, DR7, DR6, MRS, SDSS)
    return ["pack", "in", "-o", "out/a.fits"]


def _resume(resume):
    def setup(folder, shared):
        args = ["rank", str(shared["store"]), "--label", "PLANTED,NOISE", "--out", "out/r", "--quiet", *SHORT]
        proc = subprocess.run([*stelrel(), *args], cwd=folder, capture_output=True, text=True)
        if proc.returncode not in (0, 3):
            raise RuntimeError(f"setup: {proc.stderr[-2000:]}")
        shutil.rmtree(folder / "out" / "r" / "NOISE")  # a run stopped while NOISE trained
        return args + (["--resume"] if resume else [])
    return setup


def _damaged(kind):
    def setup(folder, shared):
        inputs = folder / "in"
        inputs.mkdir()
        if kind == "truncated":
            write(inputs / "spec-cut.fits", DR7.read_bytes()[:20000])
        elif kind == "empty":
            write(inputs / "spec-empty.fits", b"")
        elif kind == "text":
            write(inputs / "spec-text.fits", "OBSID,FEH\n1,0.1\n")
        elif kind == "gzip":
            data = gzip.compress(DR7.read_bytes())
            write(inputs / "spec-cut.fits.gz", data[: len(data) // 2])
        return ["pack", str(next(inputs.iterdir())), "-o", "out/a.fits"]
    return setup


def _damaged_among_good(on_error):
    def setup(folder, shared):
        inputs = lamost(folder)
        write(inputs / "spec-cut.fits", DR7.read_bytes()[:20000])
        write(inputs / "spec-empty.fits", b"")
        return ["pack", "in", "-o", "out/a.fits", "--on-error", on_error]
    return setup


def _pack_with(*options, sources="in"):
    def setup(folder, shared):
        lamost(folder)
        return ["pack", sources, "-o", "out/a.fits", *options]
    return setup


def _rank_with(*options):
    def setup(folder, shared):
        return ["rank", str(shared["store"]), "--label", "PLANTED", "--out", "out/r", *SHORT, *options]
    return setup


def _symlink_loop(kind):
    def setup(folder, shared):
        inputs = lamost(folder)
        if kind == "self":
            (folder / "loop.fits").symlink_to(folder / "loop.fits")
            return ["pack", "loop.fits", "-o", "out/a.fits"]
        (inputs / "again").symlink_to(inputs, target_is_directory=True)
        return ["pack", "in", "-o", "out/a.fits"] + (["--recursive"] if kind == "recursive" else [])
    return setup


def _model_file(kind):
    def setup(folder, shared):
        path = folder / "model.pt"
        good = shared["model"].read_bytes()
        content = {"random": os.urandom(4096), "empty": b"", "truncated": good[: len(good) // 2],
                   "text": b"{\"format\": \"stelrel-model/2\"}\n",
                   "pickle": b"\x80\x04\x95\x1a\x00\x00\x00\x00\x00\x00\x00\x8c\x02os\x94\x8c\x06system\x94\x93."}[kind]
        write(path, content)
        copy(folder, DR7)
        return ["predict", "model.pt", "in", "-o", "out/p.ecsv"]
    return setup


def _predict(*sources, options=()):
    def setup(folder, shared):
        lamost(folder)
        return ["predict", str(shared["model"]), *[str(shared["store"]) if s == "STORE" else s for s in sources],
                *options]
    return setup


def _pack_other_then_predict(folder, shared):
    from stellar_relevance.io import pack_spectra

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pack_spectra(lamost(folder), folder / "other.fits", progress=False)
    return ["predict", str(shared["model"]), "other.fits", "-o", "out/p.ecsv"]


def _plain(*args):
    return lambda folder, shared: list(args)


def _report_on_file(folder, shared):
    write(folder / "summary.json", "{}\n")
    return ["report", "summary.json"]


def _xp(path):
    def setup(folder, shared):
        copy(folder, path)
        return ["pack", f"in/{path.name}", "--grid", "4000:9000:10", "-o", "out/xp.fits"]
    return setup


def _missing_in_list(folder, shared):
    write(folder / "list.txt", "nope.fits\n")
    return ["pack", "@list.txt", "-o", "out/a.fits"]


def _labels_with_synthetic(folder, shared):
    write(folder / "l.csv", "ID,FEH\n1,0\n")
    return ["pack", "synthetic", "--labels", "l.csv", "-o", "out/a.fits"]


def _report_empty(folder, shared):
    (folder / "empty").mkdir()
    return ["report", "empty"]


def _report_existing(folder, shared):
    write(folder / "page.html", "<html></html>\n")
    return ["report", str(shared["run"]), "-o", "page.html"]


def _duplicates(same):
    second = "0.1" if same else "0.4"
    return _labels(f"OBSID,FEH\n{{dr7}},0.1\n{{dr6}},0.2\n{{dr7}},{second}\n")


def cli_cases():
    pack_usage = [
        ("g-grid", ["--grid", "10:5:1"]), ("g-jobs", ["--jobs", "0"]), ("g-on-error", ["--on-error", "ignore"]),
        ("g-rv-no-labels", ["--rv-column", "RV"]), ("g-labels-missing", ["--labels", "nope.csv"]),
        ("g-unknown-option", ["--frobnicate"]), ("g-grid-text", ["--grid", "log:a:b:c"]),
    ]
    rank_usage = [("g-seed", ["--seed", "-1"]), ("g-ks", ["--ks", "5,abc"]), ("g-test-fraction", ["--test-fraction", "1.5"]),
                  ("g-epochs", ["--epochs", "0"]), ("g-hidden", ["--hidden", "4.5"]), ("g-ks-too-big", ["--ks", "5,99999"]),
                  ("16-min-epochs", ["--min-epochs", "50", "--epochs", "3"]), ("g-label-missing", ["--label", "MH"])]
    cases = [
        # 1: predict where training filled pixels, and on the real DR7 file
        Case("1a", "1", "predict on the store the model was trained on (masked pixels)", _predict("STORE", options=["-o", "out/p.ecsv"]), (0,), ("out/p.ecsv",), needs="model"),
        Case("1b", "1", "predict on a copy of the real DR7 file", _predict(f"in/{DR7.name}", options=["-o", "out/p.ecsv"]), (0,), ("out/p.ecsv",), needs="model"),
        Case("1c", "1", "predict on the two real files, to stdout", _predict("in"), (0,), needs="model"),
        # 2: a model on another pack of the same survey
        Case("2a", "2", "pack other files on the model's grid (--grid-from)", lambda f, s: ["pack", str(lamost(f)), "-o", "out/b.fits", "--grid-from", str(s["model"])], (0,), ("out/b.fits",), needs="model"),
        Case("2b", "2", "predict a pack on its own default grid (resampled)", _pack_other_then_predict, (0,), ("out/p.ecsv",), needs="model"),
        Case("2c", "2", "predict with a --grid narrower than the model's", _predict("in", options=["--grid", "4000:8000:2"]), (1, 2), says=("model's",), needs="model"),
        Case("2d", "2", "--grid-from a model trained in the rest frame, with --no-rest-frame", lambda f, s: ["pack", str(lamost(f)), "-o", "out/b.fits", "--grid-from", str(s["model"]), "--no-rest-frame"], (2,), says=("--no-rest-frame",), needs="model"),
        # 3: a LAMOST file without OBSID
        Case("3a", "3", "pack a LAMOST file without OBSID", _no_obsid, (1,), says=("OBSID",), quick=True),
        Case("3b", "3", "a folder with one file without OBSID", _no_obsid_in_folder, (0,), ("out/a.fits",), says=("OBSID",)),
        # 4: guards
        Case("4a", "4", "rank a constant label", _constant, (1,), says=("constant",), needs="model"),
        Case("4b", "4", "rank raw LAMOST flux with 3 epochs", lambda f, s: ["rank", str(s["store"]), "--label", "PLANTED", "--out", "out/r", *SHORT, "--epochs", "3", "--min-epochs", "1"], (0, 3), ("out/r",), needs="model"),
        # 5: catalogue all on vacuum data
        Case("5a", "5", "rank with --catalog all on vacuum survey data", _rank_with("--catalog", "all", "--continuum", "running"), (0, 3), ("out/r",), needs="model"),
        Case("5b", "5", "catalog all --frame vacuum", _plain("catalog", "all", "--frame", "vacuum"), (0,)),
        # 6: non-ASCII names
        Case("6a", "6", "pack an @list with non-ASCII names, labels joined by FILE", _non_ascii, (0,), ("out/sortie é.fits",)),
        # 7
        Case("7a", "7", "pack without -o", lambda f, s: ["pack", str(copy(f, DR7) / DR7.name)], (2,), says=("-o",), quick=True),
        # 8: outputs
        Case("8a", "8", "-o in a folder that takes no file (/proc)", lambda f, s: ["pack", str(lamost(f)), "-o", "/proc/x.fits"], (1,), says=("/proc/x.fits",)),
        Case("8b", "8", "-o newdir/", lambda f, s: ["pack", str(lamost(f)), "-o", "newdir/"], (2,), says=("newdir",), quick=True),
        Case("8c", "8", "-o ''", lambda f, s: ["pack", str(lamost(f)), "-o", ""], (2,)),
        Case("8d", "8", "-o x.fits.gz", lambda f, s: ["pack", str(lamost(f)), "-o", "x.fits.gz"], (2,), says=("x.fits.gz",)),
        Case("8e", "8", "-o one of the inputs", _input_as_output(False), (2,), says=("inputs",)),
        Case("8f", "8", "-o one of the inputs, with --overwrite", _input_as_output(True), (2,), says=("inputs",)),
        Case("8g", "8", "-o an existing file, no --overwrite", _existing_output, (1,), says=("--overwrite",)),
        Case("8h", "8", "-o a folder that exists", lambda f, s: ["pack", str(lamost(f)), "-o", "in"], (2,)),
        # 9: several processes (Ctrl-C: tests/test_cli_processes.py)
        Case("9a", "9", "rank --nproc 2: one error line, one warning line", _rank_with("--nproc", "2", "--scaling", "standard", "--ks", "5,99999"), (2,), says=("--ks",), needs="model,cores", extra={"once": ("Error:", "standard input scaling")}),
        Case("9b", "9", "rank --nproc 2 with a missing label: found before the processes", _rank_with("--nproc", "2", "--label", "MH"), (1,), says=("MH",), needs="model,cores"),
        # 10: label tables
        Case("10a", "10", "labels with a byte-order mark, float IDs, n/a and blank", _labels(b"\xef\xbb\xbfOBSID,FEH,TEFF\n" + f"{DR7_OBSID}.0,n/a,5800\n{DR6_OBSID}.0,0.25,\n".encode()), (0,), ("out/a.fits",), says=("n/a",)),
        Case("10b", "10", "labels by file name with its extension", _labels(f"FILE,FEH\n{DR7.name},0.1\n{DR6.name},0.2\n"), (0,), ("out/a.fits",)),
        Case("10c", "10", "labels without an ID column", _labels("star,FEH\n1,0.1\n"), (1, 2), says=("--id-column",)),
        Case("10d", "10", "labels matching no spectrum", _labels("OBSID,FEH\n1,0.1\n2,0.2\n"), (1,), says=(DR7_OBSID,)),
        # 11: --out inside an input folder
        Case("11a", "11", "rank 'in/*.fits*' --out in/results", _out_inside("glob"), (2,), says=("--out",), quick=True),
        Case("11b", "11", "rank @list.txt --out in/results", _out_inside("list"), (2,), says=("--out",)),
        Case("11c", "11", "rank in --out in/results", _out_inside("folder"), (2,), says=("--out",)),
        # 12: implausible values
        Case("12a", "12", "a header redshift Z = 5", _header(Z=5.0), (0,), ("out/a.fits",), says=("Z = 5",)),
        Case("12b", "12", "all-zero flux", _zero_flux, (0,), ("out/a.fits",), says=("zero",)),
        Case("12c", "12", "an RV of 10^9 km/s", _rv("1e9"), (0,), ("out/a.fits",), says=("1000 km/s",)),
        Case("12d", "12", "a --grid that leaves most pixels empty", _pack_with("--grid", "8000:12000:1"), (0,), ("out/a.fits",), says=("without data",)),
        # 13: Gaia XP
        Case("13a", "13", "pack Gaia XP (CSV)", _xp(XP_CSV), (0, 1), ("out/xp.fits",)),
        Case("13b", "13", "pack Gaia XP (FITS)", _xp(XP_FITS), (0, 1), ("out/xp.fits",)),
        # 14: mixed folders, non-numeric RV
        Case("14a", "14", "a folder mixing LAMOST, LAMOST-MRS and SDSS", _mixed, (1,), says=("LAMOST-MRS 1 file",)),
        Case("14b", "14", "a non-numeric --rv-column value", _rv("abc"), (1,), says=("row 1",)),
        # 15: resume
        Case("15a", "15", "rerun of a stopped two-label run, without --resume", _resume(False), (1,), says=("--resume",), needs="model"),
        Case("15b", "15", "rerun of a stopped two-label run, with --resume", _resume(True), (0, 3), ("out/r",), needs="model"),
        # 16: the command line's words
        Case("16a", "16", "report on a file", _report_on_file, (1, 2), says=("folder",)),
        Case("16c", "16", "rank a text label", _rank_with("--label", "SPTYPE"), (1, 2), says=("SPTYPE",), needs="model"),
        Case("16d", "16", "rank two labels, the second text: found before training the first?", _rank_with("--label", "PLANTED,SPTYPE"), (1, 2), ("out/r",), says=("SPTYPE",), needs="model",
             extra={"keeps_finished_labels": True, "nothing_written": True}),
        Case("16b", "16", "rank with a small test set", _rank_with(), (0, 3), ("out/r",), says=("test fraction",), needs="model"),
        # 18: progress of the stacked training
        Case("18a", "18", "rank (not quiet): the stacked training says what it does", _rank_with(), (0, 3), ("out/r",), says=("stacked",), needs="model"),
        # generic bad inputs
        Case("g-truncated", "generic", "a truncated FITS file", _damaged("truncated"), (1,), says=("spec-cut.fits",), quick=True),
        Case("g-empty", "generic", "an empty file", _damaged("empty"), (1,), says=("spec-empty.fits",)),
        Case("g-text", "generic", "a text file named .fits", _damaged("text"), (1,), says=("spec-text.fits",)),
        Case("g-gzip", "generic", "a gzip-damaged .fits.gz", _damaged("gzip"), (1,), says=("spec-cut.fits.gz",)),
        Case("g-skip", "generic", "damaged files among good ones (skipped)", _damaged_among_good("skip"), (0,), ("out/a.fits",), says=("skipped",)),
        Case("g-fail", "generic", "damaged files among good ones, --on-error fail", _damaged_among_good("fail"), (1,)),
        Case("g-dup-diff", "generic", "an ID twice with different labels", _duplicates(False), (1,), says=(DR7_OBSID,)),
        Case("g-dup-same", "generic", "an ID twice with the same labels", _duplicates(True), (0,), ("out/a.fits",)),
        Case("g-loop-self", "generic", "a symbolic link to itself", _symlink_loop("self"), (1, 2), says=("loop.fits",)),
        Case("g-loop-folder", "generic", "a folder holding a link to itself", _symlink_loop("folder"), (0,), ("out/a.fits",)),
        Case("g-loop-recursive", "generic", "a folder holding a link to itself, --recursive", _symlink_loop("recursive"), (0,), ("out/a.fits",)),
        Case("g-missing", "generic", "a missing input", _plain("pack", "nope.fits", "-o", "out/a.fits"), (2,), says=("nope.fits",)),
        Case("g-glob", "generic", "a glob that matches nothing", _plain("pack", "in/*.fit", "-o", "out/a.fits"), (1, 2)),
        Case("g-list", "generic", "an @list naming a missing file", _missing_in_list, (1,), says=("nope.fits",)),
        Case("g-labels-synthetic", "generic", "--labels with the word synthetic", _labels_with_synthetic, (2,)),
        Case("g-catalog", "generic", "an unknown catalogue", _plain("catalog", "nope"), (1, 2)),
        Case("g-report-empty", "generic", "report on an empty folder", _report_empty, (1, 2)),
        Case("g-report-existing", "generic", "report -o an existing page without --overwrite", _report_existing, (1,), says=("--overwrite",), needs="model"),
        Case("g-predict-stdout", "generic", "predict on the store, to stdout", _predict("STORE"), (0,), needs="model"),
        Case("g-predict-own-model", "generic", "predict -o its own model", lambda f, s: ["predict", str(s["model"]), str(s["store"]), "-o", str(s["model"])], (2,), needs="model"),
    ]
    for name in ("random", "empty", "truncated", "text", "pickle"):
        cases.append(Case(f"g-model-{name}", "generic", f"a {name} model file", _model_file(name), (1, 2), says=("model.pt",), needs="model"))
    for cid, options in pack_usage:
        cases.append(Case(cid, "generic", "pack " + " ".join(options), _pack_with(*options), (2,),
                          quick=cid == "g-jobs"))
    for cid, options in rank_usage:
        expect = (1,) if cid == "g-label-missing" else (2,)
        cases.append(Case(cid, "16" if cid.startswith("16") else "generic", "rank " + " ".join(options), _rank_with(*options), expect, needs="model"))
    return cases


# ------------------------------------------------------------------------------ API cases
# each prepares its files and returns the call to audit
def _api_rank_ndarray(folder, shared):
    from stellar_relevance import rank_spectra

    return lambda: rank_spectra(np.zeros((30, 5)), "FEH")


def _api_pack_none(folder, shared):
    from stellar_relevance.io import pack_spectra

    inputs = lamost(folder)
    return lambda: pack_spectra(inputs, None)


def _api_read_empty(folder, shared):
    from stellar_relevance.io import read_spectra

    inputs = lamost(folder)

    def call():
        os.chdir(inputs)  # the current folder holds spectra: "" must not read it
        read_spectra("", progress=False)
    return call


def _api_hidden(folder, shared):
    from stellar_relevance import SpectralRelevanceRegressor

    X = np.random.default_rng(0).normal(size=(40, 5))
    return lambda: SpectralRelevanceRegressor(hidden_layer_sizes=(4.5,), max_epochs=2).fit(X, X[:, 0])


def _api_truncated(folder, shared):
    from stellar_relevance.io import read_spectra

    path = write(folder / "spec-cut.fits", DR7.read_bytes()[:20000])
    return lambda: read_spectra(path, progress=False)


def _api_pack_fail(folder, shared):
    from stellar_relevance.io import pack_spectra

    inputs = lamost(folder)
    write(inputs / "spec-cut.fits", DR7.read_bytes()[:20000])
    return lambda: pack_spectra(inputs, folder / "out" / "a.fits", on_error="fail", progress=False)


def _api_load_corrupt(folder, shared):
    from stellar_relevance import load_model

    path = write(folder / "model.pt", os.urandom(2048))
    return lambda: load_model(path)


def _api_mixed(folder, shared):
    from stellar_relevance.io import read_spectra

    inputs = copy(folder, DR7, DR6, MRS, SDSS)
    return lambda: read_spectra(inputs, progress=False)


def _api_no_obsid(folder, shared):
    from stellar_relevance.io import pack_spectra

    path = lamost(folder) / DR7.name
    edit_header(path, remove=("OBSID",))
    return lambda: pack_spectra(path, folder / "out" / "a.fits", progress=False)


def _api_predict_real(folder, shared):
    from stellar_relevance import load_model, predict_labels
    from stellar_relevance.io import read_spectra

    inputs = lamost(folder)

    def call():
        payload = load_model(shared["model"])
        table = predict_labels(payload, read_spectra(inputs, grid=payload["wavelength"], progress=False))
        assert len(table) == 2 and np.isfinite(np.asarray(table["PLANTED_pred"], float)).all()
    return call


def _api_constant(folder, shared):
    from stellar_relevance import rank_spectra
    from stellar_relevance.io import read_packed

    def call():
        spectra = read_packed(shared["store"])
        spectra.labels["PLANTED"] = 0.5
        rank_spectra(spectra, "PLANTED", max_epochs=2)
    return call


def _api_loop(folder, shared):
    from stellar_relevance.io import read_spectra

    (folder / "loop.fits").symlink_to(folder / "loop.fits")
    return lambda: read_spectra(folder / "loop.fits", progress=False)


def _api_labels_bom(folder, shared):
    from stellar_relevance.io import read_spectra

    inputs = lamost(folder)
    labels = write(folder / "labels.csv", b"\xef\xbb\xbfOBSID,FEH\n" + f"{DR7_OBSID}.0,n/a\n{DR6_OBSID}.0,0.25\n".encode())

    def call():
        spectra = read_spectra(inputs, labels=labels, progress=False)
        assert spectra.meta["ingest"]["labels"]["matched"] == 2
    return call


def api_cases():
    ok, error = ("ok",), ("ParameterError", "DataError")
    return [
        Case("a-rank-ndarray", "17", "rank_spectra(ndarray, 'FEH')", _api_rank_ndarray, error, api=True, quick=True),
        Case("a-pack-none", "17", "pack_spectra(files, None)", _api_pack_none, error, api=True),
        Case("a-read-empty", "17", "read_spectra('') in a folder of spectra", _api_read_empty, error, api=True),
        Case("a-hidden", "17", "SpectralRelevanceRegressor(hidden_layer_sizes=(4.5,)).fit", _api_hidden, error, api=True),
        Case("a-truncated", "generic", "read_spectra(truncated file)", _api_truncated, error, api=True),
        Case("a-pack-fail", "generic", "pack_spectra(on_error='fail') with a truncated file", _api_pack_fail, error, api=True),
        Case("a-load-corrupt", "generic", "load_model(random bytes)", _api_load_corrupt, error, api=True),
        Case("a-mixed", "14", "read_spectra(a folder mixing surveys)", _api_mixed, error, api=True),
        Case("a-no-obsid", "3", "pack_spectra(a LAMOST file without OBSID)", _api_no_obsid, error, api=True),
        Case("a-predict-real", "1", "predict_labels on the real LAMOST files", _api_predict_real, ok, api=True, needs="model"),
        Case("a-constant", "4", "rank_spectra with a constant label", _api_constant, error, api=True, needs="model"),
        Case("a-loop", "generic", "read_spectra(a link to itself)", _api_loop, error, api=True),
        Case("a-labels-bom", "10", "read_spectra with a byte-order mark and float IDs", _api_labels_bom, ok, api=True),
    ]


# ------------------------------------------------------------------------------- running
def run_case(case, root, shared):
    folder = root / case.id
    folder.mkdir()
    (folder / "out").mkdir()
    watched = [folder] + ([shared["root"]] if shared else [])
    row = dict(id=case.id, item=case.item, what=case.what, kind="API" if case.api else "CLI")
    cwd = os.getcwd()
    t0 = time.perf_counter()
    text = ""
    try:
        if case.api:
            call = case.setup(folder, shared)
            before, entries = digest(watched), listing(folder)
            try:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    call()
                row.update(exit="ok", traceback=False)
                text = "\n".join(f"Warning: {w.message}" for w in caught)
            except Exception as exc:  # noqa: BLE001 - the audit records what the API raised
                row.update(exit=type(exc).__name__, traceback=not isinstance(exc, LIBRARY_ERRORS))
                text = f"Error: {exc}" + ("\n" + traceback.format_exc() if row["traceback"] else "")
        else:
            try:
                args = case.setup(folder, shared)
            except Exception as exc:  # noqa: BLE001 - a case that could not be prepared is reported, not fatal
                row.update(exit="setup failed", traceback=False, seconds=time.perf_counter() - t0,
                           message=" ".join(str(exc).split())[-300:], inputs_changed=[], partial_outputs=[],
                           warnings=0, python_words=[], raw_python_warnings=0, expected_exit="/".join(map(str, case.expect)),
                           as_expected=False)
                return row
            before, entries = digest(watched), listing(folder)
            proc = subprocess.run([*stelrel(), *args], cwd=folder, capture_output=True, text=True, timeout=900,
                                  stdin=subprocess.DEVNULL)
            text = proc.stderr
            row.update(exit=proc.returncode, traceback="Traceback (most recent call last)" in proc.stderr + proc.stdout,
                       command="stelrel " + " ".join(repr(a) if (" " in a or not a) else a for a in args))
    finally:
        os.chdir(cwd)
    row["seconds"] = time.perf_counter() - t0
    after = digest(watched)
    row["inputs_changed"] = sorted(os.path.relpath(p, root) for p, h in before.items() if after.get(p) != h)
    outputs = [folder / name for name in case.outputs]
    new = sorted(listing(folder) - entries)
    succeeded = row["exit"] in (0, 3, "ok")
    stray = [name for name in new if not any((folder / name) == out or out in (folder / name).parents
                                             for out in outputs)]
    partial = list(stray)  # a new file that is no declared output: a scratch file, or an output that should not be
    # a run of several labels keeps the labels it finished (for --resume): complete folders, not partial ones
    kept = case.extra.get("keeps_finished_labels", False)
    partial += [os.path.relpath(out, folder) for out in outputs
                if out.exists() and not ((succeeded or kept) and complete(out))]
    if succeeded:
        partial += [f"{os.path.relpath(out, folder)} (missing)" for out in outputs if not out.exists()]
    row["partial_outputs"] = sorted(set(partial))
    lines = [line for line in text.splitlines() if line.startswith(("Error:", "Warning:"))]
    row["message"] = message_of(text)
    row["warnings"] = sum(line.startswith("Warning:") for line in lines)
    raw = [line for line in text.splitlines() if RAW_WARNING.match(line)]
    row["raw_python_warnings"] = len(raw)
    if raw:
        row["message"] = raw[0]
    # Python words matter on the command line; the API speaks Python
    row["python_words"] = [] if case.api else python_words(lines + raw, ignore=[str(root)])
    row["expected_exit"] = "/".join(map(str, case.expect))
    row["as_expected"] = (row["exit"] in case.expect) and all(word in text for word in case.says)
    if case.extra.get("nothing_written"):  # an error the command could have found before any work
        row["as_expected"] &= not any((folder / name).exists() for name in case.outputs)
    for prefix in case.extra.get("once", ()):
        count = sum(prefix in line for line in lines)
        row["as_expected"] &= count == 1
        row[f"count {prefix}"] = count
    return row


def selected(args, cores):
    cases = cli_cases() + api_cases()
    if args.only:
        wanted = set(args.only.split(","))
        cases = [c for c in cases if c.id in wanted]
    elif args.quick:
        cases = [c for c in cases if c.quick]
    if cores < 2:
        cases = [c for c in cases if "cores" not in c.needs]
    return cases


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few cases that need no trained model")
    parser.add_argument("--only", default=None, help="comma-separated case IDs")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="JSON to write")
    parser.add_argument("--workdir", type=Path, default=None, help="where to make the work folder (default: temp)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (its path is printed)")
    args = parser.parse_args(argv)
    missing = [p for p in (DR7, DR6, MRS, SDSS, XP_CSV, XP_FITS) if not p.is_file()]
    if missing:
        reason = (f"skipped: the real survey files are not in {SURVEYS} (missing {', '.join(p.name for p in missing)}; "
                  "set STELREL_SHARED_DATA to the folder that holds surveys/)")
        print(reason)
        write_json(args.output, dict(skipped=reason, environment=environment()))
        return 0
    cases = selected(args, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count())
    originals = digest([SURVEYS])
    root = Path(tempfile.mkdtemp(prefix="stelrel-audit-", dir=args.workdir)).resolve()
    rows = []
    try:
        shared = make_shared(root) if any("model" in c.needs for c in cases) else None
        shared_files = digest([shared["root"]]) if shared else {}
        for case in cases:
            rows.append(run_case(case, root, shared))
            r = rows[-1]
            print(f"{r['id']}: exit {r['exit']} ({'as expected' if r['as_expected'] else 'NOT as expected'}) "
                  f"{r['seconds']:.1f} s: {r['message'][:150]}", flush=True)
        shared_changed = sorted(p for p, h in shared_files.items() if digest([shared["root"]]).get(p) != h) if shared else []
    finally:
        if args.keep:
            print(f"work folder kept: {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    originals_changed = sorted(p for p, h in originals.items() if digest([SURVEYS]).get(p) != h)
    for r in rows:
        r["flags"] = ", ".join(name for name, bad in (("traceback", r["traceback"]), ("partial", r["partial_outputs"]),
                                                      ("input changed", r["inputs_changed"]),
                                                      ("unexpected", not r["as_expected"]),
                                                      ("python words", r["python_words"]),
                                                      ("raw Python warning", r["raw_python_warnings"])) if bad)
    print(markdown_table(rows, [("id", "case"), ("item", "item"), ("kind", "kind"), ("exit", "exit"),
                                ("expected_exit", "expected"), ("flags", "flags"), ("message", "message")]))
    totals = dict(cases=len(rows), cli=sum(r["kind"] == "CLI" for r in rows), api=sum(r["kind"] == "API" for r in rows),
                  tracebacks=sum(bool(r["traceback"]) for r in rows),
                  partial_outputs=sum(bool(r["partial_outputs"]) for r in rows),
                  inputs_changed=sum(bool(r["inputs_changed"]) for r in rows) + len(originals_changed) + len(shared_changed),
                  not_as_expected=sum(not r["as_expected"] for r in rows),
                  python_word_messages=sum(bool(r["python_words"]) for r in rows),
                  raw_python_warnings=sum(bool(r["raw_python_warnings"]) for r in rows))
    print("\ntotals: " + ", ".join(f"{k} {v}" for k, v in totals.items()))
    for r in rows:
        if r["python_words"] or r["raw_python_warnings"]:
            print(f"for a human: {r['id']}: {', '.join(r['python_words']) or 'a warning in Python format'}: "
                  f"{r['message'][:300]}")
        for key in ("partial_outputs", "inputs_changed"):
            if r[key]:
                print(f"{key.replace('_', ' ')}: {r['id']}: {', '.join(r[key])}")
    write_json(args.output, dict(settings=dict(quick=args.quick, only=args.only, short_training=SHORT),
                                 totals=totals, originals_changed=originals_changed, shared_changed=shared_changed,
                                 cases=rows, environment=environment()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
