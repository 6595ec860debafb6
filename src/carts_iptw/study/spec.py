"""The study specification (TOML): what to weight on, which outcomes, which models.

``load_spec(path)`` reads a TOML file with :mod:`tomllib` and returns a frozen
:class:`StudySpec`; unknown keys and wrong types raise ``ValueError`` naming the key, so a typo
never silently changes an analysis. ``default_spec()`` is the reference study
(``anakinra.toml``, bundled).

Outcome types:

- ``binary``: ``definition`` is an expression (``icans_grade >= 3``); weighted rate per arm,
  Rao-Scott chi-squared p (svychisq), and a weighted logistic model (svyglm quasibinomial,
  Firth when separation is detected) adjusted for ``adjust`` (the name of an adjustment set).
  ``among`` restricts to a subgroup (e.g. bacterial among infected).
- ``time_to_event``: ``time`` and ``event`` columns; weighted Kaplan-Meier per arm, survival at
  the spec's ``horizons``, weighted log-rank (svylogrank) and a weighted Cox model (robust SE)
  adjusted for ``adjust`` (``""`` = unadjusted).
- ``duration`` / ``count``: a non-negative column; weighted median [IQR] per arm and the weighted
  rank test (svyranktest). ``among`` restricts (e.g. ICANS duration among patients with ICANS).
- ``competing``: time to ``event`` (expression) at ``time`` (days), with death
  (``competing_time`` in months, ``competing_event``) competing, censored at ``censor_at`` days;
  weighted Aalen-Johansen cumulative incidence, and a weighted cause-specific Cox model.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from carts_iptw.study.eligibility import Eligibility
from carts_iptw.study.expr import columns_used

OUTCOME_TYPES = ("binary", "time_to_event", "duration", "count", "competing")
ESTIMANDS = ("ATE", "ATT", "ATC", "ATO", "ATM")
DEFAULT_SPEC_FILE = "anakinra.toml"


@dataclass(frozen=True)
class Table1Variable:
    column: str
    label: str
    type: str  # "continuous" | "binary" | "categorical"


@dataclass(frozen=True)
class Outcome:
    name: str
    label: str
    type: str
    definition: str | None = None  # binary / competing event
    among: str | None = None
    time: str | None = None
    event: str | None = None
    column: str | None = None
    adjust: str = ""
    primary: bool = False
    censor_at: float | None = None
    competing_time: str | None = None
    competing_event: str | None = None
    competing_time_scale: float = 1.0
    time_unit: str = "months"
    cox: bool = True


@dataclass(frozen=True)
class Propensity:
    covariates: tuple[str, ...]
    method: str = "glm"
    estimand: str = "ATE"
    stabilize: bool = False
    trim_at: float | None = None
    smd_threshold: float = 0.1


@dataclass(frozen=True)
class StudySpec:
    name: str
    treatment: str
    treated_label: str
    control_label: str
    eligibility: Eligibility
    propensity: Propensity
    table1: tuple[Table1Variable, ...]
    outcomes: tuple[Outcome, ...]
    adjustment_sets: dict[str, tuple[str, ...]] = field(default_factory=dict)
    horizons: tuple[float, ...] = (12.0,)
    description: str = ""
    source: str = ""

    def adjustment(self, name: str) -> tuple[str, ...]:
        if not name:
            return ()
        if name not in self.adjustment_sets:
            raise ValueError(f"spec: outcome uses unknown adjustment set '{name}'")
        return self.adjustment_sets[name]

    def columns_needed(self) -> list[str]:
        cols = [self.treatment, *self.propensity.covariates, *(v.column for v in self.table1)]
        for s in self.adjustment_sets.values():
            cols += list(s)
        for o in self.outcomes:
            for e in (o.definition, o.among):
                if e:
                    cols += columns_used(e)
            cols += [c for c in (o.time, o.event, o.column, o.competing_time, o.competing_event)
                     if c]
        return list(dict.fromkeys(cols))


def _take(d: dict, key: str, typ, where: str, default=...):
    if key not in d:
        if default is ...:
            raise ValueError(f"spec: [{where}] needs '{key}'")
        return default
    v = d.pop(key)
    if typ is float and isinstance(v, int) and not isinstance(v, bool):
        v = float(v)
    if not isinstance(v, typ) or (typ is not bool and isinstance(v, bool)):
        raise ValueError(f"spec: [{where}].{key} must be {getattr(typ, '__name__', typ)}, "
                         f"got {type(v).__name__}")
    return v


def _no_extra(d: dict, where: str) -> None:
    if d:
        raise ValueError(f"spec: unknown key(s) {sorted(d)} in [{where}]")


def _outcome(raw: dict, i: int) -> Outcome:
    d = dict(raw)
    where = f"outcomes #{i + 1}"
    name = _take(d, "name", str, where)
    where = f"outcomes.{name}"
    typ = _take(d, "type", str, where)
    if typ not in OUTCOME_TYPES:
        raise ValueError(f"spec: [{where}].type must be one of {OUTCOME_TYPES}, got {typ!r}")
    kw: dict[str, Any] = dict(name=name, type=typ, label=_take(d, "label", str, where, name))
    for key in ("definition", "among", "time", "event", "column", "adjust", "competing_time",
                "competing_event", "time_unit"):
        v = _take(d, key, str, where, None)
        if v is not None:
            kw[key] = v
    for key in ("censor_at", "competing_time_scale"):
        v = _take(d, key, float, where, None)
        if v is not None:
            kw[key] = v
    for key in ("primary", "cox"):
        v = _take(d, key, bool, where, None)
        if v is not None:
            kw[key] = v
    _no_extra(d, where)
    need = {"binary": ("definition",), "time_to_event": ("time", "event"),
            "duration": ("column",), "count": ("column",),
            "competing": ("time", "definition", "competing_time", "competing_event",
                          "censor_at")}[typ]
    for key in need:
        if key not in kw:
            raise ValueError(f"spec: [{where}] of type {typ} needs '{key}'")
    for key in ("definition", "among"):
        if key in kw:
            columns_used(kw[key])
    return Outcome(**kw)


def parse_spec(raw: dict, source: str = "") -> StudySpec:
    """Build a :class:`StudySpec` from a parsed TOML document."""
    raw = {k: (dict(v) if isinstance(v, dict) else v) for k, v in raw.items()}
    study = raw.pop("study", {})
    name = _take(study, "name", str, "study")
    description = _take(study, "description", str, "study", "")
    horizons = tuple(float(h) for h in _take(study, "horizons", list, "study", [12]))
    _no_extra(study, "study")

    t = raw.pop("treatment", {})
    treatment = _take(t, "column", str, "treatment")
    treated_label = _take(t, "treated_label", str, "treatment", "Treated")
    control_label = _take(t, "control_label", str, "treatment", "Control")
    _no_extra(t, "treatment")

    e = raw.pop("eligibility", {})
    ekw: dict[str, Any] = {}
    for key, typ in (("histologies", list), ("min_prior_lines", int), ("infusion_from", str),
                     ("infusion_to", str), ("policy", str), ("apply_policy_to", str),
                     ("extra", str)):
        v = _take(e, key, typ, "eligibility", None)
        if v is not None:
            ekw[key] = tuple(v) if typ is list else v
    _no_extra(e, "eligibility")
    elig = Eligibility(**ekw)

    p = raw.pop("propensity", {})
    covs = tuple(_take(p, "covariates", list, "propensity"))
    if not covs or not all(isinstance(c, str) for c in covs):
        raise ValueError("spec: [propensity].covariates must be a non-empty list of column names")
    estimand = _take(p, "estimand", str, "propensity", "ATE")
    if estimand not in ESTIMANDS:
        raise ValueError(f"spec: [propensity].estimand must be one of {ESTIMANDS}, got {estimand!r}")
    trim_at = _take(p, "trim_at", float, "propensity", None)
    if trim_at is not None and not (trim_at == 0 or 0 < trim_at < 1
                                    or (trim_at >= 1 and float(trim_at).is_integer())):
        # WeightIt's trim() reads 1.5 as "the top 1 weight" (floor) and a negative value is no
        # rule at all: in a study spec say what is meant
        raise ValueError(
            f"spec: [propensity].trim_at = {trim_at!r} is not a trimming rule: use 0 (no "
            "trimming), a quantile between 0 and 1 (e.g. 0.99: weights above their 99th "
            "percentile are set to it) or a whole number k >= 1 (the k largest weights)")
    if trim_at is not None and trim_at == 0:
        trim_at = None
    prop = Propensity(
        covariates=covs, method=_take(p, "method", str, "propensity", "glm"), estimand=estimand,
        stabilize=_take(p, "stabilize", bool, "propensity", False), trim_at=trim_at,
        smd_threshold=_take(p, "smd_threshold", float, "propensity", 0.1),
    )
    _no_extra(p, "propensity")

    adj_raw = raw.pop("adjustment", {})
    adjustment = {}
    for k, v in adj_raw.items():
        if not isinstance(v, list) or not all(isinstance(c, str) for c in v):
            raise ValueError(f"spec: [adjustment].{k} must be a list of column names")
        adjustment[k] = tuple(v)

    t1 = []
    for i, v in enumerate(raw.pop("table1", [])):
        d = dict(v)
        col = _take(d, "column", str, f"table1 #{i + 1}")
        typ = _take(d, "type", str, f"table1.{col}")
        if typ not in ("continuous", "binary", "categorical"):
            raise ValueError(f"spec: [table1.{col}].type must be continuous, binary or categorical")
        t1.append(Table1Variable(col, _take(d, "label", str, f"table1.{col}", col), typ))
        _no_extra(d, f"table1.{col}")

    outcomes = tuple(_outcome(o, i) for i, o in enumerate(raw.pop("outcomes", [])))
    names = [o.name for o in outcomes]
    if len(set(names)) != len(names):
        raise ValueError("spec: outcome names must be unique")
    _no_extra(raw, "(top level)")
    spec = StudySpec(
        name=name, treatment=treatment, treated_label=treated_label, control_label=control_label,
        eligibility=elig, propensity=prop, table1=tuple(t1), outcomes=outcomes,
        adjustment_sets=adjustment, horizons=horizons, description=description, source=source,
    )
    for o in outcomes:
        spec.adjustment(o.adjust)  # unknown set -> error now
    return spec


def load_spec(path: str | Path) -> StudySpec:
    """Read and check a study spec TOML file."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"spec file not found: {p}")
    if p.is_dir():
        raise ValueError(f"spec path {p} is a folder, not a file: pass the study's TOML file")
    if not p.read_text(encoding="utf-8").strip():
        raise ValueError(f"spec: {p.name} is empty (the format is in docs/study.md; the "
                         "reference study is anakinra.toml)")
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"spec: {p.name} is not valid TOML ({e})") from None
    return parse_spec(raw, source=str(p))


def default_spec_path() -> Path:
    return Path(str(resources.files("carts_iptw.study").joinpath(DEFAULT_SPEC_FILE)))


def default_spec() -> StudySpec:
    """The reference study (anakinra prophylaxis before CD19 CAR T)."""
    return load_spec(default_spec_path())
