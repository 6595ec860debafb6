"""Published margins next to the SYNTHETIC cohort's own (for the demo report's appendix).

Only for synthetic data: it shows how closely the generator reproduces the abstract's numbers.
The cohort's values are unweighted percentages (``100 * mean``) and medians (R's ``quantile``
type 7), i.e. descriptive counts, per arm.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from carts_iptw.study.provenance import num
from carts_iptw.study.synthetic import TARGETS

#: target -> (label, how to compute it from a validated cohort)
_DEFS = {
    "age_median": ("Median age, years", lambda d: d["age"].to_numpy(float), "median"),
    "lines_ge3": (">= 3 prior lines", lambda d: d["lines_ge3"], "pct"),
    "construct_41bb": ("4-1BB construct", lambda d: d["construct_41bb"], "pct"),
    "histology_FL": ("FL histology", lambda d: d["histology"] == "FL", "pct"),
    "histology_MCL": ("MCL histology", lambda d: d["histology"] == "MCL", "pct"),
    "prior_hct": ("Prior HCT", lambda d: d["prior_hct"], "pct"),
    "kps_le70": ("KPS <= 70", lambda d: d["kps_le70"], "pct"),
    "ipi_ge3": ("IPI >= 3", lambda d: d["ipi"] >= 3, "pct"),
    "cns": ("CNS involvement", lambda d: d["cns"], "pct"),
    "extranodal": ("Extranodal disease", lambda d: d["extranodal"], "pct"),
    "status_sdpd": ("SD/PD at infusion", lambda d: d["status_at_infusion"] == "SD/PD", "pct"),
    "icans_any": ("Any-grade ICANS", lambda d: d["icans_grade"] >= 1, "pct"),
    "icans_g3": ("Grade >= 3 ICANS", lambda d: d["icans_grade"] >= 3, "pct"),
    "infection_any": ("Any infection by day 30", lambda d: d["infection_any_d30"], "pct"),
    "infection_g3": ("Grade >= 3 infection", lambda d: d["infection_grade"] >= 3, "pct"),
    "infection_bact_g3": ("Grade >= 3 bacterial infection",
                          lambda d: (d["infection_grade"] >= 3)
                          & (d["infection_type"] == "bacterial"), "pct"),
    "orr": ("Overall response", lambda d: d["best_response"].isin(["CR", "PR"]), "pct"),
    "crr": ("Complete response", lambda d: d["best_response"] == "CR", "pct"),
}


def calibration_table(data: pd.DataFrame, treatment: str, arms: list[str]) -> list[dict]:
    """Rows: quantity, published value per arm, this cohort's value per arm."""
    trt = data[treatment].to_numpy() == 1
    rows = []
    for key, (label, get, kind) in _DEFS.items():
        t = TARGETS[key]
        if not t.get("published"):
            continue
        x = np.asarray(get(data), dtype=float)
        row = {"quantity": label, "kind": kind}
        for arm, g, tkey in ((arms[0], False, "control"), (arms[1], True, "anakinra")):
            m = trt == g
            if kind == "median":
                row[f"{arm}|published"] = num(t[tkey], "published")
                row[f"{arm}|cohort"] = num(float(np.quantile(x[m], 0.5)), "quantile")
            else:
                row[f"{arm}|published"] = num(100.0 * t[tkey], "published")
                row[f"{arm}|cohort"] = num(100.0 * x[m].mean(), "percent")
        rows.append(row)
    return rows
