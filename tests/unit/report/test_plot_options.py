"""Every public plot function takes ``labels``, ``palette`` and ``ax`` (``love_plot`` also
``var_names``): labels reach the legend / ticks, colours reach the artists, and with ``ax`` the
function draws into the caller's Axes and returns it (no new figure)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402

from carts_iptw import (  # noqa: E402
    bal_tab,
    coxph,
    cuminc_plot,
    forest_plot,
    km_plot,
    load_dataset,
    love_plot,
    overlap_plot,
    subgroup_effects,
    survfit,
    weightit,
)

LALONDE = "treat ~ age + educ + race + married + nodegree + re74 + re75"


def _surv_data(n=120, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 2, n)
    t = np.ceil(rng.exponential(np.exp(-0.5 * x)) * 8) / 8
    e = (rng.uniform(size=n) < 0.75).astype(int)
    code = e * (1 + (rng.uniform(size=n) < 0.3))
    return pd.DataFrame({"time": t, "status": e, "x": x, "w": rng.uniform(0.3, 3, n),
                         "z": rng.normal(size=n),
                         "st": pd.Categorical.from_codes(code, ["censor", "event", "death"])})


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def lal():
    return load_dataset("lalonde")


def _legend(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


def _line_colors(ax):
    return [to_rgba(ln.get_color()) for ln in ax.get_lines() if ln.get_label()[:1] != "_"]


def test_km_plot_labels_palette_ax():
    d = _surv_data()
    f = survfit("Surv(time, status) ~ x", d, weights="w")
    fig = km_plot(f, labels={"x=0": "no drug", "x=1": "drug"}, palette=["#111111", "#aa0000"])
    ax = fig.axes[0]
    assert _legend(ax) == ["no drug", "drug"]
    assert _line_colors(ax) == [to_rgba("#111111"), to_rgba("#aa0000")]
    risk = [t.get_text() for t in fig.axes[1].get_yticklabels()]
    assert risk == ["drug", "no drug"]  # the risk table uses the labels too
    fig2, mine = plt.subplots()
    out = km_plot(f, labels=["A", "B"], palette={"x=1": "green"}, ax=mine)
    assert out is mine and len(fig2.axes) == 1
    assert _legend(mine) == ["A", "B"]
    assert _line_colors(mine)[1] == to_rgba("green")
    texts = [t.get_text() for t in mine.texts]
    assert "A" in texts and "B" in texts and any(t.startswith("Number at risk") for t in texts)
    out = km_plot(f, ax=plt.subplots()[1], risk_table=False)
    assert not any(t.get_text().startswith("Number") for t in out.texts)


def test_cuminc_plot_labels_palette_ax():
    d = _surv_data(seed=3)
    ms = survfit("Surv(time, st) ~ x", d, weights="w")
    fig, mine = plt.subplots()
    out = cuminc_plot(ms, "event", labels=["control", "treated"], palette=["red", "blue"],
                      ax=mine)
    assert out is mine and len(fig.axes) == 1
    assert _legend(mine) == ["control", "treated"]
    assert _line_colors(mine) == [to_rgba("red"), to_rgba("blue")]
    # the band colours follow the palette, and no band spans 0-1 before the first event
    tab = ms.cif("event")
    for coll, c in zip(mine.collections, ("red", "blue"), strict=True):
        assert np.allclose(coll.get_facecolor()[0][:3], to_rgba(c)[:3])
        verts = np.concatenate([p.vertices for p in coll.get_paths()])
        assert verts[:, 1].max() <= float(tab["upper"].max()) + 1e-12
    fig = cuminc_plot(ms, "event")
    assert _legend(fig.axes[0]) == list(ms.strata)


def test_forest_plot_labels_palette_ax():
    d = _surv_data(seed=5)
    c = coxph("Surv(time, status) ~ x + z", d, weights="w")
    fig, mine = plt.subplots()
    out = forest_plot(c, labels={"x": "drug", "z": "lab value"}, palette=["red", "blue"],
                      ax=mine)
    assert out is mine and len(fig.axes) == 1
    assert [t.get_text() for t in mine.get_yticklabels()] == ["drug", "lab value"]
    face = mine.collections[-1].get_facecolor()
    assert np.allclose(face[0], to_rgba("red")) and np.allclose(face[1], to_rgba("blue"))
    assert any("\u2013" in t.get_text() for t in mine.texts)  # CI with an en dash
    f2 = forest_plot([c, c], labels=["m1", "m2"])
    assert [t.get_text() for t in f2.axes[0].get_yticklabels()] == ["m1: x", "m1: z", "m2: x",
                                                                    "m2: z"]
    df = pd.DataFrame({"hr": [1.5, 0.8], "lower": [1.1, 0.5], "upper": [2.0, 1.2]},
                      index=["a", "b"])
    f3 = forest_plot(df, labels=["first", "second"])
    assert [t.get_text() for t in f3.axes[0].get_yticklabels()] == ["first", "second"]
    with pytest.raises(ValueError, match="labels has 1 entries for 2 fit"):
        forest_plot([c, c], labels=["m1"])


def test_love_plot_labels_palette_ax_var_names(lal):
    W = weightit(LALONDE, lal, estimand="ATT")
    b = bal_tab(W, binary="std")
    fig, mine = plt.subplots()
    out = love_plot(b, labels=["Before", "After"], palette={"Adj": "black"}, ax=mine,
                    var_names={"age": "Age, years", "race": "Race"})
    assert out is mine and len(fig.axes) == 1
    assert _legend(mine) == ["Before", "After"]
    assert np.allclose(mine.collections[1].get_facecolor()[0], to_rgba("black"))
    ticks = [t.get_text() for t in mine.get_yticklabels()]
    assert "Age, years" in ticks and "Race: black" in ticks and "educ" in ticks
    f = love_plot(b, labels={"Un": "raw"})
    assert _legend(f.axes[0]) == ["raw", "Adjusted"]


def test_overlap_plot_labels_palette_ax(lal):
    W = weightit(LALONDE, lal, estimand="ATT")
    fig, axes = plt.subplots(1, 2)
    out = overlap_plot(W, labels=["no training", "training"], palette=["grey", "purple"],
                       ax=axes)
    assert out is axes and len(fig.axes) == 2
    assert _legend(axes[1]) == ["training", "no training"]
    assert np.allclose(axes[0].patches[0].get_facecolor()[:3], to_rgba("purple")[:3])
    fig, one = plt.subplots()
    assert overlap_plot(W, ax=one, which="adjusted") is one
    assert one.get_title() == "Adjusted Sample"
    with pytest.raises(ValueError, match="1 Axes for 2 panel"):
        overlap_plot(W, ax=one)
    with pytest.raises(ValueError, match="which must be"):
        overlap_plot(W, which="none")
    assert len(overlap_plot(W, which="unadjusted").axes) == 1


def test_subgroup_plot_labels_palette_ax(lal):
    d = lal.assign(w=weightit("treat ~ age + educ + race", lal).weights,
                   employed=(lal["re78"] > 0).astype(int))
    r = subgroup_effects("employed ~ treat", d, "treat", "married", weights="w")
    fig, mine = plt.subplots()
    out = r.plot(labels=["single", "married"], palette="red", ax=mine)
    assert out is mine
    ticks = sorted(t.get_text() for t in mine.get_yticklabels())
    assert ticks[0].startswith("married (n = ") and ticks[1].startswith("single (n = ")


@pytest.mark.parametrize("bad, err, msg", [
    ({"labels": ["only one"]}, ValueError, "labels has 1 entries for 2 group"),
    ({"labels": {"x=9": "?"}}, ValueError, "name no group"),
    ({"labels": "AB"}, TypeError, "labels must be"),
    ({"palette": ["red"]}, ValueError, "palette has 1 colour"),
    ({"palette": ["red", "notacolour"]}, ValueError, "not matplotlib colours"),
    ({"ax": "axes"}, TypeError, "ax must be a matplotlib Axes"),
])
def test_plot_options_bad_input(bad, err, msg):
    f = survfit("Surv(time, status) ~ x", _surv_data(), weights="w")
    with pytest.raises(err, match=msg):
        km_plot(f, **bad)
    ms = survfit("Surv(time, st) ~ x", _surv_data(seed=3), weights="w")
    with pytest.raises(err, match=msg):
        cuminc_plot(ms, "event", **bad)
