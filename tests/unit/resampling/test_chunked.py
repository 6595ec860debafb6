"""Chunked balance / Table 1 and per-stratum Kaplan-Meier equal the in-memory functions
(which the parity cases check against cobalt, tableone/survey and survival).

Chunks are uneven (3+ of different sizes, one without treated patients); Dask runs in-process.
A real dask DataFrame (``dask.dataframe.from_delayed`` of the uneven chunks) is tested where
dask.dataframe imports (it needs pyarrow, which the distributed extra does not install); its
path (``to_delayed()`` partitions computed by ``dask.compute``) is also exercised with a
stand-in exposing the same two attributes, so that it runs everywhere.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from carts_iptw import balance_chunked, survfit, survfit_by_stratum, table_one, table_one_chunked
from carts_iptw.balance.statistics import col_w_mean, col_w_smd, col_w_vr

RTOL = 1e-12
SIZES = (1, 517, 2, 1303, 178)  # uneven; the first chunk has one row only


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    rng = np.random.default_rng(1616)
    n = sum(SIZES)
    age = rng.normal(62, 11, n).round(1)
    days = 20_000 + rng.normal(0, 3, n)  # large mean, small SD: no cancellation allowed
    sex = rng.binomial(1, 0.45, n)
    stage = pd.Categorical(rng.choice(["I", "II", "III", "IV"], n, p=[0.3, 0.3, 0.4, 0.0]),
                           categories=["I", "II", "III", "IV"])  # IV never used
    region = rng.choice(["north", "south", "east"], n)
    lp = -0.3 + 0.03 * (age - 62) + 0.4 * sex
    trt = rng.binomial(1, 1 / (1 + np.exp(-lp)))
    ps = 1 / (1 + np.exp(-lp))
    w = np.where(trt == 1, 1 / ps, 1 / (1 - ps))
    t = np.round(rng.exponential(5 / np.exp(0.3 * trt - 0.2 * sex)), 2)
    c = np.round(rng.uniform(1, 8, n), 2)
    d = pd.DataFrame({"trt": trt, "age": age, "days": days, "sex": sex, "stage": stage,
                      "region": region, "w": w, "sw": rng.uniform(0.5, 2, n),
                      "time": np.minimum(t, c), "status": (t <= c).astype(int),
                      "fw": rng.integers(1, 4, n).astype(float)})
    d.loc[0, "trt"] = 0  # the first chunk (1 row) has no treated patient
    d["time"] = d["time"] + np.where(rng.random(n) < 0.05, 1e-10, 0.0)  # aeqSurv ties
    return d


def _assert_diff_close(got, ref, m0, m1, name):
    """A (standardised) mean difference to 1e-12 times its condition number: a difference of
    two means near 20,000 is itself defined only to ~20,000 eps (whatever the summation order,
    in memory too)."""
    m0, m1 = np.asarray(m0, dtype=float), np.asarray(m1, dtype=float)
    cond = np.maximum(1.0, np.maximum(np.abs(m0), np.abs(m1)) / np.abs(m1 - m0))
    got, ref = np.asarray(got, dtype=float), np.asarray(ref, dtype=float)
    assert np.all(np.abs(got - ref) <= RTOL * cond * np.abs(ref)), (name, got, ref)


def _chunks(d: pd.DataFrame) -> list[pd.DataFrame]:
    cuts = np.cumsum((0, *SIZES))
    return [d.iloc[a:b] for a, b in zip(cuts[:-1], cuts[1:], strict=True)]


class FakeDaskFrame:
    """The two attributes of a dask DataFrame the chunked functions use."""

    def __init__(self, chunks):
        import dask

        self.npartitions = len(chunks)
        self._parts = [dask.delayed(c) for c in chunks]

    def to_delayed(self):
        return list(self._parts)


def _forms(d, client):
    ch = _chunks(d)
    assert len(ch) >= 3 and len({len(c) for c in ch}) == len(ch)
    yield "list", ch, None
    yield "list+dask", ch, client
    yield "dask frame", FakeDaskFrame(ch), None


@pytest.mark.parametrize("s_d_denom", ["pooled", "treated", "control", "all", "weighted"])
def test_balance_chunked_equals_col_w_functions(cohort, client, s_d_denom):
    covs = ["age", "days", "sex"]
    X = cohort[covs].to_numpy(dtype=float)
    X[::37, 0] = np.nan  # missing values left out column by column
    d = cohort.assign(age=X[:, 0])
    t = d["trt"].to_numpy()
    bv = [False, False, True]
    for name, ch, cl in _forms(d, client):
        got = balance_chunked(ch, covs, "trt", "w", s_weights="sw", s_d_denom=s_d_denom,
                              client=cl)
        assert list(got["Type"]) == ["Contin.", "Contin.", "Binary"], name
        for suf, w in (("Un", None), ("Adj", d["w"].to_numpy())):
            ww = d["sw"].to_numpy() * (1 if w is None else w)
            for g in (0, 1):
                np.testing.assert_allclose(got[f"M.{g}.{suf}"], col_w_mean(X[t == g], ww[t == g]),
                                           rtol=RTOL, err_msg=name)
            m0, m1 = got[f"M.0.{suf}"], got[f"M.1.{suf}"]
            smd = col_w_smd(X, t, w, std=True, s_d_denom=s_d_denom, s_weights=d["sw"],
                            bin_vars=bv)
            _assert_diff_close(got[f"SMD.{suf}"], smd, m0, m1, name)
            raw = col_w_smd(X, t, w, std=[True, True, False], s_d_denom=s_d_denom,
                            s_weights=d["sw"], bin_vars=bv)
            _assert_diff_close(got[f"Diff.{suf}"], raw, m0, m1, name)
            vr = col_w_vr(X, t, w, s_weights=d["sw"], bin_vars=bv)
            np.testing.assert_allclose(got[f"V.Ratio.{suf}"][:2], vr[:2], rtol=RTOL,
                                       err_msg=name)
            assert np.isnan(got[f"V.Ratio.{suf}"].iloc[2])


def test_balance_chunked_unweighted_and_bad_input(cohort):
    ch = _chunks(cohort)
    got = balance_chunked(ch, ["age", "sex"], "trt")
    assert not any(c.endswith(".Adj") for c in got.columns)
    X, t = cohort[["age", "sex"]].to_numpy(dtype=float), cohort["trt"].to_numpy()
    np.testing.assert_allclose(got["SMD.Un"], col_w_smd(X, t, bin_vars=[False, True]),
                               rtol=RTOL)
    with pytest.raises(ValueError, match="column 'nope'"):
        balance_chunked(ch, ["nope"], "trt")
    with pytest.raises(ValueError, match="treatment column 'age'"):
        balance_chunked(ch, ["sex"], "age")
    with pytest.raises(ValueError, match="s_d_denom"):
        balance_chunked(ch, ["sex"], "trt", s_d_denom="x")
    with pytest.raises(TypeError, match="list of pandas"):
        balance_chunked(cohort, ["sex"], "trt")
    bad = [c.copy() for c in ch]
    bad[2].loc[:, "w"] = -1.0
    with pytest.raises(ValueError, match=r"chunk 3: weights column 'w'"):
        balance_chunked(bad, ["sex"], "trt", "w")


@pytest.mark.parametrize("weighted", [False, True])
def test_table_one_chunked_equals_table_one(cohort, client, weighted):
    vars = ["age", "days", "sex", "stage", "region"]
    ref = table_one(cohort, vars, "trt", weights="w" if weighted else None,
                    labels={"age": "Age"})
    for name, ch, cl in _forms(cohort, client):
        got = table_one_chunked(ch, vars, "trt", weights="w" if weighted else None,
                                labels={"age": "Age"}, client=cl)
        assert list(got.columns) == list(ref.columns), name
        for c in ref.columns:
            if not pd.api.types.is_float_dtype(ref[c]):
                assert list(got[c]) == list(ref[c]), (name, c)
            elif c.startswith("smd"):
                pre = "w" if c == "smd_weighted" else ""
                _assert_diff_close(got[c], ref[c], ref[f"{pre}mean_control"],
                                   ref[f"{pre}mean_treated"], f"{name} {c}")
            else:
                np.testing.assert_allclose(got[c].to_numpy(dtype=float),
                                           ref[c].to_numpy(dtype=float), rtol=RTOL,
                                           err_msg=f"{name} {c}")
    assert "IV" not in set(ref["level"])  # the unused category is left out, as table_one


def test_table_one_chunked_bad_input(cohort):
    ch = [c.copy() for c in _chunks(cohort)]
    ch[3].loc[ch[3].index[:4], "age"] = np.nan
    ch[1].loc[ch[1].index[:2], "age"] = np.nan
    with pytest.raises(ValueError, match=r"column 'age' has 6 missing value\(s\)"):
        table_one_chunked(ch, ["age"], "trt")
    with pytest.raises(ValueError, match="treatment column 'sex'|column 'region'"):
        table_one_chunked(_chunks(cohort), ["age"], "region")


@pytest.mark.parametrize("weights", [None, "w", "fw"])
def test_survfit_by_stratum_equals_survfit(cohort, client, weights):
    """KM per stratum (robust IJ variance with non-integer weights, Greenwood with integer
    ones), times tied by aeqSurv across strata."""
    ref = survfit("Surv(time, status) ~ region", cohort,
                  weights=None if weights is None else weights)
    for name, ch, cl in _forms(cohort, client):
        got = survfit_by_stratum(ch, "time", "status", "region", weights, client=cl)
        assert got.strata == ref.strata and got.robust == ref.robust, name
        pd.testing.assert_series_equal(got.n, ref.n, check_names=False)
        pd.testing.assert_frame_equal(got.table, ref.table, rtol=RTOL, check_exact=False)
        pd.testing.assert_frame_equal(got.median(), ref.median(), rtol=RTOL)
        pd.testing.assert_frame_equal(got.at_times([1, 3]), ref.at_times([1, 3]), rtol=RTOL)


def test_survfit_by_stratum_numeric_strata_labels(cohort):
    ref = survfit("Surv(time, status) ~ trt", cohort, weights="w")
    got = survfit_by_stratum(_chunks(cohort), "time", "status", "trt", "w")
    assert got.strata == ref.strata == ["trt=0", "trt=1"]
    pd.testing.assert_frame_equal(got.table, ref.table, rtol=RTOL, check_exact=False)
    with pytest.raises(ValueError, match="column 'nope'"):
        survfit_by_stratum(_chunks(cohort), "time", "nope", "trt")


def test_a_real_dask_dataframe(cohort, client):
    dd = pytest.importorskip("dask.dataframe")
    import dask

    ch = _chunks(cohort)
    ddf = dd.from_delayed([dask.delayed(c) for c in ch], meta=ch[0].iloc[:0])
    assert ddf.npartitions == len(SIZES)
    vars = ["age", "days", "sex", "stage", "region"]
    ref = table_one(cohort, vars, "trt", weights="w")
    for cl in (None, client):
        got = table_one_chunked(ddf, vars, "trt", weights="w", client=cl)
        assert list(got["level"]) == list(ref["level"])
        np.testing.assert_allclose(got["wmean_treated"], ref["wmean_treated"], rtol=RTOL)
        np.testing.assert_allclose(got["sd_control"], ref["sd_control"], rtol=RTOL)
        b = balance_chunked(ddf, ["age", "sex"], "trt", "w", client=cl)
        np.testing.assert_allclose(
            b["SMD.Adj"], col_w_smd(cohort[["age", "sex"]], cohort["trt"], cohort["w"],
                                    bin_vars=[False, True]), rtol=RTOL)
        km = survfit_by_stratum(ddf, "time", "status", "region", "w", client=cl)
        pd.testing.assert_frame_equal(
            km.table, survfit("Surv(time, status) ~ region", cohort, weights="w").table,
            rtol=RTOL, check_exact=False)
