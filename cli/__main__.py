"""``python -m stellar_relevance.cli``: the ``stelrel`` command, as ``torchrun`` starts it.

    torchrun --nproc-per-node 2 -m stellar_relevance.cli rank miles --out results
"""

from stellar_relevance.cli.main import main

if __name__ == "__main__":
    main()
