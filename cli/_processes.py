"""Commands that run in several processes: one message per event, and Ctrl-C stops them all quietly.

``stelrel rank --nproc N`` starts N copies of the command
(:func:`run_in_processes`, through
:func:`stellar_relevance.nn.distributed.launch`). The first copy shows
the progress and the warnings; the others show nothing. A copy that fails
does not print its error: it writes it to a report file
(:func:`report_and_exit`) and the launching process prints it once, with
the copy's exit code.

``--jobs N`` reads files in a pool of processes: :func:`quiet_reading_processes`
makes them leave Ctrl-C to the main process, which stops them and prints
one line (no traceback from every worker).

The console script (:func:`stellar_relevance.cli.main.main`) calls
:func:`interrupts_for_the_command`: a Ctrl-C before the command starts ends
the process with the one line and exit code 130 (nothing is written yet);
one while the command runs raises KeyboardInterrupt, which the command
turns into the same line after removing its temporary outputs; once the
command has returned, Ctrl-C is ignored, so the process ends with the
command's own exit status (its outputs are complete) instead of being
killed by the signal while the interpreter shuts down.
"""

import atexit
import contextlib
import json
import logging
import os
import signal
import sys
import tempfile
import traceback
from pathlib import Path

import click

#: Environment variable naming the folder where the copies of a ``--nproc`` run report their errors.
REPORTS_ENV = "STELREL_WORKER_REPORTS"


def worker_reports():
    """The report folder when this process is a copy started by ``--nproc``, else None."""
    folder = os.environ.get(REPORTS_ENV)
    return Path(folder) if folder else None


def worker_rank():
    """This copy's rank (0 shows the messages) when started by ``--nproc``, else None."""
    if worker_reports() is None:
        return None
    return int(os.environ.get("RANK", "0"))


#: Whether the command itself runs (its errors are handled); before it, a signal ends the process at once.
_RUNNING = [False]
#: Whether Ctrl-C is ignored once the command has returned (set by the console script only: in-process
#: runs, such as tests and notebooks, keep their own handling of Ctrl-C).
_IGNORE_WHEN_DONE = [False]
#: Whether a Ctrl-C came (set by the handlers of the console script and of the copies of ``--nproc``).
_INTERRUPTED = [False]
#: Exit code of a command stopped by Ctrl-C (128 + SIGINT, as a shell reports it), and its one line.
EXIT_INTERRUPTED = 130
INTERRUPTED = "Interrupted: stopped; no partial output was left."
#: Environment variable that makes the fork server of ``--jobs N`` quiet about readers stopped while starting.
READER_SERVER_ENV = "STELREL_READER_SERVER"


def _stop_once(signum, frame):
    _INTERRUPTED[0] = True
    if not _RUNNING[0]:  # importing or parsing: nothing written yet, and an import would wrap the interrupt
        os._exit(EXIT_INTERRUPTED)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt


def _interrupt(signum, frame):
    _INTERRUPTED[0] = True
    if not _RUNNING[0]:  # parsing the options: nothing written yet
        sys.stderr.write(INTERRUPTED + "\n")
        sys.stderr.flush()
        os._exit(EXIT_INTERRUPTED)
    raise KeyboardInterrupt


def interrupts_for_the_command():
    """In the console script: Ctrl-C before the command ends the process (one line, exit code 130),
    during it raises KeyboardInterrupt, and after it is ignored (see the module's documentation)."""
    _IGNORE_WHEN_DONE[0] = True
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # a copy of --nproc keeps _stop_once
        signal.signal(signal.SIGINT, _interrupt)


def interrupted(exc):
    """Whether ``exc`` ends the command because of a Ctrl-C: a KeyboardInterrupt, an error that wraps one
    (an import interrupted inside a class body raises RuntimeError, an extension's ImportError), or any
    error after the signal handler of the console script saw a Ctrl-C."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return _INTERRUPTED[0]


def exit_interrupted():
    """End the process with exit code 130 after the one line: the exit functions run (temporary folders,
    the reading processes), the interpreter's teardown does not. CPython ends a process by SIGINT at
    the end of its teardown, whatever the exit code, when the interrupt was raised inside code that an
    extension module ran while importing; the command has handled it."""
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            stream.flush()
    os._exit(EXIT_INTERRUPTED)


def _ignore_interrupts():
    """Ctrl-C from here on is ignored; one that came while the command was finishing is dropped."""
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    except KeyboardInterrupt:  # signal.signal runs a pending handler first: the work is done, drop it
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def stop_quietly_on_signals():
    """In a copy started by ``--nproc``: SIGINT (Ctrl-C, which the launcher passes on) and SIGTERM
    (the launcher stopping the survivors of a failure) end the copy quietly with exit code 130;
    while the command runs they raise one KeyboardInterrupt, so that temporary outputs are removed."""
    if worker_reports() is not None:
        signal.signal(signal.SIGINT, _stop_once)
        signal.signal(signal.SIGTERM, _stop_once)


@contextlib.contextmanager
def command_running():
    """Mark the command as running (a signal then raises KeyboardInterrupt instead of ending the copy)."""
    previous, _RUNNING[0] = _RUNNING[0], True
    try:
        yield
    finally:
        _RUNNING[0] = previous
        if not previous and _IGNORE_WHEN_DONE[0]:
            _ignore_interrupts()


def report_and_exit(code, text, user_error=True):
    """In a copy started by ``--nproc``: leave ``text`` and ``code`` for the launching process, then exit."""
    report = worker_reports() / f"rank{worker_rank()}.json"
    if not report.exists():  # the first report of this copy is the one that counts
        report.write_text(json.dumps({"code": int(code), "text": text, "user_error": bool(user_error)}))
    raise click.exceptions.Exit(code)


def report_crash_and_exit(exc):
    """In a copy started by ``--nproc``: an unexpected error, with its traceback, for the launching process."""
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    report_and_exit(1, text, user_error=False)


def _first_report(folder):
    """``(code, text)`` of the report to show: the lowest rank's user error, else the lowest rank's crash."""
    reports = []
    for path in Path(folder).glob("rank*.json"):
        data = json.loads(path.read_text())
        reports.append((not data["user_error"], int(path.stem[4:]), data["code"], data["text"]))
    if not reports:
        return None
    _, _, code, text = min(reports)
    return code, text


def run_in_processes(argv, nproc, device):
    """Run ``stelrel *argv`` in ``nproc`` processes; their first error is printed once, with its exit code.

    Raises
    ------
    click.exceptions.Exit
        With the exit code of the copy that failed, after printing its message.
    stellar_relevance.nn.distributed.LaunchError
        When a copy died without a report (killed, out of memory).
    """
    import torch.distributed.launcher.api  # noqa: F401  (creates the launcher's loggers, silenced below)

    from stellar_relevance.nn.distributed import LaunchError, launch

    # the launcher's log ("Sending process ... closing signal SIGINT") is not the user's news
    loggers = [log for name, log in logging.root.manager.loggerDict.items()
               if name.startswith(("torch.distributed.elastic", "torch.distributed.launcher"))
               and isinstance(log, logging.Logger) and not log.disabled]
    with tempfile.TemporaryDirectory(prefix="stelrel-reports-") as folder:
        saved = os.environ.get(REPORTS_ENV)
        os.environ[REPORTS_ENV] = folder
        for log in loggers:
            log.disabled = True
        try:
            launch(argv, nproc, device)
        except LaunchError:
            report = _first_report(folder)
            if report is None:
                raise
            code, text = report
            if text:
                click.echo(text.rstrip("\n"), err=True)
            raise click.exceptions.Exit(code) from None
        finally:
            for log in loggers:
                log.disabled = False
            if saved is None:
                del os.environ[REPORTS_ENV]
            else:
                os.environ[REPORTS_ENV] = saved


def quiet_reading_processes(jobs):
    """Make the ``jobs`` processes that read files leave Ctrl-C to this process (one line, no tracebacks).

    The readers are forked from multiprocessing's fork server; started here
    with SIGINT ignored, the server and every process forked from it ignore
    it too, and the main process, interrupted, stops the pool. Nothing to
    do for one job.
    """
    if jobs <= 1:
        return
    import multiprocessing
    from multiprocessing import forkserver

    if "forkserver" not in multiprocessing.get_all_start_methods():
        return
    # the server's preloaded modules: what the readers import, and the quiet start (set before the server starts)
    multiprocessing.get_context("forkserver").set_forkserver_preload(
        ["stellar_relevance.io.ingest", "stellar_relevance.cli._reader_server"])
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ[READER_SERVER_ENV] = "1"
    try:
        forkserver.ensure_running()
    finally:
        del os.environ[READER_SERVER_ENV]
        signal.signal(signal.SIGINT, previous)
