"""The spec's R-expression evaluator (carts_iptw.study.expr) against R's own eval(parse()):
the value of each expression per row, with R's NA rules, and the rows subset() keeps."""

from __future__ import annotations

import numpy as np
import pandas as pd

from carts_iptw.parity.registry import ParityCase, register

EXPRS = [
    "x > 1 & b == 0", "x > 1 & b == 1", "x > 1 | b == 1", "x > 1 | b == 0", "!(x > 1)",
    "(x + 1) * 2 - x %% 2", "-2^2 + x", "x %/% 2", "x / 2 >= 1 & !is.na(x)",
    'g %in% c("a", "b")', 'g == "a"', 's != "u"', 's %in% c("u", NA)', "x %in% c(1, 4)",
    'd >= as.Date("2018-06-01")', 'd < "2019-01-01" | is.na(d)', "is.na(x) | is.na(s)",
    "ifelse(b == 1, x, -x)", "pmax(x, y)", "pmin(x, y, 2)", "as.integer(x >= 2)",
    "abs(y - x)", "x == 1 | x == 2 & b == 0", "!is.na(y) & y > 0 | b == 1", "b & x > 1",
]


#: the expressions whose value is a number, not a condition (no subset() row list)
NUMERIC = {"(x + 1) * 2 - x %% 2", "-2^2 + x", "x %/% 2", "ifelse(b == 1, x, -x)",
           "pmax(x, y)", "pmin(x, y, 2)", "as.integer(x >= 2)", "abs(y - x)"}


def expr_data() -> pd.DataFrame:
    rng = np.random.default_rng(12)
    n = 60
    x = rng.integers(0, 6, n).astype(float)
    x[rng.random(n) < 0.15] = np.nan
    y = rng.normal(1, 2, n).round(2)
    y[rng.random(n) < 0.15] = np.nan
    g = pd.Categorical(rng.choice(["a", "b", "c"], n), categories=["c", "b", "a"])
    g[rng.random(n) < 0.1] = np.nan
    s = pd.Series(rng.choice(["u", "v", "w"], n), dtype=object)
    s[rng.random(n) < 0.1] = None
    d = pd.Series(pd.to_datetime("2017-01-01") + pd.to_timedelta(rng.integers(0, 1200, n), "D"))
    d[rng.random(n) < 0.1] = pd.NaT
    return pd.DataFrame({"x": x, "y": y, "g": g, "s": s, "b": rng.integers(0, 2, n),
                         "d": d.dt.strftime("%Y-%m-%d")})


def _python(data: pd.DataFrame, args) -> dict:
    from carts_iptw.study.expr import parse

    df = data.copy()
    df["d"] = pd.to_datetime(df["d"], format="%Y-%m-%d")
    out = {}
    for i, e in enumerate(args["exprs"], 1):
        r = parse(e)
        v = r.values(df)
        out[f"e{i:02d}"] = v.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
        if pd.api.types.is_bool_dtype(v):
            out[f"subset{i:02d}"] = np.flatnonzero(r.mask(df)).astype(float)
    return out


register(ParityCase(
    name="expr.r_semantics",
    function="evaluate",
    r_twin="base::eval(parse(text = expr), data) and subset() (r_reference/expr.R)",
    dataset=expr_data,
    r_file="expr.R",
    r_function="ref_expr",
    args={"exprs": EXPRS},
    python=_python,
    rtol=1e-12,
    exact=tuple(f"subset{i:02d}" for i, e in enumerate(EXPRS, 1) if e not in NUMERIC),
    description="the spec's R expressions (NA logic, %in%, factors, dates, arithmetic, "
                "ifelse/pmin/pmax) against R itself",
))
