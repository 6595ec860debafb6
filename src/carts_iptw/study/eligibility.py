"""Eligibility and the treatment policy, as data the study spec can change.

The reference study: relapsed/refractory B-cell lymphoma (DLBCL, FL, MCL) treated with CD19
CAR T in the second line or later (>= 1 prior line), infused 2018-2025. Controls are historical
patients who *would have received anakinra under today's policy*: age >= 65 and/or a
CD28-costimulated product. The policy is an expression (see :mod:`carts_iptw.study.expr`) applied
to the control arm (``apply_policy_to = "control"``) or to everyone (``"all"``).

``apply_eligibility`` returns the eligible rows and a flow table (counts only, one row per
step), and raises :class:`CohortValidationError` when an arm is empty afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from carts_iptw.study.cohort import CohortValidationError
from carts_iptw.study.expr import columns_used, evaluate


@dataclass(frozen=True)
class Eligibility:
    histologies: tuple[str, ...] = ("DLBCL", "FL", "MCL")
    min_prior_lines: int = 1
    infusion_from: str = "2018-01-01"
    infusion_to: str = "2025-12-31"
    policy: str = "age >= 65 or construct == 'CD28'"
    apply_policy_to: str = "control"  # "control" | "all" | "none"
    extra: str | None = None  # any further expression every patient must satisfy

    def __post_init__(self):
        if self.apply_policy_to not in ("control", "all", "none"):
            raise ValueError(
                "eligibility.apply_policy_to must be 'control', 'all' or 'none', "
                f"got {self.apply_policy_to!r}"
            )
        if pd.Timestamp(self.infusion_from) > pd.Timestamp(self.infusion_to):
            raise ValueError("eligibility.infusion_from is after eligibility.infusion_to")
        columns_used(self.policy)  # parse now: a typo fails when the spec is read
        if self.extra:
            columns_used(self.extra)


def apply_eligibility(df: pd.DataFrame, elig: Eligibility, treatment: str = "anakinra"
                      ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows of a validated cohort meeting the criteria, and the flow table.

    Flow table columns: ``step``, ``excluded``, ``remaining``, ``treated``, ``control``.
    """
    if treatment not in df.columns:
        raise CohortValidationError([{
            "column": treatment, "rule": "treatment column present", "rows": len(df),
            "message": f"column '{treatment}': the spec's treatment column is missing "
                       f"(treatment column present; {len(df)} row(s))",
        }])
    keep = np.ones(len(df), dtype=bool)
    trt = df[treatment].to_numpy() == 1
    steps = [("cohort as supplied", keep.copy())]
    keep &= df["histology"].isin(elig.histologies).to_numpy()
    steps.append((f"histology in {list(elig.histologies)}", keep.copy()))
    keep &= (df["prior_lines"] >= elig.min_prior_lines).to_numpy()
    steps.append((f"prior lines >= {elig.min_prior_lines} (CAR T in line "
                  f">= {elig.min_prior_lines + 1})", keep.copy()))
    d = df["infusion_date"]
    keep &= ((d >= pd.Timestamp(elig.infusion_from)) & (d <= pd.Timestamp(elig.infusion_to))
             ).to_numpy()
    steps.append((f"infused {elig.infusion_from} to {elig.infusion_to}", keep.copy()))
    if elig.apply_policy_to != "none":
        pol = evaluate(elig.policy, df)
        if elig.apply_policy_to == "control":
            keep &= pol | trt
            steps.append((f"controls meet today's policy ({elig.policy})", keep.copy()))
        else:
            keep &= pol
            steps.append((f"meets today's policy ({elig.policy})", keep.copy()))
    if elig.extra:
        keep &= evaluate(elig.extra, df)
        steps.append((f"and {elig.extra}", keep.copy()))
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
            raise CohortValidationError([{
                "column": treatment, "rule": "both arms non-empty after eligibility",
                "rows": 0,
                "message": f"column '{treatment}': the {arm} arm is empty after eligibility "
                           f"(both arms non-empty after eligibility; 0 row(s))",
            }])
    return out, flow
