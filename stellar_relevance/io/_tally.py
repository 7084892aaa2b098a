"""What one ingest run saw, file by file: spectra kept, files skipped, surveys met, notes, coverage, timing."""

from collections import Counter

import numpy as np

from stellar_relevance.exceptions import DataError
from stellar_relevance.io.registry import family

#: A grid with more than this share of its pixels empty in every spectrum is warned about.
EMPTY_GRID_SHARE = 0.5


class Tally:
    """Per-file outcomes of one ingest run; the driver feeds it every worker result.

    Parameters
    ----------
    on_error : {"skip", "fail"}
        What a file that cannot be used does.
    formats : tuple of str or None
        The format labels accepted.
    warn : callable
        Called with each warning text.
    single : bool
        One file: its own error is raised, not "nothing could be read".
    """

    def __init__(self, on_error, formats, warn, single=False):
        self.on_error, self.formats, self.warn = on_error, formats, warn
        self.single = single
        self.surveys = {}  # path -> survey family, each file once whatever the passes
        self.others = {}  # path -> why a file of another survey than the first was set aside
        self.skipped = []
        self.noted = set()
        self.covered = None
        self.read_s = self.resample_s = 0.0

    @property
    def family(self):
        """The survey of the files read (the first one met)."""
        return next(iter(self.surveys.values()), None)

    def accept(self, result):
        """The rows of one worker result, or [] when the file is skipped (DataError when on_error='fail')."""
        if result[0] == "error":
            if result[3] is not None:  # its format is known: it counts for its survey, usable or not
                self.surveys.setdefault(result[1], family(result[3]))
            return self._fail(result[1], result[2], file_level=True, see=result[4])
        _, path, label, rows, t_read, t_resample, refused, notes = result
        for message in refused:
            self._fail(path, message)
        for note in notes:
            if note not in self.noted:
                self.noted.add(note)
                self.warn(note)
        self.read_s += t_read
        self.resample_s += t_resample
        if self.formats is not None and label not in self.formats:
            return self._fail(path, f"{path}: a {label} file; expected {' or '.join(self.formats)}")
        survey = self.surveys.setdefault(path, family(label))
        if survey != self.family:
            self.others.setdefault(path, f"{path}: a {label} file among {self.family} files")
            return []
        return rows

    def one_survey(self):
        """Decide, after a pass over the files, what files of several surveys do.

        Files of one survey are read; files of another are set aside as
        they come (never mixed in). When the first survey met holds most of
        the files (more than any other) and ``on_error="skip"``, the others
        are skipped with the warning of :meth:`report`; otherwise the run
        stops with the count of files per survey (a DataError), so that
        whichever file sorts first never decides the survey.
        """
        counts = Counter(self.surveys.values())
        if len(counts) < 2:
            return
        example = {}
        for path, survey in self.surveys.items():
            example.setdefault(survey, path)
        parts = [f"{survey} {n} file{'s' if n > 1 else ''} (e.g. {example[survey]})" for survey, n in
                 counts.most_common()]
        mixed = f"the inputs mix surveys: {'; '.join(parts)}"
        first = next(iter(self.others.values()), None)
        if self.on_error == "fail" or counts[self.family] <= max(n for s, n in counts.items() if s != self.family):
            raise DataError(f"{first + '; ' if first else ''}{mixed}; read one survey's files at a time (name "
                            "them, or a glob such as 'spec-*.fits')")
        brief = ", ".join(f"{survey} {n} file{'s' if n > 1 else ''}" for survey, n in counts.most_common())
        for path, message in self.others.items():
            entry = (path, f"{message} ({brief})")
            if entry not in self.skipped:
                self.skipped.append(entry)

    def cover(self, flux):
        """Count, per grid pixel, the spectra that have a value there."""
        finite = np.isfinite(flux).any(axis=0)
        self.covered = finite if self.covered is None else self.covered | finite

    def empty_grid(self, grid, what):
        """Warn when most pixels of the grid have no value in any spectrum."""
        if self.covered is None:
            return
        empty = int((~self.covered).sum())
        if empty > EMPTY_GRID_SHARE * self.covered.size:
            have = grid[self.covered]
            self.warn(f"the grid {what} leaves {empty} of its {self.covered.size} pixels without data in every "
                      f"spectrum (the spectra cover {have.min():.1f}-{have.max():.1f} Angstrom of it); give a "
                      "grid inside the data")

    def _fail(self, path, message, file_level=False, see=()):
        if self.on_error == "fail" or (file_level and self.single):
            raise DataError(message, see=see)
        if (path, message) not in self.skipped:  # the scan and resampling passes see the same problems
            self.skipped.append((path, message))
        return []

    def report(self):
        """One warning for the skipped files and spectra."""
        if self.skipped:
            self.warn(f"{len(self.skipped)} unreadable files or spectra were skipped: "
                      + "; ".join(m for _, m in self.skipped[:5]) + (" ..." if len(self.skipped) > 5 else ""))

    def nothing(self):
        """The error when no spectrum could be read."""
        reasons = "; ".join(m for _, m in self.skipped[:3])
        return f"no spectrum could be read ({len(self.skipped)} files skipped: {reasons})"
