"""wmrlib: the weighted minimax risk of Zeng et al. (AAAI 2021) as a small PyTorch library."""
from __future__ import annotations

__version__ = "0.1.0"
