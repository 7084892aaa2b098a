"""What a run leaves behind: the result, its files, figures, the HTML page, the model file.

- :mod:`.result` — :class:`RankingResult` (hold, save whole or not at all, load)
- :mod:`.outputs` — the output folder, checked before work and written staged
- :mod:`.figures` — the figures: relevance and sensitivity, eigenvalues, error vs k (compute nothing)
- :mod:`.html` — the self-contained HTML report (computes nothing)
- :mod:`.model_file` — the model file and predictions from it
- :mod:`.by_label` — several labels, one folder each
"""

from stellar_relevance.report.html import render_html, write_html
from stellar_relevance.report.model_file import load_model, predict_labels
from stellar_relevance.report.result import RankingResult

__all__ = ["RankingResult", "load_model", "predict_labels", "render_html", "write_html"]
