"""The CAR T cohort schema: columns, types, rules, and the one validator that enforces them.

A cohort is one row per patient. ``validate_cohort(df)`` checks every rule, collects *all*
problems, and raises one :class:`CohortValidationError` whose message names, for each problem,
the column, the rule and how many rows break it. Row values and ids are never printed: patient
data must not leave the machine through an error message or a log.

On success it returns a typed copy: binary columns as 0/1 ``int64``, categories as pandas
Categoricals with the schema's level order (the first level is the reference, as R's
``factor``), dates as ``datetime64``, and the derived indicators the reference study uses
(``lines_ge3``, ``kps_le70``, ``ipi_ge3``, ``construct_41bb``, ``status_sdpd``,
``cns_or_extranodal``). ``lines_ge3`` and ``kps_le70`` may be supplied; if they are, they must agree
with ``prior_lines`` and ``kps``.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd


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
    ``category`` | ``date``. ``nullable``: missing values allowed (e.g. onset day when the
    event did not occur).
    """

    name: str
    kind: str
    description: str
    required: bool = True
    nullable: bool = False
    lower: float | None = None
    upper: float | None = None
    levels: tuple[str, ...] = ()
    group: str = "baseline"


GRADE = dict(lower=0, upper=5)

SCHEMA: tuple[Column, ...] = (
    Column("id", "id", "patient identifier (unique)"),
    # baseline
    Column("age", "numeric", "age at infusion, years", lower=18, upper=110),
    Column("histology", "category", "lymphoma histology", levels=("DLBCL", "FL", "MCL")),
    Column("ldh_elevated", "binary", "LDH above the upper limit of normal at lymphodepletion"),
    Column("prior_hct", "binary", "prior autologous or allogeneic stem-cell transplant"),
    Column("prior_lines", "count", "number of prior lines of therapy", lower=0, upper=20),
    Column("lines_ge3", "binary", ">= 3 prior lines (derived from prior_lines if absent)",
           required=False),
    Column("kps", "numeric", "Karnofsky performance status", lower=0, upper=100),
    Column("kps_le70", "binary", "KPS <= 70 (derived from kps if absent)", required=False),
    Column("ipi", "count", "International Prognostic Index", lower=0, upper=5),
    Column("construct", "category", "CAR costimulatory domain", levels=("CD28", "4-1BB")),
    Column("cns", "binary", "CNS involvement"),
    Column("extranodal", "binary", "extranodal disease"),
    Column("status_at_infusion", "category", "disease status at infusion",
           levels=("CR/PR", "SD/PD")),
    Column("infusion_date", "date", "date of CAR T infusion"),
    Column("anakinra", "binary", "prophylactic anakinra (treatment)"),
    # toxicity
    Column("crs_grade", "count", "maximum CRS grade (ASTCT), 0 = none", group="toxicity", **GRADE),
    Column("crs_onset_day", "numeric", "day of CRS onset (missing if no CRS)", nullable=True,
           lower=0, upper=365, group="toxicity"),
    Column("crs_duration", "numeric", "CRS duration, days (missing if no CRS)", nullable=True,
           lower=0, upper=365, group="toxicity"),
    Column("icans_grade", "count", "maximum ICANS grade (ASTCT), 0 = none", group="toxicity",
           **GRADE),
    Column("icans_onset_day", "numeric", "day of ICANS onset (missing if no ICANS)",
           nullable=True, lower=0, upper=365, group="toxicity"),
    Column("icans_duration", "numeric", "ICANS duration, days (missing if no ICANS)",
           nullable=True, lower=0, upper=365, group="toxicity"),
    Column("steroid_cum_dose", "numeric", "cumulative dexamethasone-equivalent dose, mg",
           lower=0, upper=1e5, group="toxicity"),
    # infection
    Column("infection_any_d30", "binary", "any infection by day 30", group="infection"),
    Column("infection_grade", "count", "maximum infection grade by day 30, 0 = none",
           group="infection", **GRADE),
    Column("infection_type", "category", "type of the most severe infection", nullable=True,
           levels=("bacterial", "viral", "fungal"), group="infection"),
    Column("infection_onset_day", "numeric", "day of onset of the most severe infection (missing if none)",
           nullable=True, lower=0, upper=30, group="infection"),
    # efficacy
    Column("best_response", "category", "best overall response", levels=("CR", "PR", "SD", "PD"),
           group="efficacy"),
    Column("efs_months", "numeric", "event-free survival time, months", lower=0, upper=600,
           group="efficacy"),
    Column("efs_event", "binary", "EFS event (progression, new therapy or death)",
           group="efficacy"),
    Column("os_months", "numeric", "overall survival time, months", lower=0, upper=600,
           group="efficacy"),
    Column("os_event", "binary", "death", group="efficacy"),
)

SCHEMA_BY_NAME = {c.name: c for c in SCHEMA}

#: Columns the validator adds (derived indicators). Names are stable; the spec may use them.
DERIVED = {
    "ipi_ge3": "IPI >= 3",
    "construct_41bb": "4-1BB construct (vs CD28)",
    "status_sdpd": "SD/PD at infusion (vs CR/PR)",
    "cns_or_extranodal": "CNS or extranodal disease",
}


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


def validate_cohort(df: pd.DataFrame, *, check_consistency: bool = True) -> pd.DataFrame:
    """Check ``df`` against :data:`SCHEMA` and return a typed copy with derived columns.

    No R twin: data validation (the cohort schema of this package).

    Raises :class:`CohortValidationError` (a ``ValueError``) listing every problem found:
    missing required columns, values of the wrong type, impossible values (negative days,
    grade 7, ...), missing values in non-nullable columns, duplicate ids, and internal
    inconsistencies (an onset day without the event, ``lines_ge3`` disagreeing with
    ``prior_lines``). Messages name column, rule and row count, never row values.
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"cohort must be a pandas DataFrame, got {type(df).__name__}")
    probs = _Problems()
    if len(df) == 0:
        probs.add("(all)", "non-empty", 0, "the cohort has no rows")
        raise CohortValidationError(probs.items)
    missing = [c.name for c in SCHEMA if c.required and c.name not in df.columns]
    for name in missing:
        probs.add(name, "required column", len(df), "required column is missing")
    out = pd.DataFrame(index=pd.RangeIndex(len(df)))
    for col in SCHEMA:
        if col.name not in df.columns:
            continue
        s = df[col.name].reset_index(drop=True)
        n_missing = int(s.isna().sum())
        if col.kind == "id":
            if n_missing:
                probs.add(col.name, "no missing values", n_missing, "missing patient id")
            ids = s.astype("string")
            dup = int(ids.duplicated(keep=False).sum())
            if dup:
                probs.add(col.name, "unique", dup, "duplicate patient id")
            out[col.name] = ids
            continue
        if col.kind == "binary":
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
            txt = s.astype("string").str.strip()
            bad = int((txt.notna() & ~txt.isin(col.levels)).sum())
            if bad:
                probs.add(col.name, f"one of {list(col.levels)}", bad, "unknown level")
            v = pd.Series(pd.Categorical(txt.where(txt.isin(col.levels)), categories=col.levels))
        elif col.kind == "date":
            v = pd.to_datetime(s, errors="coerce", format="mixed") if s.dtype == object or \
                pd.api.types.is_string_dtype(s) else pd.to_datetime(s, errors="coerce")
            nbad = int((v.isna() & s.notna()).sum())
            if nbad:
                probs.add(col.name, "date (YYYY-MM-DD)", nbad, "value is not a date")
        else:  # pragma: no cover - schema is static
            raise AssertionError(col.kind)
        if n_missing and not col.nullable:
            probs.add(col.name, "no missing values", n_missing, "missing value")
        out[col.name] = v
    if probs.items:
        raise CohortValidationError(probs.items)

    for c in ("ldh_elevated", "prior_hct", "cns", "extranodal", "anakinra", "infection_any_d30",
              "efs_event", "os_event", "prior_lines", "ipi", "crs_grade", "icans_grade",
              "infection_grade"):
        out[c] = out[c].astype("int64")
    derived_lines = (out["prior_lines"] >= 3).astype("int64")
    derived_kps = (out["kps"] <= 70).astype("int64")
    if check_consistency:
        for name, derived, rule in (("lines_ge3", derived_lines, "equals prior_lines >= 3"),
                                    ("kps_le70", derived_kps, "equals kps <= 70")):
            if name in out:
                k = int((out[name].astype("int64") != derived).sum())
                if k:
                    probs.add(name, rule, k, "disagrees with its source column")
        for ev, onset, dur in (("crs_grade", "crs_onset_day", "crs_duration"),
                               ("icans_grade", "icans_onset_day", "icans_duration")):
            k = int(((out[ev] == 0) & (out[onset].notna() | out[dur].notna())).sum())
            if k:
                probs.add(onset, f"missing when {ev} == 0", k,
                          "onset or duration recorded without the event")
            k = int(((out[ev] > 0) & out[onset].isna()).sum())
            if k:
                probs.add(onset, f"present when {ev} > 0", k, "event without an onset day")
        k = int((out["infection_any_d30"] != (out["infection_grade"] > 0)).sum())
        if k:
            probs.add("infection_any_d30", "equals infection_grade > 0", k,
                      "disagrees with infection_grade")
        has_inf = out["infection_any_d30"] == 1
        k = int((has_inf & (out["infection_type"].isna() | out["infection_onset_day"].isna())).sum())
        if k:
            probs.add("infection_type", "present when infection_any_d30 == 1", k,
                      "infection without type or onset day")
        k = int((~has_inf & (out["infection_type"].notna() | out["infection_onset_day"].notna())).sum())
        if k:
            probs.add("infection_type", "missing when infection_any_d30 == 0", k,
                      "type or onset day recorded without an infection")
        k = int((out["efs_months"] > out["os_months"] + 1e-9).sum())
        if k:
            probs.add("efs_months", "<= os_months", k, "EFS time longer than OS time")
        k = int(((out["os_event"] == 1) & (out["efs_event"] == 0)).sum())
        if k:
            probs.add("efs_event", "1 when os_event == 1", k, "death not counted as an EFS event")
        if probs.items:
            raise CohortValidationError(probs.items)

    out["lines_ge3"] = derived_lines
    out["kps_le70"] = derived_kps
    out["ipi_ge3"] = (out["ipi"] >= 3).astype("int64")
    out["construct_41bb"] = (out["construct"] == "4-1BB").astype("int64")
    out["status_sdpd"] = (out["status_at_infusion"] == "SD/PD").astype("int64")
    out["cns_or_extranodal"] = ((out["cns"] == 1) | (out["extranodal"] == 1)).astype("int64")
    extra = [c for c in df.columns if c not in out.columns]
    for c in extra:  # keep user columns (e.g. extra covariates the spec may name), untouched
        out[c] = df[c].reset_index(drop=True)
    return out


def parquet_engine() -> str | None:
    """The Parquet engine pandas can use here, or None."""
    for mod in ("pyarrow", "fastparquet"):
        if importlib.util.find_spec(mod) is not None:
            return mod
    return None


def read_cohort(path: str | Path, *, validate: bool = True) -> pd.DataFrame:
    """Read a cohort from CSV (``.csv``, ``.csv.gz``) or Parquet (``.parquet``, ``.pq``).

    No R twin: reads and validates a cohort table.

    Parquet needs pyarrow (or fastparquet); without it a ``CohortValidationError`` says so.
    The file is validated with :func:`validate_cohort` unless ``validate=False``.
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
            df = pd.read_parquet(p)
        except (OSError, ValueError) as e:  # pyarrow's ArrowInvalid is a ValueError
            raise CohortValidationError([{
                "column": "(file)", "rule": "readable Parquet", "rows": 0,
                "message": f"the Parquet file cannot be read ({type(e).__name__})",
            }]) from None
    elif name.endswith((".csv", ".csv.gz", ".txt")):
        try:
            df = pd.read_csv(p, dtype={"id": "string"})
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
    else:
        raise CohortValidationError([{
            "column": "(file)", "rule": "format", "rows": 0,
            "message": f"unsupported cohort file type '{p.suffix}': use .csv or .parquet",
        }])
    return validate_cohort(df) if validate else df


def schema_table() -> pd.DataFrame:
    """The schema as a table (for documentation and the report appendix)."""
    return pd.DataFrame([
        {"column": c.name, "kind": c.kind, "required": c.required, "missing allowed": c.nullable,
         "range": "" if c.lower is None else f"{c.lower:g}..{c.upper:g}",
         "levels": ", ".join(c.levels), "description": c.description}
        for c in SCHEMA
    ])
