"""Propensity-score and balancing weights: the WeightIt twin (``weightit``, ``trim``)."""

from .estimands import get_w_from_ps
from .trim import trim
from .weightit import WeightItResult, weightit

__all__ = ["WeightItResult", "get_w_from_ps", "trim", "weightit"]
