"""``model_frame(formula, data)``: R's model.frame + model.matrix with treatment contrasts."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .._validation import require_dataframe
from .contrasts import contr_poly, poly_suffixes
from .evaluate import Value, as_factor, column_names_used, evaluate, evaluate_variable
from .parser import Call, deparse, parse_formula
from .surv import SurvResponse, combine_strata, eval_cluster, eval_strata, eval_surv
from .terms import Terms, build_terms

__all__ = ["ModelFrame", "model_frame"]


@dataclass
class ModelFrame:
    """Result of :func:`model_frame` (see docs/architecture.md for the contract)."""

    formula: str
    y: np.ndarray | None
    X: np.ndarray
    column_names: list[str]
    term_labels: list[str]
    assign: list[int]
    intercept: bool
    offset: np.ndarray | None = None
    specials: dict[str, object] = field(default_factory=dict)
    surv: SurvResponse | None = None
    variables: list[str] = field(default_factory=list)
    response_name: str | None = None
    #: levels of the response when it is a factor (y is then 1 for any non-first level)
    y_levels: list[str] | None = None
    #: R's xlevels: {variable label: levels} for factor (and logical) variables of the terms
    xlevels: dict[str, list[str]] = field(default_factory=dict)
    #: parameters of poly()/ns()/bs() variables, to rebuild their basis on new data
    bases: dict[str, dict] = field(default_factory=dict)
    index: pd.Index | None = None
    #: labels of the variables of each term (term_labels order)
    term_variables: list[list[str]] = field(default_factory=list)

    @property
    def n(self) -> int:
        """Number of rows of the model matrix."""
        return self.X.shape[0]

    def describe(self, columns) -> str:
        """Model-matrix columns (by name) described for a message without any data value.

        For an error or warning message: a column built from a factor's levels
        (``racehispan``, ``mrnMRN100042``) is named by its term and position (``race
        (factor: column 2 of 2)``, ``mrn (factor: 58 of its 59 columns)``), never by the
        level; other columns keep their names (they come from the formula's text).

        A factor with more levels than half the rows adds "column 'mrn' has 60 levels for 60 rows
        (an identifier?)".
        """
        return describe_columns(self, columns)

    def identifier_hints(self, labels=None) -> list[str]:
        """Identifier warnings for factors with more levels than half the rows.

        "column 'x' has K levels for n rows (an identifier?)" for each factor variable of
        the terms (or of ``labels``) with more levels than half the rows.
        """
        out = []
        for v, lv in self.xlevels.items():
            if (labels is None or v in labels) and len(lv) > 2 and 2 * len(lv) > self.n:
                out.append(f"column '{v}' has {len(lv)} levels for {self.n} rows "
                           "(an identifier?)")
        return out

    def design(self) -> pd.DataFrame:
        """The model matrix as a DataFrame with R's column names."""
        return pd.DataFrame(self.X, columns=self.column_names, index=self.index)

    def __repr__(self) -> str:
        """One line: formula, n and column names."""
        return (
            f"<ModelFrame {self.formula!r}: n={self.n}, columns={self.column_names}>"
        )


def _is_coded_factor(mf: ModelFrame, label: str) -> bool:
    """A factor whose column names carry data levels (a logical's FALSE/TRUE do not)."""
    lv = mf.xlevels.get(label)
    return lv is not None and lv != ["FALSE", "TRUE"]


def describe_columns(mf: ModelFrame | None, columns) -> str:
    """See :meth:`ModelFrame.describe`; without a model frame the names are joined."""
    columns = [str(c) for c in columns]
    if mf is None or not mf.term_variables:
        return ", ".join(columns)
    pos = {c: j for j, c in enumerate(mf.column_names)}
    term_cols: dict[int, list[int]] = {}
    for j, a in enumerate(mf.assign):
        term_cols.setdefault(a, []).append(j)
    parts: list[str] = []
    groups: dict[int, list[int]] = {}  # factor term -> selected columns, in first-seen order
    order: list[object] = []
    for c in columns:
        j = pos.get(c)
        a = mf.assign[j] if j is not None else 0
        if j is None or a == 0 or not any(_is_coded_factor(mf, v) for v in mf.term_variables[a - 1]):
            order.append(c)
            continue
        if a not in groups:
            groups[a] = []
            order.append(a)
        groups[a].append(j)
    factor_vars: list[str] = []
    for item in order:
        if isinstance(item, str):
            parts.append(item)
            continue
        cols, all_cols = groups[item], term_cols[item]
        label = mf.term_labels[item - 1]
        factor_vars += [v for v in mf.term_variables[item - 1] if _is_coded_factor(mf, v)]
        if len(cols) == 1:
            parts.append(f"{label} (factor: column {all_cols.index(cols[0]) + 1} of "
                         f"{len(all_cols)})")
        else:
            parts.append(f"{label} (factor: {len(cols)} of its {len(all_cols)} columns)")
    text = ", ".join(parts)
    hints = mf.identifier_hints(factor_vars)
    return text + ("; " + "; ".join(hints) if hints else "")


def _check_variable(v: Value, label: str, n: int) -> Value:
    if v.is_scalar or len(v.values) != n:
        raise ValueError(f"variable '{label}' does not have one value per row")
    if v.kind in ("numeric", "matrix"):
        bad = ~np.isfinite(v.values)
        if bad.any():
            raise ValueError(f"variable '{label}' has {int(bad.sum())} non-finite value(s)")
    return v


def _as_model_variable(v: Value, label: str, levels: list[str] | None = None) -> Value:
    """Character -> factor, logical -> factor(FALSE, TRUE) as model.matrix does.

    Drop unused levels as glm's model.frame (drop.unused.levels = TRUE).

    With ``levels`` (new data for prediction, R's ``xlev``) the factor is coded with those levels
    and no check applies.
    """
    if v.kind == "matrix":
        return v
    if levels is not None:
        if v.kind == "numeric" and not levels:
            return v
        if v.kind == "numeric":
            v = as_factor(v)
        return as_factor(v, levels, f"variable '{label}' (new level(s) not in the fitted data)")
    if v.kind == "numeric":
        if np.ptp(v.values) == 0:
            raise ValueError(
                f"variable '{label}' is constant: it is aliased with the intercept "
                "(R would report an NA coefficient)"
            )
        return v
    f = as_factor(v)
    if v.kind == "logical" and len(f.levels) < 2:
        raise ValueError(
            f"variable '{label}' is constant (a single logical value): it is aliased with the "
            "intercept (R would report an NA coefficient)"
        )
    if len(f.levels) < 2:
        raise ValueError(
            f"variable '{label}' has a single level: contrasts need a factor with 2 or more "
            "levels (R: 'contrasts can be applied only to factors with 2 or more levels')"
        )
    return f


def _coding(terms: Terms, kinds: dict[int, Value]) -> list[dict[int, int]]:
    """R's TermCode: 1 = contrasts, 2 = indicator (full dummy) coding, per factor per term."""
    codes: list[dict[int, int]] = []
    sets = [frozenset(t) for t in terms.terms]
    for j, t in enumerate(terms.terms):
        c: dict[int, int] = {}
        for v in t:
            if kinds[v].kind != "factor":
                c[v] = 1
                continue
            rest = sets[j] - {v}
            if not rest or any(rest <= sets[k] for k in range(j)):
                c[v] = 1
            else:
                c[v] = 2
        codes.append(c)
    if not terms.intercept:
        done = False
        for j, t in enumerate(terms.terms):
            for v in t:  # t is in variable order
                if kinds[v].kind == "factor":
                    codes[j][v] = 2
                    done = True
                    break
            if done:
                break
    return codes


def check_columns(used: list[str], data: pd.DataFrame) -> None:
    """Raise for a column the formula reads that is unknown, duplicated or has missing values."""
    unknown = [c for c in used if c not in data.columns]
    if unknown:
        raise ValueError(
            f"unknown column{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(repr(u) for u in unknown)} in formula (not in data)"
        )
    dup = [c for c in used if int((data.columns == c).sum()) > 1]
    if dup:
        raise ValueError(f"column name(s) {dup} appear more than once in data")
    for c in used:
        k = int(pd.isna(data[c]).sum())
        if k:
            raise ValueError(
                f"column '{c}' has {k} missing value(s); remove or impute them first "
                "(R's na.omit would drop these rows silently)"
            )


def model_response(response, data: pd.DataFrame):
    """``(y, y_levels, surv, response_name)`` of a formula's left-hand side (None: none)."""
    y = None
    y_levels = None
    surv = None
    response_name = None
    if response is not None:
        response_name = deparse(response)
        if isinstance(response, Call) and response.func == "Surv":
            surv = eval_surv(response, data)
        else:
            v = _check_variable(evaluate(response, data), response_name, len(data))
            if v.kind == "numeric":
                y = v.values.astype(float)
            elif v.kind == "logical":
                y = v.values.astype(float)
            else:
                f = as_factor(v)
                y_levels = list(f.levels)
                y = (f.values != 0).astype(float)
    return y, y_levels, surv, response_name


def model_frame(formula: str, data: pd.DataFrame, *,
                xlevels: dict[str, list[str]] | None = None,
                bases: dict[str, dict] | None = None,
                with_response: bool = True) -> ModelFrame:
    """R's ``model.frame`` + ``model.matrix`` (treatment contrasts) for a formula string.

    Parameters
    ----------
    formula : str
        An R formula, e.g. ``"y ~ age + factor(race)"``.
    data : pandas.DataFrame
        The data.
    xlevels : dict of str to list of str, optional
        R's ``xlev`` (e.g. ``fit.model_frame.xlevels``): codes factors of new data with the
        fitted levels.
    bases : dict of str to dict, optional
        ``fit.model_frame.bases``: rebuilds ``poly()``, ``ns()`` and ``bs()`` with the fitted
        parameters, as ``predict(fit, newdata)``.
    with_response : bool, default True
        False ignores the left-hand side (new data need not have the response).

    Returns
    -------
    ModelFrame
        ``.X``, ``.column_names``, ``.y``, ``.response_name``, ``.term_labels``, ``.assign``,
        ``.surv``, ``.specials``, ``.offset``, ``.xlevels``, ``.bases``.

    Raises
    ------
    TypeError
        When ``data`` is not a DataFrame.
    ValueError
        For a malformed formula, unknown columns or functions, and the cases listed under
        Notes.

    Notes
    -----
    R twin (R 4.2.2 ``stats``): ``stats::model.matrix(formula, stats::model.frame(formula,
    data, drop.unused.levels = TRUE))``, ``attr(terms(formula), "term.labels")`` and
    ``attr(X, "assign")``; ``Surv()`` responses and ``strata()``/``cluster()`` specials as in
    survival (``mf.surv``, ``mf.specials``).

    Factor coding is R's ``contr.treatment``: the first level is the reference; an *ordered*
    pandas Categorical is an ordered factor, coded by ``contr.poly`` as R (columns ``x.L``,
    ``x.Q``, ``x.C``, ``x^4``, ...). Level order is the pandas Categorical order; otherwise R's
    ``factor()`` order (numbers numerically, strings in C-locale order, logicals FALSE < TRUE).
    Columns are named as R names them (``racehispan``, ``factor(race)2``, ``I(age^2)``,
    ``age:racehispan``, ``xTRUE``). In an interaction a factor gets indicator (full) coding
    when the term without it is absent from the preceding terms, and with no intercept the
    first factor is fully coded, exactly as R's ``TermCode``.

    Differences from R (documented):

    - missing values in any column the formula reads raise ``ValueError`` naming the column
      and the count (R's default ``na.omit`` would silently drop rows);
    - a numeric variable that is constant raises ``ValueError`` (R would give an NA, aliased
      coefficient); a factor with one level raises ``ValueError`` (R errors too: "contrasts can
      be applied only to factors with 2 or more levels");
    - unused factor levels are dropped (as ``glm``'s model frame does);
    - ``strata()`` and ``cluster()`` are returned in ``specials`` and are not in
      ``term_labels`` (coxph's ``terms`` object lists ``strata(x)`` among its labels).

    References
    ----------
    Chambers JM, Hastie TJ (1992) Statistical Models in S, ch. 2; Wilkinson GN, Rogers CE
    (1973) Appl Stat 22:392-399.
    """
    data = require_dataframe(data)
    response, rhs = parse_formula(formula)
    if not with_response:
        response = None
    terms = build_terms(response, rhs)

    # every data column read by the formula, checked for missing values first
    used: list[str] = []
    for node in terms.variables:
        column_names_used(node, used)
    for node in terms.offsets:
        column_names_used(node, used)
    for calls in terms.specials.values():
        for c in calls:
            column_names_used(c, used)
    check_columns(used, data)
    n = len(data)

    # response
    y, y_levels, surv, response_name = model_response(response, data)

    # term variables
    in_terms = sorted({v for t in terms.terms for v in t})
    values: dict[int, Value] = {}
    levels_out: dict[str, list[str]] = {}
    bases_out: dict[str, dict] = {}
    for i in in_terms:
        label = terms.var_labels[i]
        v = evaluate_variable(terms.variables[i], data, (bases or {}).get(label))
        v = _check_variable(v, label, n)
        if v.basis is not None:
            bases_out[label] = v.basis
        if xlevels is not None:
            v = _as_model_variable(v, label, xlevels.get(label, []))
        else:
            v = _as_model_variable(v, label)
        values[i] = v
        if v.kind == "factor":
            levels_out[label] = list(v.levels)

    codes = _coding(terms, values)
    cols: list[np.ndarray] = []
    names: list[str] = []
    assign: list[int] = []
    if terms.intercept:
        cols.append(np.ones(n))
        names.append("(Intercept)")
        assign.append(0)
    for j, t in enumerate(terms.terms):
        pieces: list[list[tuple[str, np.ndarray]]] = []
        for v in t:
            val = values[v]
            label = terms.var_labels[v]
            if val.kind == "numeric":
                pieces.append([(label, val.values)])
            elif val.kind == "matrix":  # poly(): one column per degree, named label + k
                pieces.append([(label + cn, val.values[:, k]) for k, cn in enumerate(val.levels)])
            elif codes[j][v] == 1 and val.ordered:
                cp = contr_poly(len(val.levels))  # R: contr.poly for ordered factors
                pieces.append([
                    (label + suf, cp[val.values, k])
                    for k, suf in enumerate(poly_suffixes(len(val.levels)))
                ])
            else:
                start = 1 if codes[j][v] == 1 else 0
                pieces.append([
                    (label + lev, (val.values == k).astype(float))
                    for k, lev in enumerate(val.levels) if k >= start
                ])
        # first variable varies fastest, as R
        for combo in itertools.product(*reversed(pieces)):
            combo = combo[::-1]
            names.append(":".join(nm for nm, _ in combo))
            col = combo[0][1]
            for _, x in combo[1:]:
                col = col * x
            cols.append(col)
            assign.append(j + 1)
    X = np.column_stack(cols).astype(np.float64, copy=False) if cols else np.empty((n, 0))

    # offset(s): summed, as R
    offset = None
    for node in terms.offsets:
        v = _check_variable(evaluate(node, data), f"offset({deparse(node)})", n)
        if v.kind not in ("numeric", "logical"):
            raise ValueError(f"offset({deparse(node)}) is not numeric")
        o = v.values.astype(float)
        offset = o if offset is None else offset + o

    specials: dict[str, object] = {}
    if "strata" in terms.specials:
        specials["strata"] = combine_strata(
            [eval_strata(c, data) for c in terms.specials["strata"]]
        )
    if "cluster" in terms.specials:
        cl = terms.specials["cluster"]
        if len(cl) > 1:
            raise ValueError("a formula can have one cluster() term")
        specials["cluster"] = eval_cluster(cl[0], data)

    return ModelFrame(
        formula=formula,
        y=y,
        X=X,
        column_names=names,
        term_labels=list(terms.term_labels),
        assign=assign,
        intercept=terms.intercept,
        offset=offset,
        specials=specials,
        surv=surv,
        variables=used,
        response_name=response_name,
        y_levels=y_levels,
        xlevels=levels_out,
        bases=bases_out,
        index=data.index,
        term_variables=[[terms.var_labels[v] for v in t] for t in terms.terms],
    )


