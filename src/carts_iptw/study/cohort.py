"""The cohort schema and the one validator that enforces it.

A cohort is one row per subject. Its schema is *derived from the study spec*
(:func:`derive_schema`): the treatment column is 0/1, a time-to-event outcome's time is a
non-negative number and its event 0/1, Table 1's continuous variables are numbers and its
binary ones 0/1, and every column a covariate, adjustment term, outcome definition or
eligibility rule reads must be present. A study can add a schema file of its own (the spec's
``[cohort] schema``), with stricter column types (ranges, levels, dates, ids), derived columns
and consistency checks, each written as an R expression (:mod:`carts_iptw.study.expr`).

``validate_cohort(df, schema)`` checks every rule, collects *all* problems, and raises one
:class:`CohortValidationError` whose message names, for each problem, the column, the rule and
how many rows break it. Row values and ids are never printed: patient data must not leave the
machine through an error message or a log.

On success it returns a typed copy: binary columns as 0/1 ``int64`` (``float`` when missing
values are allowed and present), categories as pandas Categoricals with the schema's level order
(the first level is the reference, as R's ``factor``), dates as ``datetime64``, the schema's
derived columns added, and every other column kept as supplied.
"""

from __future__ import annotations

import importlib.util
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from carts_iptw.study.expr import parse as parse_r

KINDS = ("id", "numeric", "count", "binary", "category", "date", "any")


class CohortValidationError(ValueError):
    """The cohort breaks one or more schema rules. ``.problems`` lists them.

    Each problem is a dict ``{"column", "rule", "rows", "message"}``; no row values.
    The CLI maps this error to exit code 2.
    """

    def __init__(self, problems: list[dict]):
        self.problems = list(problems)
        lines = [f"  - {p['message']}" for p in self.problems]
        super().__init__(
            f"the cohort failed validation ({len(self.problems)} problem(s)):\n" + "\n".join(lines)
        )


@dataclass(frozen=True)
class Column:
    """One schema column.

    kind: ``id`` | ``numeric`` | ``count`` (non-negative integer) | ``binary`` (0/1) |
    ``category`` (known ``levels``) | ``date`` | ``any`` (present; kept as supplied).
    ``nullable``: missing values allowed (e.g. onset day when the event did not occur).
    """

    name: str
    kind: str
    description: str = ""
    required: bool = True
    nullable: bool = False
    lower: float | None = None
    upper: float | None = None
    levels: tuple[str, ...] = ()
    group: str = ""


@dataclass(frozen=True)
class Derived:
    """A column computed from an R expression (``value``).

    If the cohort supplies it and ``check`` is true, the supplied values must equal the computed
    ones.
    """

    name: str
    value: str
    description: str = ""
    check: bool = True


@dataclass(frozen=True)
class Check:
    """A consistency rule (R expression) every row must satisfy.

    A row where it is NA passes (the columns it reads have their own missing-value rules).
    """

    column: str
    rule: str
    label: str
    message: str


@dataclass(frozen=True)
class Schema:
    """A cohort schema.

    Column rules, derived columns and consistency checks; ``source`` says where it came from.
    """

    columns: tuple[Column, ...]
    derived: tuple[Derived, ...] = ()
    checks: tuple[Check, ...] = ()
    source: str = ""

    @property
    def by_name(self) -> dict[str, Column]:
        """The columns by name."""
        return {c.name: c for c in self.columns}

    @property
    def id_column(self) -> str | None:
        """The name of the id column, or None."""
        return next((c.name for c in self.columns if c.kind == "id"), None)

    def merged(self, other: Schema) -> Schema:
        """The merged schema.

        This schema's columns, with ``other``'s (stricter, from a file) taking precedence.

        Derived columns and checks of both.
        """
        cols = list(other.columns)
        names = {c.name for c in cols}
        dnames = {d.name for d in other.derived}
        for c in self.columns:
            if c.name not in names and c.name not in dnames:
                cols.append(c)
        return Schema(tuple(cols), other.derived + self.derived, other.checks + self.checks,
                      other.source or self.source)

    def table(self) -> pd.DataFrame:
        """The schema as a table (for documentation and the report appendix)."""
        rows = [{"column": c.name, "kind": c.kind, "required": c.required,
                 "missing allowed": c.nullable,
                 "range": "" if c.lower is None and c.upper is None else
                 f"{'' if c.lower is None else f'{c.lower:g}'}.."
                 f"{'' if c.upper is None else f'{c.upper:g}'}",
                 "levels": ", ".join(c.levels), "description": c.description}
                for c in self.columns]
        rows += [{"column": d.name, "kind": "derived", "required": False,
                  "missing allowed": False, "range": "", "levels": "",
                  "description": f"{d.description} (= {d.value})".strip()}
                 for d in self.derived]
        return pd.DataFrame(rows)


_COLUMN_KEYS = {"name", "kind", "description", "required", "nullable", "lower", "upper",
                "levels", "group"}


def load_schema(path: str | Path) -> Schema:
    """Read a schema TOML file.

    ``[[columns]]`` (name, kind, description, required, nullable, lower, upper, levels),
    ``[[derived]]`` (name, value, description, check) and ``[[checks]]`` (column, rule, label,
    message).

    Unknown keys are errors naming the table.
    """
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"schema file not found: {p}")
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"schema: {p.name} is not valid TOML ({e})") from None
    extra = set(raw) - {"columns", "derived", "checks", "description"}
    if extra:
        raise ValueError(f"schema {p.name}: unknown section(s) {sorted(extra)}")
    cols = []
    for i, c in enumerate(raw.get("columns", [])):
        where = f"schema {p.name} [[columns]] #{i + 1}"
        bad = set(c) - _COLUMN_KEYS
        if bad:
            raise ValueError(f"{where}: unknown key(s) {sorted(bad)}")
        if "name" not in c or c.get("kind") not in KINDS:
            raise ValueError(f"{where}: needs 'name' and 'kind' (one of {KINDS})")
        kw = dict(c)
        if "levels" in kw:
            kw["levels"] = tuple(str(x) for x in kw["levels"])
        cols.append(Column(**kw))
    der = []
    for i, d in enumerate(raw.get("derived", [])):
        where = f"schema {p.name} [[derived]] #{i + 1}"
        bad = set(d) - {"name", "value", "description", "check"}
        if bad or "name" not in d or "value" not in d:
            raise ValueError(f"{where}: needs 'name' and 'value' (known keys: name, value, "
                             "description, check)")
        parse_r(d["value"], f"{where} ({d['name']})")
        der.append(Derived(**d))
    chk = []
    for i, d in enumerate(raw.get("checks", [])):
        where = f"schema {p.name} [[checks]] #{i + 1}"
        bad = set(d) - {"column", "rule", "label", "message"}
        if bad or "column" not in d or "rule" not in d:
            raise ValueError(f"{where}: needs 'column' and 'rule' (known keys: column, rule, "
                             "label, message)")
        parse_r(d["rule"], where)
        chk.append(Check(d["column"], d["rule"], d.get("label", d["rule"]),
                         d.get("message", "breaks a consistency rule")))
    return Schema(tuple(cols), tuple(der), tuple(chk), source=str(p))


def derive_schema(spec) -> Schema:
    """The columns a study spec reads, with the types its analyses need.

    The treatment is 0/1 without missing values; a time-to-event outcome's time is a
    non-negative number and its event 0/1; a continuous, duration or count outcome is a number
    (durations and counts non-negative); Table 1's continuous variables are numbers and its
    binary variables 0/1; every other column an expression, covariate term or Table 1 row reads
    must be present (``any``). Missing values other than the treatment's are checked after
    eligibility, where the spec's missing-value policy applies.
    """
    from carts_iptw.study.expr import columns_used

    cols: dict[str, Column] = {}

    def add(name, kind, description, **kw):
        old = cols.get(name)
        if old is None or old.kind == "any":
            cols[name] = Column(name, kind, description, nullable=kw.pop("nullable", True), **kw)

    if spec.id_column:
        add(spec.id_column, "id", "identifier (unique)", nullable=False)
    add(spec.treatment, "binary", "treatment (1 = treated, 0 = control)", nullable=False)
    for st in spec.eligibility.steps:
        for c in columns_used(st.rule):
            add(c, "any", f"read by eligibility rule '{st.label}'")
    for c in spec.model_columns():
        add(c, "any", "covariate")
    for v in spec.table1:
        kind = {"continuous": "numeric", "binary": "binary"}.get(v.type, "any")
        add(v.column, kind, v.label)
    for o in spec.outcomes:
        for e in (o.definition, o.among):
            if e:
                for c in columns_used(e):
                    add(c, "any", f"read by outcome '{o.name}'")
        if o.type == "time_to_event":
            add(o.time, "numeric", f"{o.label}: time", lower=0)
            add(o.event, "binary", f"{o.label}: event (1) or censored (0)")
        elif o.type == "continuous":
            add(o.column, "numeric", o.label)
        elif o.type in ("duration", "count"):
            add(o.column, "numeric", o.label, lower=0)
        elif o.type == "competing":
            add(o.time, "numeric", f"{o.label}: time of the event", lower=0)
            add(o.competing_time, "numeric", f"{o.label}: time of the competing event",
                lower=0)
            add(o.competing_event, "binary", f"{o.label}: competing event (1) or not (0)")
    return Schema(tuple(cols.values()), source="(derived from the spec)")


def resolve_schema(schema=None) -> Schema:
    """A :class:`Schema` from a Schema, a study spec, a path or None.

    A study spec gives its derived schema plus its schema file; a path names a spec or schema
    TOML file; None is the bundled reference spec.
    """
    from carts_iptw.study.spec import StudySpec, default_spec, load_spec

    if isinstance(schema, Schema):
        return schema
    if schema is None:
        schema = default_spec()
    if isinstance(schema, str | Path):
        p = Path(schema)
        try:
            head = tomllib.loads(p.read_text(encoding="utf-8")) if p.is_file() else {}
        except tomllib.TOMLDecodeError:
            head = {}
        schema = load_schema(p) if "columns" in head and "study" not in head else load_spec(p)
    if isinstance(schema, StudySpec):
        return schema.schema()
    raise TypeError(f"schema must be a Schema, a StudySpec or a path, got "
                    f"{type(schema).__name__}")


@dataclass
class _Problems:
    items: list[dict] = field(default_factory=list)

    def add(self, column: str, rule: str, rows: int, detail: str) -> None:
        self.items.append({
            "column": column, "rule": rule, "rows": int(rows),
            "message": f"column '{column}': {detail} ({rule}; {int(rows)} row(s))",
        })


def _as_binary(s: pd.Series) -> tuple[pd.Series, int]:
    """0/1 coding of a binary column; returns (coded, number of rows that are not binary)."""
    if s.dtype == bool:
        return s.astype("int64"), 0
    if pd.api.types.is_numeric_dtype(s):
        v = pd.to_numeric(s, errors="coerce")
        bad = v.notna() & ~v.isin([0, 1])
        return v.where(~bad), int(bad.sum())
    txt = s.astype("string").str.strip().str.lower()
    mapping = {"0": 0, "1": 1, "true": 1, "false": 0, "yes": 1, "no": 0, "0.0": 0, "1.0": 1}
    v = txt.map(mapping)
    bad = txt.notna() & v.isna()
    return pd.to_numeric(v, errors="coerce"), int(bad.sum())


def _parse_dates(s: pd.Series) -> pd.Series:
    """``pd.to_datetime(s, errors="coerce")`` (``format="mixed"`` for text), each distinct text once.

    Dates repeat (10^6 rows hold a few thousand days): parsing the distinct strings and taking
    them back by code is the element-wise parse, without parsing every row.
    """
    if not (s.dtype == object or pd.api.types.is_string_dtype(s)):
        return pd.to_datetime(s, errors="coerce")
    codes, uniq = pd.factorize(s, use_na_sentinel=True)
    parsed = pd.to_datetime(pd.Series(np.asarray(uniq, dtype=object), dtype=object),
                            errors="coerce", format="mixed")
    if not pd.api.types.is_datetime64_dtype(parsed.dtype) or len(uniq) == 0:
        return pd.to_datetime(s, errors="coerce", format="mixed")
    return pd.Series(parsed.array.take(codes, allow_fill=True), index=s.index)


def validate_cohort(df: pd.DataFrame, schema=None, *, check_consistency: bool = True
                    ) -> pd.DataFrame:
    """Check ``df`` against a cohort schema and return a typed copy with derived columns.

    Parameters
    ----------
    df : pandas.DataFrame
        The cohort as read.
    schema : optional
        A :class:`Schema`, a :class:`~carts_iptw.study.spec.StudySpec` (its derived schema plus
        its schema file), a path to a spec or schema TOML, or None (the bundled reference spec).
    check_consistency : bool, default True
        Check supplied derived columns against their source and the schema's consistency
        checks.

    Returns
    -------
    pandas.DataFrame
        A typed copy with the derived columns.

    Raises
    ------
    CohortValidationError
        A ``ValueError`` listing every problem found: missing required columns, values of the
        wrong type, impossible values (a negative time, a value outside the schema's range, an
        unknown level), missing values in non-nullable columns, duplicate ids, and rows breaking
        a consistency check. Messages name column, rule and row count, never row values.

    Notes
    -----
    No R twin: data validation (the cohort schema of a study).
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"cohort must be a pandas DataFrame, got {type(df).__name__}")
    sch = resolve_schema(schema)
    probs = _Problems()
    if len(df) == 0:
        probs.add("(all)", "non-empty", 0, "the cohort has no rows")
        raise CohortValidationError(probs.items)
    derived_names = {d.name for d in sch.derived}
    for col in sch.columns:
        if col.required and col.name not in df.columns and col.name not in derived_names:
            probs.add(col.name, "required column", len(df), "required column is missing")
    out = pd.DataFrame(index=pd.RangeIndex(len(df)))
    for col in sch.columns:
        if col.name not in df.columns:
            continue
        s = df[col.name].reset_index(drop=True)
        # a text column's missing values are counted by factorize's codes below (one pass)
        n_missing = int(s.isna().sum()) if col.kind != "category" else 0
        if col.kind == "id":
            if n_missing:
                probs.add(col.name, "no missing values", n_missing, "missing identifier")
            ids = s.astype("string")
            dup = int(ids.duplicated(keep=False).sum())
            if dup:
                probs.add(col.name, "unique", dup, "duplicate identifier")
            out[col.name] = ids
            continue
        if col.kind == "any":
            v = s
        elif col.kind == "binary":
            v, nbad = _as_binary(s)
            if nbad:
                probs.add(col.name, "binary 0/1", nbad, "value is not 0/1 (or true/false)")
        elif col.kind in ("numeric", "count"):
            v = pd.to_numeric(s, errors="coerce") if not pd.api.types.is_bool_dtype(s) else s * 1.0
            nbad = int((v.isna() & s.notna()).sum())
            if nbad:
                probs.add(col.name, "numeric", nbad, "value is not a number")
            if col.kind == "count":
                frac = v.notna() & (np.floor(v) != v)
                if frac.any():
                    probs.add(col.name, "integer", int(frac.sum()), "value is not a whole number")
            if col.lower is not None:
                lo = int((v < col.lower).sum())
                if lo:
                    what = "negative value" if col.lower == 0 else f"value below {col.lower:g}"
                    probs.add(col.name, f">= {col.lower:g}", lo, what)
            if col.upper is not None:
                hi = int((v > col.upper).sum())
                if hi:
                    probs.add(col.name, f"<= {col.upper:g}", hi, f"value above {col.upper:g}")
            inf = int(np.isinf(v.to_numpy(dtype=float, na_value=np.nan)).sum())
            if inf:
                probs.add(col.name, "finite", inf, "infinite value")
        elif col.kind == "category":
            # the text of each distinct value once (10^6 rows have a handful): strip, match
            codes, uniq = pd.factorize(s, use_na_sentinel=True)
            n_missing = int((codes < 0).sum())
            txt = pd.Series(uniq, dtype=object).astype("string").str.strip()
            level_of = {lv: i for i, lv in enumerate(col.levels)}
            lv_code = np.array([level_of.get(t, -1) if not pd.isna(t) else -1 for t in txt],
                               dtype=np.int64)
            unknown = np.array([not pd.isna(t) and t not in level_of for t in txt], dtype=bool)
            row_code = np.where(codes >= 0, lv_code[codes] if len(lv_code) else -1, -1)
            bad = int(unknown[codes[codes >= 0]].sum()) if len(unknown) else 0
            if bad:
                probs.add(col.name, f"one of {list(col.levels)}", bad, "unknown level")
            v = pd.Series(pd.Categorical.from_codes(row_code, categories=list(col.levels)))
        elif col.kind == "date":
            v = _parse_dates(s)
            nbad = int((v.isna() & s.notna()).sum())
            if nbad:
                probs.add(col.name, "date (YYYY-MM-DD)", nbad, "value is not a date")
        else:
            raise ValueError(f"schema: column '{col.name}' has unknown kind '{col.kind}'")
        if n_missing and not col.nullable:
            probs.add(col.name, "no missing values", n_missing, "missing value")
        out[col.name] = v
    if probs.items:
        raise CohortValidationError(probs.items)

    for col in sch.columns:
        if col.name in out and col.kind in ("binary", "count") and not out[col.name].isna().any():
            out[col.name] = out[col.name].astype("int64")
    for c in df.columns:  # keep the other columns (e.g. covariates only the spec names)
        if c not in out.columns:
            out[c] = df[c].reset_index(drop=True)
    derived = {}
    for d in sch.derived:
        try:
            val = parse_r(d.value, f"derived column '{d.name}'").values(out)
        except ValueError as e:
            probs.add(d.name, "derived column computable", len(out), str(e))
            continue
        if val.notna().all() and (pd.api.types.is_bool_dtype(val) or (
                pd.api.types.is_float_dtype(val) and (np.floor(val) == val).all())):
            val = val.astype("int64")
        derived[d.name] = val
        if check_consistency and d.check and d.name in df.columns:
            sup = pd.to_numeric(df[d.name].reset_index(drop=True), errors="coerce")
            k = int((sup.to_numpy(dtype=float, na_value=np.nan)
                     != val.to_numpy(dtype=float, na_value=np.nan)).sum())
            if k:
                probs.add(d.name, f"equals {d.value}", k, "disagrees with its source column")
    if check_consistency:
        for c in sch.checks:
            try:
                ok, na = parse_r(c.rule, f"check on '{c.column}'").logical(out)
            except ValueError as e:
                probs.add(c.column, c.label, len(out), str(e))
                continue
            k = int((~ok & ~na).sum())
            if k:
                probs.add(c.column, c.label, k, c.message)
    if probs.items:
        raise CohortValidationError(probs.items)
    for name, val in derived.items():
        out[name] = val.to_numpy()
    return out


def parquet_engine() -> str | None:
    """The Parquet engine pandas can use here, or None."""
    for mod in ("pyarrow", "fastparquet"):
        if importlib.util.find_spec(mod) is not None:
            return mod
    return None


def read_table(path: str | Path, id_column: str | None = None) -> pd.DataFrame:
    """Read a CSV or Parquet file as supplied (no validation).

    CSV: ``.csv``, ``.csv.gz``, ``.txt``; Parquet: ``.parquet``, ``.pq``; ``id_column`` is read
    as text.
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"cohort file not found: {p}")
    if p.is_dir():
        raise CohortValidationError([{
            "column": "(file)", "rule": "file exists", "rows": 0,
            "message": f"cohort path {p} is a folder, not a file: pass the cohort's CSV or "
                       "Parquet file"}])
    if p.stat().st_size == 0:
        raise CohortValidationError([{
            "column": "(file)", "rule": "readable file", "rows": 0,
            "message": f"the cohort file {p.name} is empty (0 bytes): no header row, no data"}])
    name = p.name.lower()
    if name.endswith((".parquet", ".pq")):
        if parquet_engine() is None:
            raise CohortValidationError([{
                "column": "(file)", "rule": "readable format", "rows": 0,
                "message": "reading Parquet needs the 'pyarrow' package, which is not installed "
                           "(pip install pyarrow), or convert the cohort to CSV",
            }])
        try:
            return pd.read_parquet(p)
        except (OSError, ValueError) as e:  # pyarrow's ArrowInvalid is a ValueError
            raise CohortValidationError([{
                "column": "(file)", "rule": "readable Parquet", "rows": 0,
                "message": f"the Parquet file cannot be read ({type(e).__name__})",
            }]) from None
    if name.endswith((".csv", ".csv.gz", ".txt")):
        try:
            return pd.read_csv(p, dtype={id_column: "string"} if id_column else None)
        except pd.errors.EmptyDataError:  # e.g. only blank lines: pandas' "No columns to parse"
            raise CohortValidationError([{
                "column": "(file)", "rule": "readable CSV", "rows": 0,
                "message": f"the CSV file {p.name} has no header row (it is empty)",
            }]) from None
        except (pd.errors.ParserError, UnicodeDecodeError) as e:
            raise CohortValidationError([{
                "column": "(file)", "rule": "readable CSV", "rows": 0,
                "message": f"the CSV file cannot be parsed ({type(e).__name__})",
            }]) from None
    raise CohortValidationError([{
        "column": "(file)", "rule": "format", "rows": 0,
        "message": f"unsupported cohort file type '{p.suffix}': use .csv or .parquet",
    }])


def read_cohort(path: str | Path, schema=None, *, validate: bool = True) -> pd.DataFrame:
    """Read a cohort from CSV (``.csv``, ``.csv.gz``) or Parquet (``.parquet``, ``.pq``).

    Parameters
    ----------
    path : str or pathlib.Path
        The file.
    schema : optional
        As :func:`validate_cohort` (None = the bundled reference spec).
    validate : bool, default True
        Validate the table with :func:`validate_cohort`.

    Returns
    -------
    pandas.DataFrame
        The cohort (typed, with derived columns, when validated).

    Raises
    ------
    CohortValidationError
        A ``ValueError``: Parquet without pyarrow (or fastparquet), or the problems
        :func:`validate_cohort` finds.

    Notes
    -----
    No R twin: reads and validates a cohort table.
    """
    sch = resolve_schema(schema) if validate or schema is not None else None
    df = read_table(path, sch.id_column if sch is not None else None)
    return validate_cohort(df, sch) if validate else df


def schema_table(schema=None) -> pd.DataFrame:
    """The schema as a table (for documentation and the report appendix)."""
    return resolve_schema(schema).table()
