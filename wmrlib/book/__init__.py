"""Helpers the notebooks share, one module per job: :mod:`.sources` (which stored results a page
shows), :mod:`.display` (how it shows them), :mod:`.records` (the facts of "How we reproduce"),
:mod:`.views` (result tables and figures), :mod:`.page` (the page object of every chapter) and
:mod:`.landing` (the landing page)."""
from __future__ import annotations

from .sources import (  # noqa: F401
    DATASET_NAMES, Source, candidate_sources, stored_plan, first_available, profiles_of,
    page_jobs, campaign_progress, robustness_progress,
)
from .display import (  # noqa: F401
    VERDICT_COLOURS, WIDE_TEXT, show, _FLAGS, masking_flags, section, show_report, caption,
    _plain, display_frame, _show, figure,
    collapsed_runs, _COLLAPSED,
)
from .records import (  # noqa: F401
    provenance_table, stale_runs, evaluation_wall_time, config_table, profiles_table,
    config_comparison, wall_time_table, compute_log, compute_by_cpu, precision_check, baseline_reach,
    pilot_runs,
    AIM_PP,
)
from .views import (  # noqa: F401
    require_runs, sensitivity_plot, histogram, dro, dro_plot, claim_comparisons,
    verdicts_by_profile, convergence, compact, analog_view, gain_view, verdict_table,
)
from .page import (  # noqa: F401
    Page,
)
from .landing import (  # noqa: F401
    headline, headline_text, campaign_collapses, gains_without_collapsed,
)
