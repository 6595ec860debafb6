"""A result object for hypothesis tests, mirroring R's ``htest`` lists."""

from __future__ import annotations

from dataclasses import dataclass, field

from carts_iptw.results import TestResult


@dataclass(repr=False)
class HTest(TestResult):
    """A hypothesis test, R's ``htest``.

    Attributes
    ----------
    statistic : float
        The test statistic (named ``statistic_name``).
    p_value : float
        The p-value.
    method : str
        R's method text.
    parameter : dict
        E.g. ``{"df": 3}``.
    estimate : float, optional
        The estimate (named ``estimate_name``).
    conf_int : tuple of float, optional
        (lower, upper) at ``conf_level``.
    data_name, alternative : str
        R's ``data.name`` and ``alternative``.

    Notes
    -----
    R twin: the ``htest`` class of R's ``stats`` (R 4.2). The results contract of :class:`~carts_iptw.results.TestResult`: ``tidy()`` (broom's
    columns), ``summary()`` and ``repr`` (R's ``print.htest``, R 4.2).
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
