"""Where a command writes, checked before any input is read: messages name the path the user gave.

``-o FILE`` (``pack``, ``predict``, ``report``) may not be one of the inputs,
nor a FITS file inside an input folder; an existing file is only replaced
with ``--overwrite``; its folder must exist and take a file. ``rank --out``
may not be an input folder, nor inside one (for globs and ``@list.txt``:
the folders that hold their files). With several labels, ``--resume`` keeps
the label folders that are complete and computes the others.
"""

import json
import os
import shlex
import tempfile
from pathlib import Path

import click

from stellar_relevance.cli._errors import CommandError
from stellar_relevance.cli._inputs import input_places

_OUTPUT_HINT = "'-o' / '--output'"
#: Options that do not change the results: a resumed run may differ from the first in these.
_NEUTRAL_FLAGS = ("--resume", "--overwrite", "--quiet", "-q")
_NEUTRAL_OPTIONS = ("--nproc", "--threads")


def _probe(folder):
    """Create and remove a file in ``folder`` (OSError when it cannot take one)."""
    handle, probe = tempfile.mkstemp(dir=folder, prefix=".stelrel-write-test.")
    os.close(handle)
    os.unlink(probe)


def check_output_file(output, overwrite, inputs=None, also=()):
    """Check ``-o`` before any work: not an input, replaced only with ``--overwrite``, its folder writable.

    Parameters
    ----------
    output : str or None
        The ``-o`` value (None: nothing to check).
    overwrite : bool
        ``--overwrite`` was given.
    inputs : Inputs, optional
        The command's INPUTS (and ``--labels``).
    also : sequence of path
        Other files the command reads (the model of ``predict``, the tables
        of ``report``).

    Raises
    ------
    click.BadParameter
        ``-o`` names an input, or a FITS file in an input folder (exit 2).
    CommandError
        The file exists (no ``--overwrite``), or its folder is missing or
        cannot take a file (exit 1).
    """
    if output is None:
        return
    from stellar_relevance.io.inputs import SPECTRUM_SUFFIXES

    path = Path(output).expanduser()
    target = path.resolve()
    places = input_places(inputs) if inputs is not None else None
    read = {Path(p).expanduser().resolve() for p in also} | (places.files if places else set())
    if target in read:
        raise click.BadParameter(f"{output} is one of the inputs, which are never replaced; write to another file",
                                 param_hint=_OUTPUT_HINT)
    for folder in sorted(places.folders) if places else ():
        if folder in target.parents and target.name.lower().endswith(SPECTRUM_SUFFIXES):
            raise click.BadParameter(f"{output} is inside the input folder {folder}, whose next read would take it "
                                     "in; write it to another folder", param_hint=_OUTPUT_HINT)
    if path.exists() and not overwrite:
        raise CommandError(f"{output} exists; pass --overwrite to replace it")
    if not path.parent.is_dir():
        raise CommandError(f"{output}: the folder {path.parent} does not exist")
    try:
        _probe(path.parent)
    except OSError as exc:
        raise CommandError(f"{output}: cannot write to the folder {path.parent} ({exc.strerror or exc})") from None


def check_out_folder(out, inputs):
    """``--out`` may not be an input, an input folder or inside one (exit 2): results never land among the data."""
    places = input_places(inputs)
    target = Path(out).expanduser().resolve()
    if target in places.files:
        raise click.BadParameter(f"{out} is one of the inputs; write the results to a folder of their own",
                                 param_hint="'--out'")
    for folder in sorted(places.data_folders):
        if target == folder or folder in target.parents:
            where = "is" if target == folder else "is inside"
            raise click.BadParameter(f"{out} {where} the input folder {folder}; write the results to a folder of "
                                     "their own", param_hint="'--out'")


def _essential(command):
    """The words of a saved command line that change the results (not --resume, --quiet, --nproc ...)."""
    words, skip = [], False
    for word in shlex.split(command or ""):
        if skip:
            skip = False
        elif word in _NEUTRAL_OPTIONS:
            skip = True
        elif word not in _NEUTRAL_FLAGS and not word.startswith(tuple(o + "=" for o in _NEUTRAL_OPTIONS)):
            words.append(word)
    return words


def _check_same_command(folder, command):
    """A kept folder must come from this command (the same inputs and options): otherwise exit 1."""
    saved = json.loads((Path(folder) / "summary.json").read_text(encoding="utf-8")).get("command")
    if _essential(saved) != _essential(command):
        raise CommandError(f"{folder} holds the results of another command ({saved or 'not stelrel rank'}); "
                           "rerun that command with --resume, or write to another --out")


def check_result_folders(out, labels, overwrite=False, resume=False, command=None):
    """Check every result folder of ``rank`` before any work; with ``resume`` keep the complete ones.

    Returns
    -------
    todo : dict
        Label -> the folder to compute it into.
    kept : dict
        Label -> its complete folder, kept (``resume``).

    Raises
    ------
    CommandError
        A folder holds results (the message says which of ``--resume`` and
        ``--overwrite`` apply), a kept folder comes from another command, or
        a folder cannot be created or written.
    """
    from stellar_relevance.report.by_label import BY_LABEL_FIGURE, completed_labels, label_dirs
    from stellar_relevance.report.outputs import OUTPUT_FILES, check_output_dir, existing_results

    folders = label_dirs(out, labels)
    done = completed_labels(out, labels) if resume else ()
    for label in done:
        _check_same_command(folders[label], command)
    several = len(labels) > 1
    for label, folder in folders.items():
        held = existing_results(folder)
        if label in done or not held or overwrite:
            continue
        complete = len(held) == len(OUTPUT_FILES)
        if several and complete:
            advice = "pass --resume to keep the complete label folders and compute the missing ones, or --overwrite"
        else:
            advice = "pass --overwrite"
        state = "holds results" if complete else "holds incomplete results"
        raise CommandError(f"output folder {folder} {state} ({', '.join(held)}); {advice} to replace them")
    figure = Path(out).expanduser() / BY_LABEL_FIGURE
    if several and figure.exists() and not (overwrite or resume):
        raise CommandError(f"{figure} exists; pass --overwrite to replace it")
    todo = {label: folder for label, folder in folders.items() if label not in done}
    for folder in todo.values():
        check_output_dir(folder, overwrite=True)  # can it be created and written (creates nothing)
    return todo, {label: folders[label] for label in done}
