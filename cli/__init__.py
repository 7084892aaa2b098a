"""The ``stelrel`` command-line application (installed as stellar_relevance.cli)."""
