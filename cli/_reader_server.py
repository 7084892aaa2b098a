"""Imported by the fork server that starts the reading processes of ``--jobs N``, and only there.

A reader that the main process stops while it starts (Ctrl-C during the
start of the pool) finds the pool's queues already gone and fails while
reading its start-up data from the main process; the fork server would
print that failure as a traceback under the one ``Interrupted`` line. In
the server started by :func:`stellar_relevance.cli._processes.quiet_reading_processes`
(which sets :data:`~stellar_relevance.cli._processes.READER_SERVER_ENV`)
such a start-up failure (an ``OSError`` or ``EOFError``: the main process
and its queues gone) is silent; any other is printed as Python prints it.
Every reader is forked from this server, and only start-up failures reach
its ``sys.excepthook`` (a reader's own errors go back to the main process).
"""

import os
import sys

from stellar_relevance.cli._processes import READER_SERVER_ENV


def quiet_stopped_start(kind, value, tb):
    """``sys.excepthook`` of a reader: silent when the main process stopped the pool while the reader started."""
    if issubclass(kind, (OSError, EOFError)):
        return
    sys.__excepthook__(kind, value, tb)


if os.environ.pop(READER_SERVER_ENV, None):
    sys.excepthook = quiet_stopped_start
