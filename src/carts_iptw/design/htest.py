"""A result object for hypothesis tests, mirroring R's ``htest`` lists."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class HTest:
    """R's ``htest``: ``statistic``, ``parameter`` (dict, e.g. ``{"df": 3}``), ``p_value``,
    ``method``; optionally ``estimate``, ``conf_int`` (lower, upper), ``null_value``."""

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

    def summary(self) -> str:
        """Text of R's ``print(htest)``: method, data, statistic, parameters, p-value, CI and
        estimate."""
        lines = [f"\t{self.method}", ""]
        if self.data_name:
            lines.append(f"data:  {self.data_name}")
        parts = []
        if self.statistic is not None and not (isinstance(self.statistic, float) and np.isnan(self.statistic)):
            parts.append(f"{self.statistic_name} = {self.statistic:.6g}")
        for k, v in self.parameter.items():
            parts.append(f"{k} = {v:.6g}")
        parts.append(f"p-value = {self.p_value:.4g}")
        lines.append(", ".join(parts))
        if self.conf_int is not None:
            lines.append(
                f"{100 * self.conf_level:g} percent confidence interval: "
                f"{self.conf_int[0]:.6g} {self.conf_int[1]:.6g}"
            )
        if self.estimate is not None:
            lines.append(f"{self.estimate_name}: {self.estimate:.6g}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary()
