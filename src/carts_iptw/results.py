"""One results contract for every object the package returns.

Three kinds of result, as in R:

- **Models and estimates** (:class:`Estimates`, :class:`ModelResults`): ``glm``, ``svyglm``,
  ``glm_robust``, ``glm_weightit``, ``logistf``, ``coxph``, ``svycoxph``, ``finegray_coxph``,
  ``svymean``, ``svytotal``. Attributes ``coef``, ``se``, ``vcov``; models add ``statistic``,
  ``p_values`` and ``df`` (the reference distribution's degrees of freedom, ``inf`` for a normal
  reference). Methods ``confint(level=0.95)`` (a DataFrame with R's percent labels ``"2.5 %"``,
  ``"97.5 %"``), ``coef_table()`` (R's ``coef(summary(fit))``) and ``tidy()``.
- **Tests** (:class:`TestResult`): ``wilcox_test``, ``chisq_test``, ``fisher_test``,
  ``svychisq``, ``svyttest``, ``svyranktest``, ``survdiff``, ``svylogrank``: R's ``htest``
  fields ``statistic``, ``parameter``, ``p_value``, ``method``, ``estimate``, ``conf_int``.
- **Tables and curves** (:class:`TableResult`): ``survfit``, ``svykm``, cumulative incidence,
  ``bal_tab``, ``weightit`` and its summary, ``cox_zph``, ``svyquantile``: no ``confint()``;
  ``tidy()`` returns their table.

Every result has ``tidy()`` (a DataFrame; for models broom's columns in snake_case: ``term``,
``estimate``, ``std_error``, ``statistic``, ``p_value``, ``conf_low``, ``conf_high``, plus
``exp_estimate``, ``exp_conf_low``, ``exp_conf_high`` where a ratio scale applies), ``summary()``
(a :class:`Summary` whose ``str()`` is R's printout, 4 significant digits as R's default
``digits = max(3, getOption("digits") - 3)``), a ``repr`` that reads like R's ``print``, and
``_repr_html_`` for notebooks. ``docs/results.md`` has the table of which class offers what.
"""

from __future__ import annotations

import html
import math
import warnings
from collections.abc import Iterable

import numpy as np
import pandas as pd

from carts_iptw.families import CartsIptwDeprecationWarning

SIGNIF_LEGEND = "Signif. codes:  0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1"


# ------------------------------------------------------------------------------ formatting


def ci_labels(level: float) -> tuple[str, str]:
    """R's interval column labels for ``level``: ``("2.5 %", "97.5 %")`` for 0.95.

    R (``confint.default``, ``confint.glm``, ``confint.svyglm``):
    ``paste(format(100 * a, trim = TRUE, scientific = FALSE, digits = 3), "%")`` with
    ``a = c((1 - level) / 2, 1 - (1 - level) / 2)``.
    """
    level = check_level(level)
    a = (1 - level) / 2
    lo, hi = format_vector([100 * a, 100 * (1 - a)], 3, scientific=False)
    return f"{lo.strip()} %", f"{hi.strip()} %"


def check_level(level) -> float:
    """A confidence level in (0, 1), or ``ValueError``."""
    try:
        v = float(level)
    except (TypeError, ValueError):
        raise TypeError("level must be a number in (0, 1)") from None
    if not 0 < v < 1:
        raise ValueError("level must be in (0, 1)")
    return v


def signif_stars(p: float) -> str:
    """R's ``symnum`` significance codes (``printCoefmat``'s legend)."""
    if p is None or not np.isfinite(p):
        return ""
    return "***" if p < 0.001 else "**" if p < 0.01 else "*" if p < 0.05 else "." if p < 0.1 else ""


def format_num(x, digits: int = 4) -> str:
    """One number as R's ``format(x, digits = digits)`` prints it (NA / Inf as R)."""
    return format_vector([x], digits)[0].strip()


def _sci_parts(x: float, digits: int) -> tuple[int, int]:
    """(significant digits needed, decimal exponent) of |x| rounded to ``digits`` digits."""
    if x == 0:
        return 1, 0
    mant, exp = f"{abs(x):.{digits - 1}e}".split("e")
    sig = len(mant.replace(".", "").rstrip("0")) or 1
    return sig, int(exp)


def format_vector(values, digits: int = 4, scientific: bool | None = None) -> list[str]:
    """R's ``format(x, digits = digits)`` of a numeric vector (``formatReal``).

    The fewest significant digits (at most ``digits``) that show every element to ``digits`` digits,
    one common number of decimals, fixed notation unless scientific is narrower; right-justified.
    """
    xs = [math.nan if v is None else float(v) for v in values]
    fin = [x for x in xs if math.isfinite(x)]
    if fin:
        parts = [_sci_parts(x, digits) for x in fin]
        neg = any(x < 0 for x in fin)
        rgt = max(max(0, sig - 1 - e) for sig, e in parts)
        left = max(max(1, e + 1) for _, e in parts)
        mxsig = max(sig for sig, _ in parts)
        mxe = max(abs(e) for _, e in parts)
        fixed_w = neg + left + (1 + rgt if rgt else 0)
        sci_w = neg + (mxsig + 1 if mxsig > 1 else 1) + (4 if mxe < 100 else 5)
        if scientific is False or (scientific is None and fixed_w <= sci_w):
            def fmt(x):
                return f"{x:.{rgt}f}"
        else:
            def fmt(x):
                m, e = f"{x:.{mxsig - 1}e}".split("e")
                return f"{m}e{int(e):+03d}"
    out = []
    for x in xs:
        if math.isnan(x):
            out.append("NA")
        elif math.isinf(x):
            out.append("Inf" if x > 0 else "-Inf")
        else:
            out.append(fmt(x))
    w = max((len(o) for o in out), default=0)
    return [o.rjust(w) for o in out]


def format_pval(p, digits: int = 4, eps: float = 2.220446049250313e-16) -> str:
    """R's ``format.pval(p, digits)`` of one p-value: ``"<2e-16"`` below machine epsilon."""
    return format_pvals([p], digits, eps)[0].strip()


def format_pvals(values, digits: int = 3, eps: float = 2.220446049250313e-16) -> list[str]:
    """R's ``format.pval`` (R 4.2) of a vector.

    P-values with exponent >= -3 (or -4 when ``digits > 1``) are formatted together, the smaller
    ones together, and those below ``eps`` print as ``"< 2e-16"`` (``"<2e-16"`` when only one digit
    fits), NA as ``"NA"``.
    """
    ps = [math.nan if v is None else float(v) for v in values]
    out = ["NA"] * len(ps)
    ok = [i for i, p in enumerate(ps) if not math.isnan(p)]
    tiny = [i for i in ok if ps[i] < eps]
    rest = [i for i in ok if ps[i] >= eps]

    def expo(p):
        return math.floor(math.log10(p if p > 0 else 1e-50))

    fix = [i for i in rest if expo(ps[i]) >= -3 or (expo(ps[i]) == -4 and digits > 1)]
    small = [i for i in rest if i not in fix]
    for grp in (fix, small):
        if grp:
            for i, t in zip(grp, format_vector([ps[i] for i in grp], digits), strict=True):
                out[i] = t.strip()
    if tiny:
        d = max(1, digits - 2)
        if rest:
            nc = max(len(out[i]) for i in rest)
            if d > 1 and d + 6 > nc:
                d = max(1, nc - 7)
            sep = "" if d == 1 and nc <= 6 else " "
        else:
            sep = "" if d == 1 else " "
        for i in tiny:
            out[i] = "<" + sep + format_num(eps, d)
    return out


def matrix_text(table: pd.DataFrame) -> str:
    """A table of strings as R's ``print.default`` of a character matrix.

    ``quote = FALSE``, ``right = TRUE``: row names left-justified, each column right-justified
    under its name, one space between columns.
    """
    rows = [str(i) for i in table.index]
    wr = max((len(r) for r in rows), default=0)
    cols = []
    for c in table.columns:
        vals = [str(v) for v in table[c]]
        w = max([len(str(c)), *(len(v) for v in vals)])
        cols.append([str(c).rjust(w) if str(c) else " " * w] + [v.rjust(w) if str(c) else v.ljust(w) for v in vals])
    lines = []
    for k, name in enumerate(["", *rows]):
        lines.append(" ".join([name.ljust(wr), *(col[k] for col in cols)]).rstrip())
    return "\n".join(lines)


def print_coefmat(table: pd.DataFrame, digits: int = 4, stars: bool = True,
                  estimate_columns: int | None = None) -> str:
    """R's ``printCoefmat``.

    The estimate/SE columns (the first two, or ``estimate_columns``) rounded together to ``digits``
    significant digits of the smallest, a test-statistic column to 3 decimals (``dig.tst``), the
    p-value column (the last, named ``Pr(...)`` or ``p``) by ``format.pval`` with 3 digits, and
    significance stars with their legend.
    """
    cols = list(table.columns)
    pcol = cols[-1] if cols and (str(cols[-1]).startswith("Pr(") or cols[-1] == "p") else None
    ncs = estimate_columns if estimate_columns is not None else min(2, len(cols))
    cs = cols[:ncs]
    out = pd.DataFrame(index=[str(i) for i in table.index])
    if cs:
        m = table[cs].to_numpy(dtype=float)
        acs = np.abs(m[np.isfinite(m) & (m != 0)])
        dmin = 1 + math.floor(math.log10(acs.min())) if acs.size else 1
        m = np.round(m, max(1, digits - dmin))
        flat = format_vector(m.ravel(order="F"), digits)
        for k, c in enumerate(cs):
            out[c] = flat[k * len(m):(k + 1) * len(m)]
    for c in cols[ncs:]:
        v = table[c].to_numpy(dtype=float)
        if c == pcol:
            out[c] = format_pvals(v, max(1, min(5, digits - 1)))
        else:
            out[c] = format_vector(np.round(v, max(1, min(5, digits - 1))), digits)
    if stars and pcol is not None:
        out[""] = [signif_stars(v) for v in table[pcol].to_numpy(dtype=float)]
    text = matrix_text(out)
    if stars and pcol is not None:
        text += "\n---\n" + SIGNIF_LEGEND
    return text


# ------------------------------------------------------------------------------ summary object


class Summary:
    """What ``summary()`` returns: ``str()`` is R's printout; tables are attributes.

    ``Summary(text, coefficients=df, ...)``: each keyword becomes an attribute (e.g. the
    coefficient table as a DataFrame), so the numbers stay usable after printing.
    """

    def __init__(self, text: str, **tables):
        self._text = text
        self._names = tuple(tables)
        for k, v in tables.items():
            setattr(self, k, v)

    def __str__(self) -> str:
        """R's printout."""
        return self._text

    def __repr__(self) -> str:
        """R's printout."""
        return str(self)

    def __contains__(self, text: str) -> bool:  # ``"Wald test" in fit.summary()``, as for a str
        """Whether ``text`` occurs in the printout (as for a str)."""
        return text in str(self)

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(str(self))}</pre>"


# ------------------------------------------------------------------------------ deprecation


class deprecated_alias:  # noqa: N801 - a descriptor used like a decorator
    """``old = deprecated_alias("new")``.

    The old attribute name still works for one release, with a :class:`CartsIptwDeprecationWarning`
    naming the new one.
    """

    def __init__(self, new: str, since: str = "0.2.0"):
        self.new = new
        self.since = since

    def __set_name__(self, owner, name):
        """Record the old attribute name."""
        self.old = name

    def __get__(self, obj, owner=None):
        """The new attribute's value, with a :class:`CartsIptwDeprecationWarning`."""
        if obj is None:
            return self
        warnings.warn(f"{type(obj).__name__}.{self.old} is deprecated since {self.since}; use "
                      f".{self.new}", CartsIptwDeprecationWarning, stacklevel=2)
        return getattr(obj, self.new)


class CallableFrame(pd.DataFrame):
    """A DataFrame attribute that was a method.

    ``x.table()`` still works for one release, with a :class:`CartsIptwDeprecationWarning`;
    ``x.table`` is the DataFrame.
    """

    @property
    def _constructor(self):
        return pd.DataFrame

    def __call__(self) -> pd.DataFrame:
        """The DataFrame, with a :class:`CartsIptwDeprecationWarning` (use the attribute)."""
        warnings.warn("this table is now an attribute: use .table, not .table()",
                      CartsIptwDeprecationWarning, stacklevel=2)
        return pd.DataFrame(self)


def renamed_keyword(kwargs: dict, old: str, new: str, value, default=None, func: str = ""):
    """The value of keyword ``new``, taking a deprecated ``old`` spelling from ``kwargs``."""
    if old in kwargs:
        warnings.warn(f"{func}({old}=...) is deprecated; use {new}=", CartsIptwDeprecationWarning,
                      stacklevel=3)
        if value is not default:
            raise TypeError(f"{func}() got both {old}= and {new}=")
        value = kwargs.pop(old)
    if kwargs:
        raise TypeError(f"{func}() got unexpected keyword argument(s) {sorted(kwargs)}")
    return value


# ------------------------------------------------------------------------------ base classes


class Result:
    """Base of every result: ``tidy()``, ``summary()``, ``repr`` and ``_repr_html_``."""

    def tidy(self) -> pd.DataFrame:  # pragma: no cover - every subclass defines it
        """The result as a tidy DataFrame (one row per term, test or time point)."""
        raise NotImplementedError

    def summary(self) -> Summary:
        """R's ``summary()`` printout (``str()``) with its tables as attributes."""
        return Summary(self._print_text())

    def _print_text(self) -> str:
        """R's ``print()`` of the object; ``repr`` shows it."""
        return self.tidy().to_string()

    def __repr__(self) -> str:
        """R's ``print`` of the result."""
        return self._print_text()

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(self._print_text())}</pre>"


class Estimates(Result):
    """Estimates with a covariance.

    ``coef`` (Series), ``vcov`` (DataFrame), ``se``, ``confint(level)``, ``tidy()``.

    Subclasses provide ``coef`` and ``vcov``; ``df`` (the reference distribution's degrees of
    freedom) is ``inf`` (normal) unless they override it.
    """

    #: name of the ratio scale (``"odds ratio"``, ``"hazard ratio"``, ...) where ``exp(coef)``
    #: has one; None otherwise. Drives ``tidy()``'s ``exp_*`` columns.
    ratio_scale: str | None = None

    @property
    def df(self) -> float:
        """Degrees of freedom of the reference distribution (``inf``: normal)."""
        return math.inf

    @property
    def se(self) -> pd.Series:
        """Standard errors ``sqrt(diag(vcov))``."""
        v = self.vcov.to_numpy()
        d = np.diag(v) if v.size else np.zeros(0)
        with np.errstate(invalid="ignore"):
            return pd.Series(np.sqrt(d), index=self.coef.index, name="Std. Error")

    def _quantile(self, level: float) -> float:
        from scipy import stats

        a = (1 - check_level(level)) / 2
        if math.isinf(self.df):
            return float(stats.norm.ppf(1 - a))
        if not self.df > 0:
            return math.nan
        return float(stats.t.ppf(1 - a, self.df))

    def _rows(self, parm) -> list[str]:
        if parm is None:
            return list(self.coef.index)
        parm = [parm] if isinstance(parm, str) else list(parm)
        bad = [p for p in parm if p not in self.coef.index]
        if bad:
            raise ValueError(f"unknown coefficient(s): {len(bad)} of the {len(parm)} name(s) "
                             f"given are not among the model's {len(self.coef)} coefficients "
                             "(see .coef.index)")
        return parm

    def confint(self, level: float = 0.95, parm: Iterable[str] | str | None = None
                ) -> pd.DataFrame:
        """Wald interval ``coef -/+ q * se``.

        ``q`` from the reference distribution (t with ``df`` degrees of freedom, normal when
        ``df`` is infinite); R's ``confint.default`` / ``confint.svyglm`` /
        ``confint.coxph``.

        Columns are R's ``"2.5 %"``, ``"97.5 %"``; ``parm`` picks rows. ``ValueError`` for ``level``
        outside (0, 1) or an unknown name.
        """
        lo_lab, hi_lab = ci_labels(level)
        q = self._quantile(level)
        rows = self._rows(parm)
        c, s = self.coef[rows], self.se[rows]
        return pd.DataFrame({lo_lab: c - q * s, hi_lab: c + q * s})

    def tidy(self, conf_level: float = 0.95) -> pd.DataFrame:
        """Broom's ``tidy(fit, conf.int = TRUE)`` in snake_case.

        ``term``, ``estimate``, ``std_error``, ``conf_low``, ``conf_high`` (plus ``statistic`` and
        ``p_value`` for models, and ``exp_estimate``, ``exp_conf_low``, ``exp_conf_high`` on a ratio
        scale).
        """
        ci = self.confint(conf_level)
        out = pd.DataFrame({"term": list(self.coef.index),
                            "estimate": self.coef.to_numpy(dtype=float),
                            "std_error": self.se.to_numpy(dtype=float)})
        out = self._tidy_tests(out)
        out["conf_low"] = ci.iloc[:, 0].to_numpy(dtype=float)
        out["conf_high"] = ci.iloc[:, 1].to_numpy(dtype=float)
        if self.ratio_scale is not None:
            out["exp_estimate"] = np.exp(out["estimate"])
            out["exp_conf_low"] = np.exp(out["conf_low"])
            out["exp_conf_high"] = np.exp(out["conf_high"])
        return out

    def _tidy_tests(self, out: pd.DataFrame) -> pd.DataFrame:
        return out

    def coef_table(self) -> pd.DataFrame:
        """Estimate and standard error (models add the test columns: R's ``coef(summary(fit))``)."""
        return pd.DataFrame({"Estimate": self.coef, "Std. Error": self.se})

    def _print_text(self) -> str:
        return print_coefmat(self.coef_table(), stars=False)


class ModelResults(Estimates):
    """A fitted model: :class:`Estimates` plus Wald ``statistic`` and ``p_values``.

    On the reference distribution (t with ``df`` or normal).
    """

    @property
    def statistic_name(self) -> str:
        """R's column name: ``"z value"`` (normal reference) or ``"t value"``."""
        return "z value" if math.isinf(self.df) else "t value"

    @property
    def p_value_name(self) -> str:
        """R's column name: ``"Pr(>|z|)"`` or ``"Pr(>|t|)"``."""
        return "Pr(>|z|)" if math.isinf(self.df) else "Pr(>|t|)"

    @property
    def statistic(self) -> pd.Series:
        """Wald statistic ``coef / se``."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return pd.Series(self.coef.to_numpy(dtype=float) / self.se.to_numpy(dtype=float),
                             index=self.coef.index, name=self.statistic_name)

    @property
    def p_values(self) -> pd.Series:
        """Two-sided p-values of ``statistic`` on the reference distribution."""
        from scipy import stats

        t = np.abs(self.statistic.to_numpy(dtype=float))
        if math.isinf(self.df):
            p = 2 * stats.norm.sf(t)
        elif self.df > 0:
            p = 2 * stats.t.sf(t, self.df)
        else:
            p = np.full(len(t), np.nan)
        return pd.Series(p, index=self.coef.index, name=self.p_value_name)

    pvalues = deprecated_alias("p_values")
    tvalues = deprecated_alias("statistic")

    def _tidy_tests(self, out: pd.DataFrame) -> pd.DataFrame:
        out["statistic"] = self.statistic.to_numpy(dtype=float)
        out["p_value"] = self.p_values.to_numpy(dtype=float)
        return out

    def coef_table(self) -> pd.DataFrame:
        """R's ``coef(summary(fit))``: Estimate, Std.

        Error, t (or z) value, Pr(>|t|) (or Pr(>|z|)).
        """
        return pd.DataFrame({"Estimate": self.coef, "Std. Error": self.se,
                             self.statistic_name: self.statistic,
                             self.p_value_name: self.p_values})

    def _print_text(self) -> str:
        return print_coefmat(self.coef_table())


class TestResult(Result):
    """A hypothesis test, R's ``htest``.

    ``statistic``, ``parameter`` (dict, e.g. ``{"df": 3}``), ``p_value``, ``method``, ``estimate``,
    ``conf_int`` (lower, upper), ``alternative``.

    Subclasses set those attributes (or properties).
    """

    statistic_name: str = "statistic"
    estimate: float | None = None
    estimate_name: str = ""
    conf_int: tuple[float, float] | None = None
    conf_level: float = 0.95
    data_name: str = ""
    alternative: str = "two.sided"

    pvalue = deprecated_alias("p_value")

    def tidy(self) -> pd.DataFrame:
        """Broom's ``tidy(htest)``.

        One row with ``estimate``, ``statistic``, ``p_value``, ``parameter``, ``conf_low``,
        ``conf_high``, ``method``, ``alternative``.
        """
        par = dict(self.parameter or {})
        row = {"estimate": np.nan if self.estimate is None else float(self.estimate),
               "statistic": np.nan if self.statistic is None else float(self.statistic),
               "p_value": float(self.p_value),
               "parameter": float(next(iter(par.values()))) if len(par) == 1 else np.nan}
        for k, v in par.items() if len(par) > 1 else ():
            row[f"parameter_{k}"] = float(v)
        ci = self.conf_int
        row["conf_low"] = np.nan if ci is None else float(ci[0])
        row["conf_high"] = np.nan if ci is None else float(ci[1])
        row["method"] = self.method
        row["alternative"] = self.alternative
        return pd.DataFrame([row])

    def _print_text(self) -> str:
        lines = ["", f"\t{self.method}", ""]
        if self.data_name:
            lines += [f"data:  {self.data_name}"]
        parts = []
        if self.statistic is not None and np.isfinite(self.statistic):
            parts.append(f"{self.statistic_name} = {format_num(self.statistic, 5)}")
        for k, v in (self.parameter or {}).items():
            parts.append(f"{k} = {format_num(v, 5)}")
        p = format_pval(self.p_value, 4)
        parts.append(f"p-value {p}" if p.startswith("<") else f"p-value = {p}")
        lines.append(", ".join(parts))
        if self.conf_int is not None:
            lines += [f"{format_num(100 * self.conf_level, 4)} percent confidence interval:",
                      f" {format_num(self.conf_int[0], 7)} {format_num(self.conf_int[1], 7)}"]
        if self.estimate is not None:
            lines += ["sample estimates:", f"{self.estimate_name}", f"{format_num(self.estimate, 7)}"]
        return "\n".join(lines) + "\n"

    def summary(self) -> Summary:
        """R's ``print(htest)`` text; ``.table`` is ``tidy()``."""
        return Summary(self._print_text(), table=self.tidy())


class TableResult(Result):
    """A table or curve (not a model): ``tidy()`` is its table; no ``confint()``."""

    def summary(self) -> Summary:
        """The printout with ``.table`` = ``tidy()``."""
        return Summary(self._print_text(), table=self.tidy())
