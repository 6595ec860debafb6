"""The analysed cohort as CSV text, byte for byte what pandas' ``to_csv`` writes, faster.

:func:`cohort_csv` returns ``df.to_csv(index=False, date_format=...)`` (pandas' default
``QUOTE_MINIMAL`` quoting, NA as the empty field, ``os.linesep`` line ends). The run writes this
text as ``cohort.csv`` when R cannot read the input (a DataFrame, Parquet): ``reproduce.R`` reads
it with ``read.csv`` and ``carts-iptw verify`` checks its sha256, so the format is pandas'
(numbers as numpy's shortest round-trip ``str``; the text of each value is never invented
here).

Why not ``to_csv``: at 10^6 rows x 36 columns pandas formats and writes every cell through
Python's csv module (~15 CPU s). Here each column is turned into integer codes of its distinct
values (``factorize``; a small-range integer column by subtraction, a categorical by its codes),
only the distinct values are formatted -- with the same conversion pandas applies to a column of
that dtype (``astype(str)`` for numpy numbers, the categories' ``str``, ``strftime`` for dates;
any other dtype through ``to_csv`` itself on the distinct values) -- and runs of adjacent
low-cardinality columns are joined into one field through the codes of their observed
combinations, so the final row join handles a few fields per row instead of every cell.

Quoting is the csv module's own (``QUOTE_MINIMAL``, as pandas calls it) for every field that holds
a delimiter, a quote or a line-break character; a frame of one column or with labels that are not
plain strings falls back to ``to_csv``.
"""

from __future__ import annotations

import csv
import io
import os

import numpy as np
import pandas as pd

#: the most distinct combinations of adjacent columns joined into one field
_MAX_COMBOS = 1 << 16
_SPECIAL = (",", '"', "\r", "\n")


def _quote(s: str) -> str:
    """The field as pandas' csv writer writes it (QUOTE_MINIMAL, doubled quotes)."""
    if not any(c in s for c in _SPECIAL):
        return s
    buf = io.StringIO()
    csv.writer(buf, lineterminator=os.linesep, quoting=csv.QUOTE_MINIMAL, doublequote=True,
               quotechar='"', escapechar=None).writerow([s, ""])
    return buf.getvalue()[: -len(os.linesep) - 1]


def _quote_all(labels: np.ndarray) -> np.ndarray:
    """QUOTE_MINIMAL on an object array of str (one scan of the joined text finds none)."""
    big = "\x00".join(labels.tolist())
    if not any(c in big for c in _SPECIAL):
        return labels
    return np.array([_quote(s) for s in labels.tolist()], dtype=object)


def _pandas_text(values, date_format: str | None) -> list[str]:
    """Pandas' own text for ``values`` (a column), unquoted, through ``to_csv`` and csv.reader."""
    frame = pd.DataFrame({"v": values, "pad": 0})
    text = frame.to_csv(index=False, header=False, date_format=date_format, lineterminator="\n")
    return [row[0] for row in csv.reader(io.StringIO(text, newline=""))]


def _codes_labels(s: pd.Series, date_format: str | None) -> tuple[np.ndarray, np.ndarray]:
    """(int64 codes, object array of the quoted text of each code) for one column.

    Codes index the labels; every label is the exact text pandas writes for that value.
    """
    dt = s.dtype
    if isinstance(dt, pd.CategoricalDtype):
        cats = s.cat.categories
        if cats.dtype == object or pd.api.types.is_string_dtype(cats.dtype):
            lab = [c if isinstance(c, str) else None for c in cats.tolist()]
            if all(c is not None for c in lab):
                codes = s.cat.codes.to_numpy().astype(np.int64)
                codes[codes < 0] = len(lab)
                return codes, _quote_all(np.array(lab + [""], dtype=object))
        return _generic(s, date_format)
    if isinstance(dt, np.dtype) and dt.kind in "iu":
        v = s.to_numpy()
        lo, hi = int(v.min()), int(v.max())
        if hi - lo <= max(1 << 16, v.size // 4) and hi < 2**63:
            codes = v.astype(np.int64) - lo
            return codes, np.arange(lo, hi + 1, dtype=np.int64).astype(str).astype(object)
        codes, uniq = pd.factorize(v)
        return codes.astype(np.int64), np.asarray(uniq).astype(str).astype(object)
    if isinstance(dt, np.dtype) and dt.kind == "b":
        return s.to_numpy().astype(np.int64), np.array(["False", "True"], dtype=object)
    if isinstance(dt, np.dtype) and dt.kind == "f":
        v = s.to_numpy()
        ib = {4: np.int32, 8: np.int64, 2: np.int16}.get(dt.itemsize)
        if ib is None:
            return _generic(s, date_format)
        codes, ubits = pd.factorize(v.view(ib))  # bit patterns: -0.0 and 0.0 stay apart
        uniq = np.asarray(ubits).astype(ib).view(dt)
        lab = uniq.astype(str).astype(object)
        lab[np.isnan(uniq)] = ""
        return codes.astype(np.int64), lab
    if isinstance(dt, pd.StringDtype) or (dt == np.dtype(object) and pd.api.types.infer_dtype(
            s, skipna=True) in ("string", "empty")):
        v = s.to_numpy(dtype=object, na_value="")
        return np.arange(len(v), dtype=np.int64), _quote_all(v)
    return _generic(s, date_format)


def _generic(s: pd.Series, date_format: str | None) -> tuple[np.ndarray, np.ndarray]:
    """Any other dtype: pandas formats the distinct values (every value when they hash loosely)."""
    if s.dtype == np.dtype(object):  # 1, 1.0 and True hash alike: no factorize
        lab = np.array(_pandas_text(s.reset_index(drop=True), date_format), dtype=object)
        return np.arange(len(s), dtype=np.int64), _quote_all(lab)
    codes, uniq = pd.factorize(s, use_na_sentinel=True)
    codes = np.asarray(codes, dtype=np.int64)
    lab = _pandas_text(pd.Series(uniq, dtype=s.dtype), date_format) if len(uniq) else []
    codes[codes < 0] = len(lab)
    return codes, _quote_all(np.array([*lab, ""], dtype=object))


def _join_group(parts: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """One object array of 'a,b,...' per row for adjacent columns, formatted per observed combination."""
    if len(parts) == 1:
        codes, lab = parts[0]
        return lab[codes]
    key = np.zeros(len(parts[0][0]), dtype=np.int64)
    size = 1
    for codes, lab in parts:
        key = key * len(lab) + codes
        size *= len(lab)
    present = np.flatnonzero(np.bincount(key, minlength=size))
    lut = np.zeros(size, dtype=np.int64)
    lut[present] = np.arange(len(present))
    ukeys = present
    digits = []
    for _codes, lab in reversed(parts):
        ukeys, d = np.divmod(ukeys, len(lab))
        digits.append(lab[d])
    text = digits[-1]
    for d in reversed(digits[:-1]):
        text = text + "," + d
    return text[lut[key]]


def cohort_csv(df: pd.DataFrame, date_format: str | None = "%Y-%m-%d") -> str:
    """``df.to_csv(index=False, date_format=date_format)``, the same text, built by column codes.

    Parameters
    ----------
    df : pandas.DataFrame
        The cohort.
    date_format : str, optional
        As ``to_csv``'s ``date_format``.

    Returns
    -------
    str
        The CSV text (header, one line per row, ``os.linesep`` after each line).

    Notes
    -----
    No R twin: the file R's ``read.csv`` reads in ``reproduce.R``. Equal to pandas' text for
    every dtype (tests/unit/study/test_csv_copy.py compares the two on random frames).
    """
    cols = list(df.columns)
    if (len(cols) < 2 or not all(isinstance(c, str) for c in cols)
            or isinstance(df.columns, pd.MultiIndex) or df.columns.has_duplicates):
        return df.to_csv(index=False, date_format=date_format)
    n = len(df)
    eol = os.linesep
    header = ",".join(_quote(c) for c in cols) + eol
    if n == 0:
        return header
    fields: list[list[str]] = []
    group: list[tuple[np.ndarray, np.ndarray]] = []
    size = 1
    for c in cols:
        codes, lab = _codes_labels(df[c], date_format)
        k = max(len(lab), 1)
        if group and (size * k > _MAX_COMBOS or len(lab) >= n):
            fields.append(_join_group(group).tolist())
            group, size = [], 1
        group.append((codes, lab))
        size *= k
    fields.append(_join_group(group).tolist())
    body = eol.join(map(",".join, zip(*fields, strict=True))) if len(fields) > 1 \
        else eol.join(fields[0])
    return header + body + eol
