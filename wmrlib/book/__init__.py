"""The presentation: what the book's pages show and how. :mod:`.sources` picks which stored
results a page shows (through each profile's results object), :mod:`.display` shows a section,
table or figure, :mod:`.records` gathers the facts of "How we reproduce", :mod:`.views` and
:mod:`.figures` draw the result tables and figures, :mod:`.page` is the page object of every
chapter, :mod:`.robustness_page` the robustness chapter's, :mod:`.landing` the landing page,
:mod:`.models` the shipped models' page, :mod:`.finding` the landing page's headline figure and the
TRADES baseline's margins, :mod:`.explorer` the α_test explorer (an inline
widget that recomputes A_sa in the reader's browser), :mod:`.schedule_pilot` the schedule pilot's
decisions in words, :mod:`.words` small English helpers (a count with its noun), and
:mod:`.params` checks the notebooks' parameters.
The training budget's page (5 against 20 epochs) is :mod:`.budget`.
It renders what :mod:`wmrlib.analysis` computed: it imports only analysis, the experiment's types and
core (tests/test_layers.py), and nothing imports it but the notebooks.
"""
from __future__ import annotations

from .display import VERDICT_COLOURS, caption, display_frame, figure, section, show, show_report
from . import models, schedule_pilot, words
from .explorer import alpha_explorer
from .landing import (bottom_line, build_stamp, citation, gains_without_collapsed, headline,
                      headline_text)
from .landing import glossary, lead, limitations
from .finding import headline_figure_block, trades_baseline
from .page import Page
from .budget import BudgetPage
from .records import (AIM_PP, baseline_reach, compute_by_cpu, compute_log, config_comparison,
                      config_table, evaluation_wall_time, pilot_runs, precision_check,
                      profiles_table, progress_note, provenance_table, wall_time_table)
from .robustness_page import RobustnessPage
from .sources import (DATASET_NAMES, Source, candidate_sources, covers, first_available,
                      profiles_of, seeds_text)
from .views import (claim_comparisons, convergence, verdict_table, verdicts_by_dataset,
                    verdicts_by_profile)

__all__ = [
    # modules
    "display", "explorer", "figures", "landing", "models", "page", "params", "records", "robustness_page",
    "schedule_pilot", "sources", "views", "words",
    # what the notebooks and pages call
    "Page", "RobustnessPage", "alpha_explorer", "Source", "DATASET_NAMES", "VERDICT_COLOURS", "AIM_PP",
    "candidate_sources", "covers", "first_available", "profiles_of", "seeds_text", "section", "show", "show_report",
    "caption", "display_frame", "figure", "headline", "headline_text", "bottom_line",
    "build_stamp", "citation", "gains_without_collapsed",
    "provenance_table", "evaluation_wall_time", "config_table", "profiles_table",
    "config_comparison", "wall_time_table", "compute_log", "compute_by_cpu", "progress_note",
    "precision_check",
    "baseline_reach", "pilot_runs", "claim_comparisons", "verdicts_by_profile", "convergence",
    "verdict_table", "verdicts_by_dataset",
    "finding", "lead", "limitations", "glossary", "headline_figure_block", "trades_baseline",
]
__all__ += ["budget", "BudgetPage"]
