"""What ``pack``, ``rank`` and ``predict`` read: INPUTS to spectra, to a packed file, or to the places they name.

INPUTS (an :class:`~stellar_relevance.cli.options.Inputs`) are survey files,
folders, globs or ``@list.txt`` (read by
:func:`~stellar_relevance.io.read_spectra` / :func:`~stellar_relevance.io.pack_spectra`),
a packed ``spectra.fits``, a MILES-style folder, or one of the words
``miles`` / ``synthetic``.
"""

from pathlib import Path
from types import SimpleNamespace

import click

from stellar_relevance.cli._processes import quiet_reading_processes
from stellar_relevance.cli.options import Inputs

#: Words INPUTS may be instead of a path.
SPECTRA_KEYWORDS = ("miles", "synthetic")
_GLOB_CHARS = set("*?[")


def as_inputs(spectra):
    """``spectra`` as an `Inputs` (one path or word is wrapped)."""
    return spectra if isinstance(spectra, Inputs) else Inputs([str(spectra)])


def keyword(inputs):
    """The word (``miles``, ``synthetic``) when INPUTS is one such word and no file of that name exists."""
    paths = as_inputs(inputs).paths
    if len(paths) == 1 and paths[0] in SPECTRA_KEYWORDS and not Path(paths[0]).exists():
        return paths[0]
    return None


def check_paths_exist(inputs):
    """A named file or folder that does not exist is a usage error (exit 2); globs and @lists are the library's."""
    for text in as_inputs(inputs).paths:
        if text.startswith("@") or _GLOB_CHARS & set(text):
            continue
        path = Path(text).expanduser()
        if not path.exists():
            what = "a symbolic link that loops or points nowhere" if path.is_symlink() else "no such file or folder"
            raise click.BadParameter(
                f"{text!r}: {what} (expected survey files, folders, globs or @list.txt, "
                f"a packed spectra.fits, a MILES-style folder, or one of the words {', '.join(SPECTRA_KEYWORDS)})",
                param_hint="INPUTS",
            )


def refuse_file_options(inputs, word, options=()):
    """Options that only apply to files (``--labels``, ``--grid`` ... and ``options``) given with a built-in set."""
    given = {k: v for k, v in inputs.survey_options().items() if k not in ("jobs", "on_error", "rest_frame")}
    given.update({name: True for name, value in options if value is not None})
    if given:
        name = next(iter(given)).replace("_", "-")
        raise click.BadParameter(f"applies to files; {word!r} is a built-in data set", param_hint=f"'--{name}'")


def _progress():
    """Progress bars unless the running command was given --quiet."""
    ctx = click.get_current_context(silent=True)
    return not (ctx is not None and ctx.params.get("quiet"))


def load_spectra(spectra, seed=0, grid=None):
    """Read INPUTS (an `Inputs`, or one path / word) into a `SpectralSet`.

    ``grid`` is the grid to use for survey files when ``--grid`` was not
    given (``predict``: the model's). A named path that does not exist is a
    usage error (exit code 2).
    """
    inputs = as_inputs(spectra)
    word = keyword(inputs)
    if word is not None:
        refuse_file_options(inputs, word)
        if word == "miles":
            from stellar_relevance.io import load_miles

            return load_miles()
        from stellar_relevance.datasets import make_synthetic_spectra

        return make_synthetic_spectra(random_state=seed)
    check_paths_exist(inputs)
    from stellar_relevance.io import read_spectra
    from stellar_relevance.io.dispatch import input_kind

    options = dict(inputs.survey_options(), progress=_progress())
    if grid is not None and "grid" not in options and input_kind(list(inputs.paths), options.get("labels")) == "survey":
        options["grid"] = grid
    quiet_reading_processes(inputs.jobs)
    return read_spectra(list(inputs.paths), **options)


def pack_inputs(inputs, output, overwrite=False, **options):
    """INPUTS to one packed file (:func:`~stellar_relevance.io.pack_spectra`, with ``options``); its ``meta``."""
    word = keyword(inputs)
    if word is not None:
        from stellar_relevance.io import write_packed

        refuse_file_options(inputs, word, options.items())
        spectra = load_spectra(inputs)
        write_packed(spectra, output, overwrite=overwrite)
        return dict(spectra.meta, output=str(output), n_spectra=len(spectra))
    check_paths_exist(inputs)
    from stellar_relevance.io import pack_spectra

    quiet_reading_processes(inputs.jobs)
    given = {name: value for name, value in options.items() if value is not None}
    return pack_spectra(list(inputs.paths), output, overwrite=overwrite, progress=_progress(),
                        **inputs.survey_options(), **given)


def input_places(inputs):
    """The files INPUTS name and the folders that hold them, without reading a file.

    Returns
    -------
    types.SimpleNamespace
        ``files``: every named file and every file a glob or ``@list``
        names; ``folders``: the folders named; ``data_folders``: those and
        the folders holding the files of globs and ``@lists`` (all resolved).
        Empty for ``miles`` / ``synthetic``.
    """
    from stellar_relevance.io import expand_inputs

    places = SimpleNamespace(files=set(), folders=set(), data_folders=set())
    inputs = as_inputs(inputs)
    if keyword(inputs) is not None:
        return places
    check_paths_exist(inputs)
    for text in inputs.paths:
        path = Path(text).expanduser()
        if text.startswith("@") or (_GLOB_CHARS & set(text) and not path.exists()):
            files = {p.resolve() for p in expand_inputs([text])}
            places.files |= files
            places.data_folders |= {p.parent for p in files}
        elif path.is_dir():
            places.folders.add(path.resolve())
        else:
            places.files.add(path.resolve())
    places.data_folders |= places.folders
    if inputs.labels is not None:
        places.files.add(Path(inputs.labels).expanduser().resolve())
    return places


def label_source(inputs, seed=0):
    """The labels of INPUTS (``label_names`` and the ``labels`` table), reading as little as it can.

    A packed file is memory-mapped (no flux read); survey files give the
    columns of their ``--labels`` table; ``miles``, ``synthetic`` and a
    MILES folder are read (they are small).
    """
    inputs = as_inputs(inputs)
    if keyword(inputs) is not None:
        return load_spectra(inputs, seed=seed)
    check_paths_exist(inputs)
    from stellar_relevance.io import read_label_table, read_packed
    from stellar_relevance.io.dispatch import input_kind

    kind = input_kind(list(inputs.paths), inputs.labels)
    if kind == "packed":
        return read_packed(inputs.paths[0], memmap=True)
    if kind == "miles":
        return load_spectra(inputs, seed=seed)
    if inputs.labels is None:
        return SimpleNamespace(label_names=[], labels={})
    table = read_label_table(inputs.labels, id_column=inputs.id_column)
    return SimpleNamespace(label_names=list(table.colnames), labels=table)
