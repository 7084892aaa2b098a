"""The MILES library folder (1-D FITS files and a parameter table) as a registered format.

A folder is MILES when it holds one of the parameter tables
(``paramsMILES_v9.1.txt``, ``MILES_params.db``); it is read whole by
:func:`~stellar_relevance.io.read_miles`, with its options ``params`` and
``include_omitted``.
"""

from pathlib import Path

from stellar_relevance.io.miles import PARAM_FILES, read_miles
from stellar_relevance.io.records import Format

__all__ = ["is_miles_folder", "FORMATS"]


def is_miles_folder(path, hdul=None):
    """``"MILES"`` for a folder holding a MILES parameter table, else None.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> is_miles_folder(folder), (folder / "MILES_params.db").touch(), is_miles_folder(folder)
    (None, None, 'MILES')
    """
    path = Path(path)
    if path.is_dir() and any((path / name).is_file() for name in PARAM_FILES):
        return "MILES"
    return None


def _read(path, **options):
    return read_miles(path, **options)


#: The registry's entry (:mod:`.registry`).
FORMATS = (
    Format("MILES", identify=is_miles_folder, read=_read, kind="set", inputs=("folder",),
           options=("params", "include_omitted"), priority=10),
)
