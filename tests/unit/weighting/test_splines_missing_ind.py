"""weightit with spline terms and with missing = "ind", then bal_tab / glm_weightit / svyglm
(no R; the numbers are checked against the real WeightIt and cobalt in
parity/cases/weighting_terms.py)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from carts_iptw import bal_tab, glm_weightit, load_dataset, svydesign, svyglm, weightit


@pytest.fixture(scope="module")
def lal():
    d = load_dataset("lalonde").reset_index(drop=True)
    d["employed"] = (d["re78"] > 0).astype(int)
    return d


@pytest.fixture(scope="module")
def lal_na(lal):
    d = lal.copy()
    d.loc[d.index % 9 == 4, "re74"] = np.nan
    return d


def test_spline_terms_fit_and_balance_on_the_original_covariates(lal):
    W = weightit("treat ~ ns(age, 3) + educ + race + bs(re74, df = 4)", lal)
    assert list(W.covs.columns) == ["age", "educ", "race", "re74"]
    assert [c for c in W.ps_model.coef.index if c.startswith("ns(")] == [
        "ns(age, 3)1", "ns(age, 3)2", "ns(age, 3)3"]
    b = bal_tab(W)
    assert "age" in b.balance.index and "re74" in b.balance.index
    assert not any("ns(" in str(i) for i in b.balance.index)
    f = glm_weightit("employed ~ treat", lal, W)
    assert np.isfinite(f.se).all()


def test_missing_ind_carries_through(lal_na):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        W = weightit("treat ~ age + educ + re74", lal_na, missing="ind")
    assert W.missing == "ind"
    assert "re74_NA" in W.ps_model.coef.index
    assert "re74:<NA>" in bal_tab(W).balance.index
    f = glm_weightit("employed ~ treat", lal_na, W)  # the indicator column is stacked
    assert np.isfinite(f.se).all()
    g = glm_weightit("re78 ~ treat + age", lal_na, W, family="gaussian")
    assert np.isfinite(g.se).all()
    s = svyglm("re78 ~ treat", svydesign(lal_na.assign(w=W.weights), weights="w"),
               family="gaussian")
    assert np.isfinite(s.se).all()
    # the outcome model itself may not read a covariate with missing values (R: na.fail)
    with pytest.raises(ValueError, match="column 're74' has 68 missing value"):
        glm_weightit("re78 ~ treat + re74", lal_na, W, family="gaussian")
    # the data of weightit() are needed to rebuild the indicator columns
    with pytest.raises(ValueError, match="data"):
        glm_weightit("employed ~ treat", lal_na.fillna({"re74": 0.0}), W)


def test_missing_ind_refuses_a_transformed_column(lal_na):
    with pytest.raises(ValueError, match="column 're74' has missing values and is transformed "
                                         r"in the formula \(term 'log\(re74 \+ 1\)'\)"):
        weightit("treat ~ age + log(re74 + 1)", lal_na, missing="ind")
    d = lal_na.assign(race=lal_na["race"].astype(object))
    d.loc[3, "race"] = None
    with pytest.raises(ValueError, match="column 'race' has missing values; missing='ind' "
                                         "supports numeric covariates only"):
        weightit("treat ~ age + race", d, missing="ind")
