"""Atomic file writes: a temporary file in the target folder, then ``os.replace``.

A reader never sees a half-written file, an interrupted write leaves the old
file (if any) untouched, and an existing file is only replaced when asked.
"""

import os
import tempfile
from pathlib import Path

from stellar_relevance.exceptions import DataError


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path, write, overwrite=False):
    """Call ``write(tmp_path)``, then move the result onto ``path`` atomically.

    Parameters
    ----------
    path : str or Path
        The file to create.
    write : callable
        ``write(tmp_path)`` writes the whole content to ``tmp_path`` (a str).
    overwrite : bool, default=False
        Replace an existing ``path``; otherwise :class:`FileExistsError`.

    Returns
    -------
    Path
        ``path``. The file gets the usual permissions (``0o666`` less the
        umask), not the private ones of a temporary file.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from stellar_relevance import atomic_write
    >>> target = Path(tempfile.mkdtemp()) / "notes.txt"
    >>> atomic_write(target, lambda tmp: Path(tmp).write_text("complete or absent")).read_text()
    'complete or absent'
    >>> atomic_write(target, lambda tmp: None)
    Traceback (most recent call last):
    ...
    FileExistsError: ...: already exists; pass overwrite=True to replace it
    """
    path = Path(path).expanduser()
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path}: already exists; pass overwrite=True to replace it")
    if not path.parent.is_dir():
        raise DataError(f"{path}: the folder {path.parent} does not exist")
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path
