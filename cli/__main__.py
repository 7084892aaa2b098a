"""``python -m stellar_relevance.cli``: the ``stelrel`` command, as ``torchrun`` starts it.

    torchrun --nproc-per-node 2 -m stellar_relevance.cli rank miles --out results
"""

from stellar_relevance.cli._processes import stop_quietly_on_signals

if __name__ == "__main__":
    stop_quietly_on_signals()  # a copy started by `stelrel rank --nproc N`: Ctrl-C ends it quietly
    from stellar_relevance.cli.main import main

    main()
