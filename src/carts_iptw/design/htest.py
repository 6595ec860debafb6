"""A result object for hypothesis tests, mirroring R's ``htest`` lists."""

from __future__ import annotations

from dataclasses import dataclass, field

from carts_iptw.results import TestResult


@dataclass(repr=False)
class HTest(TestResult):
    """R's ``htest``: ``statistic``, ``parameter`` (dict, e.g. ``{"df": 3}``), ``p_value``, ``method``; optionally ``estimate``, ``conf_int`` (lower, upper).

    The results contract of :class:`~carts_iptw.results.TestResult`: ``tidy()`` (broom's columns),
    ``summary()`` and ``repr`` (R's ``print.htest``).
    """

    statistic: float
    p_value: float
    method: str
    statistic_name: str = "statistic"
    parameter: dict = field(default_factory=dict)
    estimate: float | None = None
    estimate_name: str = ""
    conf_int: tuple[float, float] | None = None
    conf_level: float = 0.95
    data_name: str = ""
    alternative: str = "two.sided"
