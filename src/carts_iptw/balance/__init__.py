"""Balance diagnostics: the cobalt twin (``bal_tab``, ``love_plot``, ``overlap_plot``)."""

from .bal_tab import BalTab, bal_tab
from .plots import love_plot, overlap_plot

__all__ = ["BalTab", "bal_tab", "love_plot", "overlap_plot"]
