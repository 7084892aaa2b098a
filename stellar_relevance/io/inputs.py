"""Turn what a user names (files, folders, globs, ``@list.txt``) into a list of files."""

import glob
import logging
import os
from pathlib import Path

from stellar_relevance.exceptions import DataError, ParameterError

__all__ = ["expand_inputs", "SPECTRUM_SUFFIXES"]

log = logging.getLogger(__name__)

#: What a folder contributes: FITS files (also gzip-compressed).
SPECTRUM_SUFFIXES = (".fits", ".fit", ".fits.gz", ".fit.gz", ".fts")

_GLOB_CHARS = set("*?[")


def _walk(folder, suffixes):
    """The spectrum files under ``folder``, every level, sorted by path; symbolic links to folders not followed."""
    found = []
    for root, dirs, files in os.walk(folder, followlinks=False):
        dirs.sort()
        found.extend(Path(root) / name for name in sorted(files) if name.lower().endswith(suffixes))
    return [p for p in found if p.is_file()]


def _from_folder(folder, suffixes, recursive):
    if recursive:
        found = _walk(folder, suffixes)
    else:
        found = sorted(p for p in folder.iterdir() if p.is_file() and p.name.lower().endswith(suffixes))
    if found:
        return found
    below = [] if recursive else _walk(folder, suffixes)
    if below:
        raise ParameterError("recursive", f"is off, and {folder} holds no spectrum files itself but its subfolders "
                                          f"hold {len(below)} (e.g. {below[0]}); turn it on to read them")
    raise DataError(f"{folder}: no spectrum files in this folder (looked for {', '.join(suffixes)})")


def _from_list(path):
    listing = Path(path).expanduser()
    if not listing.is_file():
        raise DataError(f"@{path}: no such list file")
    try:
        lines = listing.read_text(encoding="utf-8-sig").splitlines()
    except UnicodeDecodeError as exc:
        raise DataError(f"{listing}: not a UTF-8 text list of files ({exc.reason} at byte {exc.start})") from None
    out = []
    for lineno, line in enumerate(lines, start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        item = Path(line).expanduser()
        if not item.is_absolute():
            item = listing.parent / item
        if not item.is_file():
            raise DataError(f"{listing}: line {lineno}: {line!r}: no such file")
        out.append(item)
    if not out:
        raise DataError(f"{listing}: the list names no file")
    return out


def expand_inputs(inputs, suffixes=SPECTRUM_SUFFIXES, recursive=False):
    """The files named by ``inputs``, in order (a file named twice is listed twice).

    Parameters
    ----------
    inputs : str, Path or sequence of them
        Each item is a file; a folder (its files ending in one of
        ``suffixes``, sorted; with ``recursive``, those of its subfolders
        too, at every level); a glob pattern
        (``"spectra/spec-*.fits.gz"``); or ``"@list.txt"``, a text file with
        one path per line (blank lines and ``#`` comments skipped; relative
        paths are taken from the list file's folder).
    suffixes : tuple of str
        File-name endings a folder contributes (lower case).
    recursive : bool, default=False
        Read folders with their subfolders, as archives deliver them
        (LAMOST: ``fits/<date>/<plan>/spec-*.fits.gz``). Off by default so
        that a folder stands for its own files only (an output or ``omit/``
        folder inside is not swept in); a folder with no spectrum files of
        its own but some in its subfolders is a `ParameterError` that says
        so. Symbolic links to folders are not followed (no loops).

    Returns
    -------
    list of Path

    Raises
    ------
    DataError
        A path that does not exist, a glob or folder that matches nothing,
        an empty list.
    ParameterError
        An empty path (``""`` would mean the current folder), or a folder
        whose spectrum files are all in subfolders without ``recursive``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> for name in ("b.fits", "a.fits.gz", "notes.txt"):
    ...     _ = (folder / name).write_bytes(b"")
    >>> [p.name for p in expand_inputs(folder)]
    ['a.fits.gz', 'b.fits']
    >>> [p.name for p in expand_inputs(str(folder / "*.fits"))]
    ['b.fits']
    """
    if isinstance(inputs, (str, Path)):
        inputs = [inputs]
    try:
        items = list(inputs)
    except TypeError:
        raise DataError(f"expected a path, a folder, a glob, '@list.txt' or a list of them; "
                        f"got {type(inputs).__name__}") from None
    if not items:
        raise DataError("no input files given")
    files = []
    for item in items:
        text = str(item)
        if not text.strip():
            raise ParameterError("paths", "holds an empty path ''; name a file, folder, glob or @list.txt "
                                          "(the current folder is '.')")
        if isinstance(item, str) and text.startswith("@"):
            files.extend(_from_list(text[1:]))
            continue
        path = Path(text).expanduser()
        if path.is_dir():
            files.extend(_from_folder(path, tuple(suffixes), recursive))
        elif path.is_file():
            files.append(path)
        elif isinstance(item, str) and _GLOB_CHARS & set(text):
            found = sorted(Path(p) for p in glob.glob(str(path)) if Path(p).is_file())
            if not found:
                raise DataError(f"{text}: the pattern matches no file")
            files.extend(found)
        else:
            raise DataError(f"{path}: no such file or folder")
    return files
