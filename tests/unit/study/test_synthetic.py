"""The SYNTHETIC cohort reproduces the published margins and is seeded and reproducible.

Published values come from ../shared/study/anakinra-cart-iptw.md (control vs anakinra); they
are stated here as the targets the generator is calibrated to, not as statistics of a result.
"""

from __future__ import annotations

import pandas as pd
import pytest

from carts_iptw.study.cohort import validate_cohort
from carts_iptw.study.synthetic import (
    BUNDLED_FILE,
    DEFAULT_SEED,
    DEFAULT_TIME_RATIOS,
    bundled_cohort_path,
    load_synthetic_cohort,
    simulate_cohort,
)

# (quantity, control, anakinra) as published; percentages as fractions
PUBLISHED_PCT = [
    ("lines_ge3", 0.38, 0.21), ("construct_41bb", 0.091, 0.54), ("prior_hct", 0.16, 0.082),
    ("kps_le70", 0.24, 0.21), ("ipi_ge3", 0.65, 0.61), ("cns", 0.14, 0.15),
    ("extranodal", 0.73, 0.62), ("status_sdpd", 0.70, 0.62),
    ("hist_DLBCL", 0.82, 0.84), ("hist_FL", 0.064, 0.066), ("hist_MCL", 0.12, 0.098),
    ("icans_any", 0.234, 0.396), ("icans_g3", 0.098, 0.130), ("inf_any", 0.181, 0.324),
    ("inf_g3", 0.080, 0.225), ("inf_bact_g3", 0.080, 0.165), ("orr", 0.87, 0.93),
    ("crr", 0.72, 0.81),
]


def _margins(v: pd.DataFrame) -> dict:
    out = {}
    for g, d in v.groupby("anakinra"):
        m = {
            "n": len(d), "age_median": d["age"].median(),
            "hist_DLBCL": (d["histology"] == "DLBCL").mean(),
            "hist_FL": (d["histology"] == "FL").mean(),
            "hist_MCL": (d["histology"] == "MCL").mean(),
            "icans_any": (d["icans_grade"] >= 1).mean(), "icans_g3": (d["icans_grade"] >= 3).mean(),
            "inf_any": d["infection_any_d30"].mean(), "inf_g3": (d["infection_grade"] >= 3).mean(),
            "inf_bact_g3": ((d["infection_grade"] >= 3)
                            & (d["infection_type"] == "bacterial")).mean(),
            "orr": d["best_response"].isin(["CR", "PR"]).mean(),
            "crr": (d["best_response"] == "CR").mean(),
            "inf_g3_onset": d.loc[d["infection_grade"] >= 3, "infection_onset_day"].median(),
        }
        for c in ("lines_ge3", "construct_41bb", "prior_hct", "kps_le70", "ipi_ge3", "cns",
                  "extranodal", "status_sdpd"):
            m[c] = d[c].mean()
        out[int(g)] = m
    return out


@pytest.mark.parametrize("seed", [DEFAULT_SEED, 1, 2024])
def test_margins_match_published(seed):
    m = _margins(validate_cohort(simulate_cohort(seed)))
    assert m[0]["n"] == 110 and m[1]["n"] == 61
    assert m[0]["age_median"] == 67 and m[1]["age_median"] == 72
    assert m[0]["inf_g3_onset"] == 19 and m[1]["inf_g3_onset"] == 5
    for q, c, a in PUBLISHED_PCT:
        # exact to the nearest patient: within half a patient of the published percentage
        assert abs(m[0][q] - c) <= 0.5 / 110 + 0.005, (q, "control", m[0][q], c)
        assert abs(m[1][q] - a) <= 0.5 / 61 + 0.005, (q, "anakinra", m[1][q], a)


def test_reproducible_and_seed_dependent():
    a, b, c = simulate_cohort(7), simulate_cohort(7), simulate_cohort(8)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)
    assert a.attrs["synthetic"] is True


def test_policy_holds_for_every_patient():
    v = validate_cohort(simulate_cohort(3))
    assert ((v["age"] >= 65) | (v["construct"] == "CD28")).all()
    assert (v["prior_lines"] >= 1).all()
    assert (v["efs_months"] <= v["os_months"]).all()


def test_bundled_file_is_labelled_and_regenerates():
    p = bundled_cohort_path()
    assert p.name == BUNDLED_FILE and "SYNTHETIC" in p.name
    shipped = pd.read_csv(p, dtype={"id": "string"})
    fresh = simulate_cohort(DEFAULT_SEED)
    assert shipped.shape == fresh.shape
    assert shipped["id"].tolist() == fresh["id"].tolist()
    pd.testing.assert_series_equal(shipped["age"], fresh["age"], check_dtype=False)
    pd.testing.assert_series_equal(shipped["os_months"], fresh["os_months"], check_dtype=False)
    v = load_synthetic_cohort()
    assert v.attrs["synthetic"] is True and len(v) == 171


def test_other_sizes():
    v = validate_cohort(simulate_cohort(1, n_control=400, n_treated=200))
    assert (v["anakinra"] == 1).sum() == 200
    with pytest.raises(ValueError):
        simulate_cohort(1, n_control=0)


def test_bundled_cohort_balances_after_weighting_as_published():
    """Published: every post-weighting SMD < 0.1 (glm propensity score, ATE)."""
    from carts_iptw.study import analysis as A
    from carts_iptw.study.spec import default_spec

    ctx = A.Context(spec=default_spec(), data=load_synthetic_cohort())
    A.fit_weights(ctx)
    bal, _ = A.balance(ctx)
    assert bal["balanced"] and bal["max_abs_smd_weighted"]["value"] < 0.1
    assert bal["max_abs_smd_unweighted"]["value"] > 0.5  # the 4-1BB imbalance (9.1% vs 54%)


def test_time_ratios_change_only_event_times():
    a = simulate_cohort(5, time_ratios={"efs": 1.0, "post_progression": 1.0})
    b = simulate_cohort(5, time_ratios={"efs": 0.65})
    times = ["efs_months", "efs_event", "os_months", "os_event"]
    pd.testing.assert_frame_equal(a.drop(columns=times), b.drop(columns=times))
    va, vb = validate_cohort(a), validate_cohort(b)
    t = va["anakinra"] == 1
    assert (vb.loc[t, "efs_months"] <= va.loc[t, "efs_months"] + 1e-9).all()
    assert (vb.loc[~t, "efs_months"] == va.loc[~t, "efs_months"]).all()
    with pytest.raises(ValueError, match="unknown"):
        simulate_cohort(5, time_ratios={"pfs": 1.0})


def test_default_time_ratios_are_the_calibrated_ones():
    d = dict(DEFAULT_TIME_RATIOS)
    pd.testing.assert_frame_equal(simulate_cohort(5), simulate_cohort(5, time_ratios=d))
    # the control arm is the reference: its event times do not depend on the ratios
    a = validate_cohort(simulate_cohort(5))
    b = validate_cohort(simulate_cohort(5, time_ratios={"efs": 1.0, "post_progression": 1.0}))
    c = a["anakinra"] == 0
    assert (a.loc[c, "os_months"] == b.loc[c, "os_months"]).all()
    assert not (a.loc[~c, "efs_months"] == b.loc[~c, "efs_months"]).all()


@pytest.mark.parametrize("seed", [DEFAULT_SEED, 1, 2024, 7])
def test_infection_onset_days_are_whole_days_within_30(seed):
    v = validate_cohort(simulate_cohort(seed))
    on = v.loc[v["infection_grade"] >= 3, "infection_onset_day"]
    assert on.notna().all() and (on == on.round()).all()
    assert on.between(1, 30).all()


@pytest.fixture(scope="module")
def bundled_ctx():
    from carts_iptw.study import analysis as A
    from carts_iptw.study.spec import default_spec

    ctx = A.Context(spec=default_spec(), data=load_synthetic_cohort())
    A.fit_weights(ctx)
    ctx.design = A.make_design(ctx)
    return ctx, {o.name: o for o in ctx.spec.outcomes}


# Published (abstract): weighted log-rank p EFS 0.32, OS 0.72; weighted Cox p EFS 0.22, OS 0.72.
# The SYNTHETIC cohort is calibrated to land in a band around each, not to the third decimal.
@pytest.mark.parametrize("name,logrank_band,cox_band", [
    ("efs", (0.20, 0.45), (0.12, 0.35)),
    ("os", (0.55, 0.90), (0.55, 0.92)),
])
def test_bundled_survival_tests_near_published(bundled_ctx, name, logrank_band, cox_band):
    from carts_iptw.study import analysis as A

    ctx, out = bundled_ctx
    res, _ = A.time_to_event(ctx, out[name])
    cox = A.cox_model(ctx, out[name])
    p_lr, p_cox = res["logrank_p"]["value"], cox["p"]["value"]
    assert logrank_band[0] <= p_lr <= logrank_band[1], (name, "log-rank", p_lr)
    assert cox_band[0] <= p_cox <= cox_band[1], (name, "Cox", p_cox)


def test_bundled_infection_onset_near_published(bundled_ctx):
    """Published: median day of grade >= 3 infection 19 (control) vs 5 (anakinra), p = 0.18."""
    from carts_iptw.study import analysis as A

    ctx, out = bundled_ctx
    d = A.distribution_outcome(ctx, out["infection_g3_onset"])
    assert abs(d["Control"]["median"]["value"] - 19) <= 2
    assert abs(d["Anakinra"]["median"]["value"] - 5) <= 2
    assert 0.08 <= d["p_weighted"]["value"] <= 0.35


def test_bundled_infection_hazard_ratio_direction(bundled_ctx):
    """Published adjusted HR 10.17 (2.53-40.91). With the published rates (8.0% vs 22.5%) as
    exact unweighted margins, a weighted Cox HR (the spec adjusts it for the standard set, as the
    published multivariable model) stays near the hazard ratio those rates imply (about 3); the
    calibration keeps it above 1.5 and below that bound's vicinity."""
    from carts_iptw.study import analysis as A

    ctx, out = bundled_ctx
    res, _ = A.competing(ctx, out["infection_g3_cif"])
    hr = res["cox"]["hr"]["value"]
    assert 1.5 <= hr <= 4.0, hr
