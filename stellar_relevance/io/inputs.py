"""Turn what a user names (files, folders, globs, ``@list.txt``) into a list of files."""

import glob
import logging
from pathlib import Path

from stellar_relevance.exceptions import DataError

__all__ = ["expand_inputs", "SPECTRUM_SUFFIXES"]

log = logging.getLogger(__name__)

#: What a folder contributes: FITS files (also gzip-compressed).
SPECTRUM_SUFFIXES = (".fits", ".fit", ".fits.gz", ".fit.gz", ".fts")

_GLOB_CHARS = set("*?[")


def _from_folder(folder, suffixes):
    found = sorted(p for p in folder.iterdir() if p.is_file() and p.name.lower().endswith(suffixes))
    if not found:
        raise DataError(f"{folder}: no spectrum files in this folder (looked for {', '.join(suffixes)})")
    return found


def _from_list(path):
    listing = Path(path).expanduser()
    if not listing.is_file():
        raise DataError(f"@{path}: no such list file")
    out = []
    for lineno, line in enumerate(listing.read_text().splitlines(), start=1):
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


def expand_inputs(inputs, suffixes=SPECTRUM_SUFFIXES):
    """The files named by ``inputs``, in order (a file named twice is listed twice).

    Parameters
    ----------
    inputs : str, Path or sequence of them
        Each item is a file; a folder (its files ending in one of
        ``suffixes``, sorted, not recursive); a glob pattern
        (``"spectra/spec-*.fits.gz"``); or ``"@list.txt"``, a text file with
        one path per line (blank lines and ``#`` comments skipped; relative
        paths are taken from the list file's folder).
    suffixes : tuple of str
        File-name endings a folder contributes (lower case).

    Returns
    -------
    list of Path

    Raises
    ------
    DataError
        A path that does not exist, a glob or folder that matches nothing,
        an empty list.

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
        if isinstance(item, str) and text.startswith("@"):
            files.extend(_from_list(text[1:]))
            continue
        path = Path(text).expanduser()
        if path.is_dir():
            files.extend(_from_folder(path, tuple(suffixes)))
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
