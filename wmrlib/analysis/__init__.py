"""What the stored results say: the paper's published numbers, every table as ours beside the
paper's, gains and their intervals (the rules of :mod:`.stats`), the claims and their verdicts,
the paired bootstrap, learning curves and collapses, the robustness check, and one results
object per profile (:mod:`.results`) that reads each of these once for the book, the shipped
models (:mod:`.zoo`), which warn when they collapsed in training, the schedule pilot's
decisions (:mod:`.pilot`), and the α_test explorer's quantised margins (:mod:`.explorer`).
It also reads what the book's figures and records show (:mod:`.figure_data`, :mod:`.records`).
The landing page's headline is one typed result (:mod:`.headline`); :mod:`.margins` holds the
baselines' adversarial margins and weight spreads.
The training budget's comparison, 5 against 20 epochs, is :mod:`.budget`; what each analog page
finds (the numbers of its opening sentence) is :mod:`.findings`.
"""

__all__ = ["bootstrap", "claims", "collapse", "curves", "explorer", "gains", "paper", "results",
           "robustness", "pilot", "stats", "tables", "zoo"]
__all__ += ["figure_data", "records"]
__all__ += ["headline", "margins"]
__all__ += ["budget"]
__all__ += ["findings"]
