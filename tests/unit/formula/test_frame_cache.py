"""FrameCache: frames shared by models of one data set equal the frames built one by one."""

import dataclasses
import warnings

import numpy as np
import pandas as pd
import pytest

from carts_iptw.design.svydesign import svydesign
from carts_iptw.design.svyglm import svyglm
from carts_iptw.effects.comparisons import prepare_comparisons
from carts_iptw.formula import model_frame
from carts_iptw.formula.cache import FrameCache
from carts_iptw.glm_model import glm


def _data(n=600, seed=5):
    rng = np.random.default_rng(seed)
    d = pd.DataFrame({
        "treat": rng.integers(0, 2, n),
        "age": rng.normal(60, 10, n).round(),
        "grp": pd.Categorical(rng.choice(["a", "b", "c"], n)),
        "z": rng.gamma(2.0, size=n),
    })
    eta = -1 + 0.6 * d["treat"] + 0.03 * (d["age"] - 60)
    d["y1"] = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(int)
    d["y2"] = rng.random(n) < 0.3
    d["y3"] = pd.Categorical(rng.choice(["no", "yes"], n))
    d["w"] = rng.uniform(0.5, 3, n)
    return d


def _same_frame(a, b):
    for f in dataclasses.fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
            assert (x is None) == (y is None), f.name
            if x is not None:
                assert np.array_equal(x, y), f.name
        elif isinstance(x, pd.Index):
            assert x.equals(y), f.name
        else:
            assert x == y, f.name


def test_cached_frames_equal_model_frame_and_share_the_design():
    d = _data()
    rhs = "treat + age + factor(grp) + offset(log(z)) + treat:age"
    cache = FrameCache()
    frames = [cache.model_frame(f"{y} ~ {rhs}", d) for y in ("y1", "y2", "y3", "y1")]
    for f, y in zip(frames, ("y1", "y2", "y3", "y1"), strict=True):
        _same_frame(f, model_frame(f"{y} ~ {rhs}", d))
    assert all(f.X is frames[0].X for f in frames)
    assert cache.hits == 3 and cache.misses == 1
    # another data object, another right-hand side: built anew
    d2 = d.copy()
    assert cache.model_frame(f"y1 ~ {rhs}", d2).X is not frames[0].X
    assert cache.model_frame("y1 ~ treat + age", d).X is not frames[0].X
    cache.clear()
    assert cache.model_frame(f"y2 ~ {rhs}", d).X is not frames[0].X


def test_response_on_the_right_or_a_missing_response_is_not_shared():
    d = _data()
    cache = FrameCache()
    cache.model_frame("y1 ~ treat + age", d)
    f = cache.model_frame("age ~ treat + age", d)  # R drops nothing here; built in full
    _same_frame(f, model_frame("age ~ treat + age", d))
    d["y4"] = d["y1"].astype(float)
    d.loc[3, "y4"] = np.nan
    with pytest.raises(ValueError, match="column 'y4' has 1 missing"):
        cache.model_frame("y4 ~ treat + age", d)


def test_svyglm_and_comparisons_with_frames_equal_the_uncached_numbers():
    d = _data()
    des = svydesign(d, weights="w")
    cache = FrameCache()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for y in ("y1", "y2", "y1"):
            f = f"{y} ~ treat + age + factor(grp)"
            a = svyglm(f, des, frames=cache)
            b = svyglm(f, des)
            assert np.array_equal(a.coef.to_numpy(), b.coef.to_numpy())
            assert np.array_equal(a.vcov.to_numpy(), b.vcov.to_numpy())
            pa = prepare_comparisons(a, "treat", newdata=d, frames=cache)
            pb = prepare_comparisons(b, "treat", newdata=d)
            for c in ("difference", "ratio", "oddsratio"):
                ta, tb = pa.contrast(c).tidy(), pb.contrast(c).tidy()
                pd.testing.assert_frame_equal(ta, tb)
            g1 = glm(f, d, family="quasibinomial", weights="w", frames=cache)
            g2 = glm(f, d, family="quasibinomial", weights="w")
            assert np.array_equal(g1.coef.to_numpy(), g2.coef.to_numpy())
    assert cache.hits > 0
