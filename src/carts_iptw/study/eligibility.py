"""Eligibility: a list of named steps, each an R condition, shown in the flow table.

A spec lists its steps in order (``[[eligibility]]`` with ``label`` and ``rule``); each rule is
an R expression (:mod:`carts_iptw.study.expr`), so ``subset(cohort, <rule>)`` in R keeps the
same rows: a row where the rule is ``NA`` is excluded. ``applies_to = "control"`` (or
``"treated"``) applies a rule to one arm only and keeps the other arm whatever the rule says
(e.g. historical controls must meet today's treatment policy).

``apply_eligibility`` returns the eligible rows and a flow table (counts only, one row per
step), and raises :class:`CohortValidationError` when an arm is empty afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from carts_iptw.study.cohort import CohortValidationError
from carts_iptw.study.expr import parse

APPLIES_TO = ("all", "treated", "control")


@dataclass(frozen=True)
class EligibilityStep:
    """One eligibility step: an R ``rule`` a row must meet, applied to ``applies_to`` rows."""

    label: str
    rule: str
    applies_to: str = "all"
    where: str = ""

    def __post_init__(self):
        """Check ``applies_to`` and parse the rule now, so a typo fails when the spec is read."""
        if self.applies_to not in APPLIES_TO:
            raise ValueError(f"spec: [[eligibility]] '{self.label}': applies_to must be one of "
                             f"{APPLIES_TO}, got {self.applies_to!r}")
        parse(self.rule, self.where or f"eligibility rule '{self.label}'")  # a typo fails now


@dataclass(frozen=True)
class Eligibility:
    """The eligibility steps of a study, in order."""

    steps: tuple[EligibilityStep, ...] = ()


def _problem(column: str, rule: str, rows: int, detail: str) -> dict:
    return {"column": column, "rule": rule, "rows": rows,
            "message": f"column '{column}': {detail} ({rule}; {rows} row(s))"}


def apply_eligibility(df: pd.DataFrame, elig: Eligibility, treatment: str,
                      complete_cases: tuple[str, ...] | list[str] = ()
                      ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows of a validated cohort meeting every step, and the flow table.

    ``complete_cases``: columns that must not be missing (the spec's ``missing = "complete"``
    policy), applied after the steps as one more flow row.

    Flow table columns: ``step``, ``excluded``, ``remaining``, ``treated``, ``control``.
    """
    if treatment not in df.columns:
        raise CohortValidationError([_problem(
            treatment, "treatment column present", len(df),
            "the spec's treatment column is missing")])
    keep = np.ones(len(df), dtype=bool)
    trt = df[treatment].to_numpy() == 1
    steps = [("cohort as supplied", keep.copy())]
    for st in elig.steps:
        ok = parse(st.rule, st.where or f"eligibility rule '{st.label}'").mask(df)
        if st.applies_to == "control":
            ok = ok | trt
        elif st.applies_to == "treated":
            ok = ok | ~trt
        keep &= ok
        steps.append((st.label, keep.copy()))
    cols = [c for c in dict.fromkeys(complete_cases) if c in df.columns]
    if cols:
        na = df[cols].isna().to_numpy() & keep[:, None]
        named = [c for c, k in zip(cols, na.any(axis=0), strict=True) if k]
        keep &= ~df[cols].isna().any(axis=1).to_numpy()
        steps.append(("complete covariate data" + (f" ({', '.join(named)})" if named else ""),
                      keep.copy()))
    rows, prev = [], len(df)
    for label, mask in steps:
        n = int(mask.sum())
        rows.append({"step": label, "excluded": prev - n, "remaining": n,
                     "treated": int((mask & trt).sum()), "control": int((mask & ~trt).sum())})
        prev = n
    flow = pd.DataFrame(rows)
    out = df.loc[keep].reset_index(drop=True)
    n_t, n_c = int((keep & trt).sum()), int((keep & ~trt).sum())
    for arm, n in (("treated", n_t), ("control", n_c)):
        if n == 0:
            raise CohortValidationError([_problem(
                treatment, "both arms non-empty after eligibility", 0,
                f"the {arm} arm is empty after eligibility")])
    return out, flow
