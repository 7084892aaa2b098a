"""The files of a saved :class:`~stellar_relevance.report.result.RankingResult`: written into a folder, read back.

Private to :mod:`stellar_relevance.report`; :meth:`RankingResult.save` stages
the folder (:func:`~stellar_relevance.report.outputs.staged_output_dir`) and
calls :func:`write_files` into it; :meth:`RankingResult.load` calls
:func:`read_folder`.
"""

import json
from pathlib import Path

from astropy.table import QTable, Table

from stellar_relevance._version import __version__
from stellar_relevance.exceptions import DataError
from stellar_relevance.report.model_file import model_payload, write_model
from stellar_relevance.report.outputs import FIGURE_FILES

__all__ = ["write_files", "read_folder", "TABLES"]

#: The tables of a result folder (``<name>.ecsv``); ``features`` may be absent from older folders.
TABLES = ("ranking", "indices", "curve", "features")


def _meta(result):
    return {
        "label": result.settings.get("label"),
        "split": result.split_text,
        "seeds": list(result.settings.get("seeds", [])),
        "stelrel_version": __version__,
    }


def write_files(result, folder, figures):
    """Write every file of ``result`` into ``folder``; the names written."""
    import stellar_relevance.report.figures as drawing
    from stellar_relevance.report.html import render_html

    names = []
    for name in TABLES:
        table = getattr(result, name)
        if table is None:
            continue
        table = table.copy(copy_data=False)
        table.meta.update(_meta(result))
        table.write(folder / f"{name}.ecsv", format="ascii.ecsv")
        names.append(f"{name}.ecsv")
    (folder / "summary.json").write_text(json.dumps(result.summary(), indent=2) + "\n")
    names.append("summary.json")
    if result.estimators:
        extra = {} if result.preprocessing is None else {"preprocessing": result.preprocessing}
        write_model(folder / "model.pt", model_payload(result.estimators, result.settings, result.wavelength,
                                                       result.split_text, **extra))
        names.append("model.pt")
    if figures:
        pngs = drawing.figure_pngs(result)
        for name, data in pngs.items():
            (folder / FIGURE_FILES[name]).write_bytes(data)
            names.append(FIGURE_FILES[name])
        (folder / "report.html").write_text(render_html(result, pngs), encoding="utf-8")
        names.append("report.html")
    return names


def _read_table(directory, name):
    path = directory / f"{name}.ecsv"
    if not path.exists():
        if name == "features":
            return None
        raise DataError(f"{directory}: {path.name} is missing; is this a `stelrel rank` output folder?")
    try:
        table = (Table if name == "curve" else QTable).read(path, format="ascii.ecsv")
    except Exception as exc:  # noqa: BLE001 - re-raised with the file named
        raise DataError(f"{path}: not a readable ECSV table ({exc})") from exc
    for column in ("indices",):
        values = table[column] if column in table.colnames else None
        if values is not None and hasattr(values, "filled"):
            # ECSV writes "" for pixels (features) outside every band; astropy reads it back as masked
            table[column] = values.filled("")
    return table


def read_folder(directory):
    """The tables (``features`` None when absent) and ``summary.json`` of a result folder."""
    directory = Path(directory)
    if not directory.is_dir():
        raise DataError(f"{directory}: not a folder of saved results")
    tables = {name: _read_table(directory, name) for name in TABLES}
    path = directory / "summary.json"
    try:
        summary = json.loads(path.read_text())
    except FileNotFoundError:
        raise DataError(f"{directory}: summary.json is missing; is this a `stelrel rank` output folder?") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not valid JSON ({exc})") from exc
    return tables, summary
