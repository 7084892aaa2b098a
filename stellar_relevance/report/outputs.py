"""The output folder of a ranking: checked before any work, written whole or not at all.

:func:`check_output_dir` runs before hours of training and creates nothing,
so a run that fails (even on a usage error) leaves no empty folder behind.
:func:`staged_output_dir` gives a temporary folder *beside* the target; the
caller writes every file into it and, when all are written, it is moved into
place. An interrupted save leaves the target as it was (absent, or holding
the previous results), so the next run is not refused for a half-written
folder.
"""

import contextlib
import logging
import os
import shutil
import tempfile
from pathlib import Path

from stellar_relevance.io.atomic import atomic_write
from stellar_relevance.exceptions import StelrelError

__all__ = ["FIGURE_FILES", "OUTPUT_FILES", "existing_results", "check_output_dir", "staged_output_dir", "replace_file"]

logger = logging.getLogger(__name__)

#: Figures written by :meth:`~stellar_relevance.report.result.RankingResult.save`.
FIGURE_FILES = {"relevance": "relevance.png", "eigenvalues": "eigenvalues.png", "curve": "curve.png"}
#: Every file :meth:`~stellar_relevance.report.result.RankingResult.save` writes.
OUTPUT_FILES = (
    "ranking.ecsv",
    "features.ecsv",
    "indices.ecsv",
    "curve.ecsv",
    "summary.json",
    "model.pt",
    *FIGURE_FILES.values(),
    "report.html",
)
_STAGING_PREFIX = ".stelrel-staging-"


def _existing_ancestor(path):
    for parent in (path, *path.parents):
        if parent.exists():
            return parent
    return Path(".")  # pragma: no cover - the root always exists


def _probe_writable(folder):
    fd, probe = tempfile.mkstemp(dir=folder, prefix=".stelrel-write-test.")
    os.close(fd)
    os.unlink(probe)


def existing_results(directory):
    """The result files (:data:`OUTPUT_FILES`) that ``directory`` holds, in that order.

    Parameters
    ----------
    directory : str or Path

    Returns
    -------
    list of str
        Empty when the folder holds none (or does not exist); all of
        :data:`OUTPUT_FILES` when it holds a complete result.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "summary.json").write_text("{}")
    >>> existing_results(folder), existing_results(folder / "absent")
    (['summary.json'], [])
    """
    directory = Path(directory).expanduser()
    return [name for name in OUTPUT_FILES if (directory / name).exists()]


def check_output_dir(directory, overwrite=False):
    """Check (before any work) that results can be written to ``directory``.

    Nothing is created: the folder itself if it exists, or else its nearest
    existing parent, is proved writable with a temporary file that is removed
    at once.

    Parameters
    ----------
    directory : str or Path
    overwrite : bool
        Whether existing result files may be replaced.

    Returns
    -------
    Path

    Raises
    ------
    FileExistsError
        When the folder already holds result files and ``overwrite`` is False.
    StelrelError
        When the folder cannot be created or written.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "results"
    >>> check_output_dir(target) == target, target.exists()
    (True, False)
    """
    directory = Path(directory).expanduser()
    if directory.exists() and not directory.is_dir():
        raise StelrelError(f"output {directory} exists and is not a folder")
    existing = existing_results(directory)
    if existing and not overwrite:
        raise FileExistsError(
            f"output folder {directory} already holds results ({', '.join(existing)}); "
            "pass --overwrite (overwrite=True) to replace them"
        )
    ancestor = _existing_ancestor(directory)
    if not ancestor.is_dir():
        raise StelrelError(f"cannot write to output folder {directory}: {ancestor} is not a folder")
    try:
        _probe_writable(ancestor)
    except OSError as exc:
        raise StelrelError(f"cannot write to output folder {directory}: {exc.strerror or exc}") from exc
    return directory


def _move_into_place(staging, directory):
    """Move the finished staging folder to ``directory`` (a rename when it can)."""
    if directory.is_dir() and not any(directory.iterdir()):
        directory.rmdir()
    if not directory.exists():
        os.replace(staging, directory)
        return
    # the folder holds other files (or the results being overwritten): replace file by file
    for item in sorted(staging.iterdir()):
        os.replace(item, directory / item.name)
    staging.rmdir()


@contextlib.contextmanager
def staged_output_dir(directory, overwrite=False):
    """A temporary folder beside ``directory``, moved into place when the block ends without error.

    Parameters
    ----------
    directory : str or Path
        The output folder; it need not exist (its parents are created).
    overwrite : bool
        Whether result files already in ``directory`` may be replaced.

    Yields
    ------
    Path
        The staging folder to write every file into.

    Raises
    ------
    FileExistsError, StelrelError
        As :func:`check_output_dir`.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "out"
    >>> with staged_output_dir(target) as staging:
    ...     _ = (staging / "summary.json").write_text("{}")
    >>> sorted(p.name for p in target.iterdir())
    ['summary.json']
    """
    directory = check_output_dir(directory, overwrite=overwrite)
    try:
        directory.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=directory.parent, prefix=f"{_STAGING_PREFIX}{directory.name}."))
    except OSError as exc:
        raise StelrelError(f"cannot write to output folder {directory}: {exc.strerror or exc}") from exc
    try:
        yield staging
        os.chmod(staging, 0o777 & ~_umask())
        _move_into_place(staging, directory)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def replace_file(path, write):
    """Write one file atomically, replacing an existing one (for output folders already checked).

    Parameters
    ----------
    path : str or Path
        The file to write.
    write : callable
        ``write(tmp_path)`` writes the whole content.

    Returns
    -------
    Path
        The file written.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "notes.txt"
    >>> _ = path.write_text("old")
    >>> replace_file(path, lambda tmp: pathlib.Path(tmp).write_text("new")).read_text()
    'new'
    """
    return atomic_write(path, write, overwrite=True)
