"""Atomic file writes: a temporary file in the target folder, then ``os.replace``.

A reader never sees a half-written file, an interrupted write leaves the old
file (if any) untouched, and an existing file is only replaced when asked.
An error while writing names the file asked for, not the hidden temporary
one, and a full disk says so.
"""

import errno
import os
import tempfile
from pathlib import Path

from stellar_relevance.exceptions import DataError


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _naming_target(exc, tmp, path):
    """``exc`` (an OSError) about ``path`` instead of the temporary ``tmp``; ENOSPC says "disk full"."""
    if exc.errno == errno.ENOSPC:
        return OSError(errno.ENOSPC, f"disk full ({os.strerror(errno.ENOSPC)})", str(path))
    if exc.errno is not None and exc.filename in (None, tmp):
        return OSError(exc.errno, exc.strerror or str(exc), str(path))
    return exc


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

    Raises
    ------
    FileExistsError
        ``path`` exists and ``overwrite`` is False.
    DataError
        The folder of ``path`` does not exist.
    OSError
        Writing failed; the error names ``path`` (a full disk:
        ``errno.ENOSPC``, "disk full") and nothing is left behind.

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
    try:
        handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise _naming_target(exc, exc.filename, path) from exc
    os.close(handle)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except OSError as exc:
        _remove(tmp)
        error = _naming_target(exc, tmp, path)
        if error is exc:
            raise
        raise error from exc
    except BaseException:
        _remove(tmp)
        raise
    return path


def _remove(tmp):
    if os.path.exists(tmp):
        os.remove(tmp)
