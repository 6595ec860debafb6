"""A tiny, safe row-filter language for study specs (no ``eval``).

Grammar (``and`` binds tighter than ``or``; no parentheses)::

    expr    := conj ("or" conj)*
    conj    := clause ("and" clause)*
    clause  := ["not"] column op value | ["not"] column "in" "[" value ("," value)* "]"
    op      := ">=" | "<=" | ">" | "<" | "==" | "!="
    value   := number | 'text' | "text" | true | false | date 'YYYY-MM-DD' (as text)

Examples: ``age >= 65 or construct == 'CD28'``; ``icans_grade >= 3``;
``best_response in ['CR', 'PR']``. A missing value never satisfies a clause (R's ``NA`` in a
subset is dropped the same way), so ``evaluate`` returns a boolean array without NA.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

_CLAUSE = re.compile(
    r"^\s*(?P<not>not\s+)?(?P<col>[A-Za-z_][A-Za-z0-9_]*)\s*"
    r"(?:(?P<op>>=|<=|==|!=|>|<)\s*(?P<val>.+?)|\s+in\s*\[(?P<list>.*)\])\s*$"
)


def _value(tok: str):
    tok = tok.strip()
    if len(tok) >= 2 and tok[0] == tok[-1] and tok[0] in "'\"":
        return tok[1:-1]
    low = tok.lower()
    if low in ("true", "false"):
        return low == "true"
    try:
        return float(tok)
    except ValueError:
        raise ValueError(f"cannot parse value {tok!r} in a spec expression (quote text values)") \
            from None


def _split(text: str, word: str) -> list[str]:
    return [p for p in re.split(rf"\s+{word}\s+", text.strip())]


def columns_used(expr: str) -> list[str]:
    """The column names an expression reads (for validation before evaluating)."""
    cols = []
    for disj in _split(expr, "or"):
        for clause in _split(disj, "and"):
            m = _CLAUSE.match(clause)
            if m is None:
                raise ValueError(f"cannot parse spec expression clause {clause!r}")
            if m.group("list") is not None:
                [_value(v) for v in m.group("list").split(",") if v.strip()]
            else:
                _value(m.group("val"))
            cols.append(m.group("col"))
    return list(dict.fromkeys(cols))


def _clause(df: pd.DataFrame, clause: str) -> np.ndarray:
    m = _CLAUSE.match(clause)
    if m is None:
        raise ValueError(f"cannot parse spec expression clause {clause!r}")
    col = m.group("col")
    if col not in df.columns:
        raise ValueError(f"spec expression uses unknown column '{col}'")
    s = df[col]
    if m.group("list") is not None:
        vals = [_value(v) for v in m.group("list").split(",") if v.strip()]
        res = s.isin(vals).to_numpy(dtype=bool).copy()
    else:
        val = _value(m.group("val"))
        if pd.api.types.is_datetime64_any_dtype(s) and isinstance(val, str):
            val = pd.Timestamp(val)
        elif isinstance(s.dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(s):
            s = s.astype(object)
        op = m.group("op")
        with np.errstate(invalid="ignore"):
            r = {">=": s >= val, "<=": s <= val, ">": s > val, "<": s < val,
                 "==": s == val, "!=": s != val}[op]
        res = pd.Series(r).fillna(False).to_numpy(dtype=bool).copy()
    res &= s.notna().to_numpy()
    return ~res & s.notna().to_numpy() if m.group("not") else res


def evaluate(expr: str, df: pd.DataFrame) -> np.ndarray:
    """Boolean mask of the rows of ``df`` satisfying ``expr``."""
    if not isinstance(expr, str) or not expr.strip():
        raise ValueError("spec expression is empty")
    out = np.zeros(len(df), dtype=bool)
    for disj in _split(expr, "or"):
        part = np.ones(len(df), dtype=bool)
        for clause in _split(disj, "and"):
            part &= _clause(df, clause)
        out |= part
    return out
