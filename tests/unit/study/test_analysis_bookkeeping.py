"""The pipeline's own bookkeeping (no statistics): outcome indicators, competing-risks coding,
lazy imports that fail with the step's name."""

from __future__ import annotations

import numpy as np
import pytest

from carts_iptw.study import analysis as A
from carts_iptw.study.cohort import validate_cohort
from carts_iptw.study.spec import Outcome, default_spec
from carts_iptw.study.synthetic import simulate_cohort


@pytest.fixture()
def ctx():
    return A.Context(spec=default_spec(), data=validate_cohort(simulate_cohort(4)))


def test_outcome_indicator_from_expression(ctx):
    o = [o for o in ctx.spec.outcomes if o.name == "infection_bact_g3"][0]
    col = A.outcome_column(ctx, o)
    d = ctx.data
    exp = ((d["infection_grade"] >= 3) & (d["infection_type"] == "bacterial")).astype(int)
    assert (d[col] == exp).all() and d[col].dtype == np.int64


def test_competing_coding(ctx):
    d = ctx.data
    d["infection_grade"] = 0
    d["infection_onset_day"] = np.nan
    d["os_months"] = 40.0
    d["os_event"] = 0
    # row 0: grade 3 infection on day 12; row 1: death at 0.5 months (day 15.2) first;
    # row 2: infection grade 3 on day 31 (outside the window), alive; row 3: grade 2 infection
    d.loc[0, ["infection_grade", "infection_onset_day"]] = [3, 12.0]
    d.loc[1, ["os_months", "os_event"]] = [0.5, 1]
    d.loc[2, ["infection_grade", "infection_onset_day"]] = [3, 31.0]
    d.loc[3, ["infection_grade", "infection_onset_day"]] = [2, 5.0]
    d.loc[4, ["os_months", "os_event"]] = [0.5, 0]  # lost to follow-up at day 15.2
    o = [o for o in ctx.spec.outcomes if o.type == "competing"][0]
    cr = A.competing_data(ctx, o)
    assert cr.loc[0, "cr_status"] == 1 and cr.loc[0, "cr_time"] == 12.0
    assert cr.loc[1, "cr_status"] == 2 and cr.loc[1, "cr_time"] == pytest.approx(0.5 * 30.4375)
    assert cr.loc[2, "cr_status"] == 0 and cr.loc[2, "cr_time"] == 30.0
    assert cr.loc[3, "cr_status"] == 0 and cr.loc[3, "cr_time"] == 30.0
    assert cr.loc[4, "cr_status"] == 0 and cr.loc[4, "cr_time"] == pytest.approx(0.5 * 30.4375)
    assert (cr["cr_event"] == (cr["cr_status"] == 1)).all()
    assert list(cr["cr_state"].cat.categories) == ["censor", "event", "competing"]


def test_competing_event_without_time_is_an_error(ctx):
    ctx.data.loc[0, ["infection_grade", "infection_onset_day"]] = [3, np.nan]
    o = [o for o in ctx.spec.outcomes if o.type == "competing"][0]
    with pytest.raises(ValueError, match="infection_onset_day.*1 patient"):
        A.competing_data(ctx, o)



def test_check_model_columns_counts_missing(ctx):
    ctx.data.loc[[1, 2], "age"] = np.nan
    with pytest.raises(ValueError, match="'age'") as ei:
        A.check_model_columns(ctx.data, ctx.spec)
    assert ei.value.problems[0]["rows"] == 2


def test_distribution_outcome_missing_values_counted(ctx):
    o = Outcome(name="x", label="x", type="duration", column="crs_duration")  # no 'among'
    with pytest.raises(ValueError, match="crs_duration.*missing"):
        A.distribution_outcome(ctx, o)


def test_unweighted_quantiles_follow_the_type7_definition():
    # R's quantile() default (type 7): h = (n - 1) p, x[floor h] + (h - floor h) * gap
    rng = np.random.default_rng(0)
    for n in (2, 5, 8, 31):
        x = rng.normal(size=n)
        xs = np.sort(x)
        exp = []
        for p in (0.25, 0.5, 0.75):
            h = (n - 1) * p
            lo = int(np.floor(h))
            hi = min(lo + 1, n - 1)
            exp.append(xs[lo] + (h - lo) * (xs[hi] - xs[lo]))
        np.testing.assert_allclose(A._unweighted_quantiles(x), exp, rtol=1e-12, atol=1e-15)


def test_duration_outcome_with_nobody_in_the_subgroup(ctx):
    A.fit_weights(ctx)
    A.make_design(ctx)
    o = Outcome(name="x", label="x", type="duration", column="icans_duration",
                among="icans_grade >= 6")
    res = A.distribution_outcome(ctx, o)
    assert res["p_weighted"]["value"] is None and "no patient" in res["p_weighted"]["reason"]
    assert any("no patient" in w["message"] for w in ctx.warnings)
