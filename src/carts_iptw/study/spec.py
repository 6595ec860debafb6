"""The study specification (TOML): what to weight on, which outcomes, which models.

``load_spec(path)`` reads a TOML file with :mod:`tomllib` and returns a frozen
:class:`StudySpec`; unknown keys and wrong types raise ``ValueError`` naming the key, so a typo
never silently changes an analysis. ``default_spec()`` is the reference study
(``anakinra.toml``, bundled).

Sections: ``[study]``, ``[cohort]`` (optional schema file), ``[treatment]``,
``[[eligibility]]`` (label + R rule, optionally for one arm), ``[propensity]``, ``[adjustment]``,
``[labels]``, ``[[table1]]``, ``[[outcomes]]``. Every condition is an R expression
(:mod:`carts_iptw.study.expr`); covariates are R formula terms (``I(age^2)``, ``factor(x)``).

Outcome types:

- ``binary``: ``definition`` is an expression (``icans_grade >= 3``); weighted rate per arm,
  Rao-Scott chi-squared p (svychisq), and a weighted logistic model (svyglm quasibinomial,
  Firth when separation is detected) adjusted for ``adjust`` (the name of an adjustment set).
  ``among`` restricts to a subgroup (e.g. bacterial among infected).
- ``continuous``: ``column``; weighted mean per arm (svymean) and the weighted mean
  difference from a weighted linear model (svyglm gaussian, design-based SE) adjusted for
  ``adjust``; ``among`` restricts.
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

import difflib
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from carts_iptw.study.eligibility import Eligibility, EligibilityStep
from carts_iptw.study.expr import columns_used

OUTCOME_TYPES = ("binary", "continuous", "time_to_event", "duration", "count", "competing")
TIME_UNITS = ("days", "weeks", "months", "years")
MISSING = ("error", "complete", "indicator", "mi")
SECTIONS = ("study", "cohort", "treatment", "eligibility", "propensity", "adjustment", "labels",
            "table1", "outcomes", "subgroups")
_KEYS = {
    "study": ("name", "description", "horizons", "time_unit", "time_origin", "rmst_tau"),
    "cohort": ("schema", "id"),
    "treatment": ("column", "treated_label", "control_label"),
    "eligibility": ("label", "rule", "applies_to"),
    "propensity": ("covariates", "method", "estimand", "stabilize", "trim_at", "smd_threshold",
                   "missing", "m", "seed"),
    "table1": ("column", "label", "type"),
    "outcomes": ("name", "label", "type", "definition", "among", "time", "event", "column",
                 "adjust", "primary", "censor_at", "competing_time", "competing_event",
                 "competing_time_scale", "time_unit", "cox", "rare"),
    "subgroups": ("modifier", "outcome", "weights", "label"),
}


def term_columns(term: str, where: str = "term") -> list[str]:
    """The data columns an R formula term reads (``I(age^2)`` -> ``age``)."""
    from carts_iptw.formula.evaluate import column_names_used
    from carts_iptw.formula.parser import parse_expression

    try:
        return column_names_used(parse_expression(term))
    except ValueError as e:
        raise ValueError(f"spec: {where}: '{term}' is not an R formula term ({e})") from None
ESTIMANDS = ("ATE", "ATT", "ATC", "ATO", "ATM")
DEFAULT_SPEC_FILE = "anakinra.toml"


@dataclass(frozen=True)
class Table1Variable:
    """A Table 1 row: column, label and type (continuous, binary or categorical)."""

    column: str
    label: str
    type: str  # "continuous" | "binary" | "categorical"


@dataclass(frozen=True)
class Outcome:
    """An outcome of the study spec.

    Binary, time-to-event, competing or continuous, with the columns and rules that define it.
    """

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
    time_unit: str = ""  # "" = the study's time unit
    cox: bool = True
    rare: bool | None = None  # E-value of an OR / HR: rare outcome (< 15%)? None = not given


@dataclass(frozen=True)
class Subgroup:
    """A ``[[subgroups]]`` entry: modifier column, outcome, weights (cohort / reestimate)."""

    modifier: str
    outcome: str
    weights: str = "cohort"  # "cohort" | "reestimate"
    label: str = ""


@dataclass(frozen=True)
class Propensity:
    """The propensity model of the spec.

    Covariates, weighting method, estimand, stabilisation, trimming, SMD threshold and missing-value
    policy.
    """

    covariates: tuple[str, ...]
    method: str = "glm"
    estimand: str = "ATE"
    stabilize: bool = False
    trim_at: float | None = None
    smd_threshold: float = 0.1
    missing: str = "error"  # "error" | "complete" | "indicator" | "mi"
    m: int = 5  # missing = "mi": number of imputations
    seed: int | None = None  # missing = "mi": seed of the imputations (required)

    @property
    def columns(self) -> list[str]:
        """The data columns the propensity terms read."""
        out: list[str] = []
        for t in self.covariates:
            out += [c for c in term_columns(t, "[propensity].covariates") if c not in out]
        return out


@dataclass(frozen=True)
class StudySpec:
    """A study specification read from TOML.

    Treatment, eligibility, propensity model, Table 1, outcomes and adjustment sets.
    """

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
    time_unit: str = "months"
    time_origin: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    schema_file: str = ""
    id_column: str = ""
    rmst_tau: float | None = None
    subgroups: tuple[Subgroup, ...] = ()

    def label(self, name: str) -> str:
        """The spec's label of a column or term (``[labels]``, then Table 1), else the name."""
        if name in self.labels:
            return self.labels[name]
        for v in self.table1:
            if v.column == name:
                return v.label
        return name

    def unit(self, o: Outcome) -> str:
        """An outcome's time unit (its own, else the study's)."""
        return o.time_unit or self.time_unit

    def model_columns(self) -> list[str]:
        """Columns of the propensity and adjustment terms (the covariates with the spec's missing-value policy)."""
        cols = list(self.propensity.columns)
        for name, terms in self.adjustment_sets.items():
            for t in terms:
                cols += [c for c in term_columns(t, f"[adjustment].{name}") if c not in cols]
        return cols

    def schema(self):
        """The cohort schema this spec needs, merged with the spec's schema file.

        The derived schema (:func:`carts_iptw.study.cohort.derive_schema`) and the schema
        file (``[cohort] schema``), whose rules take precedence.
        """
        from carts_iptw.study.cohort import derive_schema, load_schema

        derived = derive_schema(self)
        if self.schema_file:
            return derived.merged(load_schema(self.schema_file))
        return derived

    def adjustment(self, name: str) -> tuple[str, ...]:
        """The columns of the named adjustment set (empty for no name).

        ValueError for an unknown set.
        """
        if not name:
            return ()
        if name not in self.adjustment_sets:
            raise ValueError(f"spec: outcome uses unknown adjustment set '{name}'")
        return self.adjustment_sets[name]

    def columns_needed(self) -> list[str]:
        """Every column the study reads.

        Treatment, model, Table 1, eligibility rules and outcomes.
        """
        cols = [self.treatment, *self.model_columns(), *(v.column for v in self.table1)]
        for st in self.eligibility.steps:
            cols += columns_used(st.rule)
        for o in self.outcomes:
            for e in (o.definition, o.among):
                if e:
                    cols += columns_used(e)
            cols += [c for c in (o.time, o.event, o.column, o.competing_time, o.competing_event)
                     if c]
        for sg in self.subgroups:
            cols += term_columns(sg.modifier)
        return list(dict.fromkeys(cols))


def _mi_keys(p: dict, missing: str) -> tuple[int, int | None]:
    """``m`` and ``seed`` of ``missing = "mi"`` (multiple imputation); refused otherwise."""
    if missing != "mi":
        extra = [k for k in ("m", "seed") if k in p]
        if extra:
            raise ValueError(f"spec: [propensity].{extra[0]} is for missing = \"mi\" (multiple "
                             f"imputation) only; missing is {missing!r}")
        return 5, None
    m = _take(p, "m", int, "propensity", 5)
    if isinstance(m, bool) or m < 2:
        raise ValueError(f"spec: [propensity].m (the number of imputations) must be at least 2, "
                         f"got {m}: Rubin's rules need the between-imputation variance")
    if "seed" not in p:
        raise ValueError('spec: [propensity] missing = "mi" needs seed = <integer>: the '
                         "imputations must be reproducible")
    seed = _take(p, "seed", int, "propensity")
    if isinstance(seed, bool) or seed < 0:
        raise ValueError("spec: [propensity].seed must be a non-negative integer")
    return m, seed


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


def _suggest(word: str, options) -> str:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _known_keys(d: dict, section: str, where: str | None = None) -> None:
    """Unknown keys are named with their section before any other check (a typo never reads as a missing key)."""
    allowed = _KEYS[section]
    bad = [k for k in d if k not in allowed]
    if bad:
        hint = _suggest(bad[0], allowed)
        raise ValueError(f"spec: unknown key(s) {sorted(bad)} in [{where or section}]{hint}; "
                         f"known keys: {', '.join(allowed)}")


def _outcome(raw: dict, i: int, study_unit: str) -> Outcome:
    if not isinstance(raw, dict):
        raise ValueError(f"spec: [[outcomes]] #{i + 1} must be a table")
    d = dict(raw)
    where = f"outcomes #{i + 1}"
    _known_keys(d, "outcomes", where)
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
    for key in ("primary", "cox", "rare"):
        v = _take(d, key, bool, where, None)
        if v is not None:
            kw[key] = v
    _no_extra(d, where)
    if kw.get("time_unit") and kw["time_unit"] not in TIME_UNITS:
        raise ValueError(f"spec: [{where}].time_unit must be one of {TIME_UNITS}")
    need = {"binary": ("definition",), "continuous": ("column",),
            "time_to_event": ("time", "event"),
            "duration": ("column",), "count": ("column",),
            "competing": ("time", "definition", "competing_time", "competing_event",
                          "censor_at")}[typ]
    for key in need:
        if key not in kw:
            raise ValueError(f"spec: [{where}] of type {typ} needs '{key}'")
    for key in ("definition", "among"):
        if key in kw:
            columns_used(kw[key], f"[{where}].{key}")
    return Outcome(**kw)


def _table_entries(raw, section: str, keys: str):
    """Yield ``(where, entry)`` for each table of a ``[[section]]`` list.

    Each entry is a copy, its keys checked against the section's known keys; ``keys`` names the
    main ones in messages.
    """
    if not isinstance(raw, list):
        raise ValueError(f"spec: [[{section}]] must be a list of tables ({keys})")
    for i, e in enumerate(raw):
        if not isinstance(e, dict):
            raise ValueError(f"spec: [[{section}]] #{i + 1} must be a table ({keys})")
        d = dict(e)
        where = f"{section} #{i + 1}"
        _known_keys(d, section, where)
        yield where, d


def _subgroups(raw, outcomes) -> tuple[Subgroup, ...]:
    by_name = {o.name: o for o in outcomes}
    out = []
    for where, d in _table_entries(raw, "subgroups", "modifier, outcome"):
        modifier = _take(d, "modifier", str, where)
        outcome = _take(d, "outcome", str, where)
        weights = _take(d, "weights", str, where, "cohort")
        label = _take(d, "label", str, where, "")
        _no_extra(d, where)
        if term_columns(modifier, f"[{where}].modifier") != [modifier]:
            raise ValueError(f"spec: [{where}].modifier must be a column name")
        if weights not in ("cohort", "reestimate"):
            raise ValueError(f"spec: [{where}].weights must be 'cohort' or 'reestimate', "
                             f"got {weights!r}")
        if outcome not in by_name:
            raise ValueError(f"spec: [{where}].outcome '{outcome}' is not an outcome of the spec")
        if by_name[outcome].type not in ("binary", "continuous"):
            raise ValueError(f"spec: [{where}].outcome '{outcome}' is of type "
                             f"{by_name[outcome].type}; subgroups need a binary or continuous "
                             "outcome (a weighted svyglm)")
        out.append(Subgroup(modifier=modifier, outcome=outcome, weights=weights, label=label))
    return tuple(out)


def _eligibility(raw) -> Eligibility:
    if isinstance(raw, dict):
        raise ValueError(
            "spec: [eligibility] is a list of steps now: write each as [[eligibility]] with "
            "'label' and 'rule' (an R expression), e.g.\n[[eligibility]]\nlabel = \"adults\"\n"
            "rule = \"age >= 18\"\n(and applies_to = \"control\" for a rule on one arm)")
    steps = []
    for where, d in _table_entries(raw, "eligibility", "label, rule"):
        rule = _take(d, "rule", str, where)
        label = _take(d, "label", str, where, rule)
        applies = _take(d, "applies_to", str, where, "all")
        steps.append(EligibilityStep(label=label, rule=rule, applies_to=applies,
                                     where=f"eligibility rule '{label}'"))
    return Eligibility(tuple(steps))


def _find_file(name: str, source: str, where: str) -> str:
    """A file named in a spec.

    Absolute, or relative to the spec's folder, else one bundled with the package's worked studies
    (so a copied bundled spec still finds its schema).
    """
    p = Path(name)
    cands = [p] if p.is_absolute() else (
        ([Path(source).parent / p] if source else [Path.cwd() / p])
        + [Path(str(resources.files("carts_iptw.study").joinpath(name)))])
    for c in cands:
        if c.is_file():
            return str(c.resolve())
    raise ValueError(f"spec: {where}: file not found: {p.name}")


def parse_spec(raw: dict, source: str = "") -> StudySpec:
    """Build a :class:`StudySpec` from a parsed TOML document."""
    unknown = [k for k in raw if k not in SECTIONS]
    if unknown:
        raise ValueError(f"spec: unknown section [{unknown[0]}]{_suggest(unknown[0], SECTIONS)}; "
                         f"known sections: {', '.join(SECTIONS)}")
    raw = {k: (dict(v) if isinstance(v, dict) else v) for k, v in raw.items()}
    for sec in ("study", "cohort", "treatment", "propensity"):
        if sec in raw:
            if not isinstance(raw[sec], dict):
                raise ValueError(f"spec: [{sec}] must be a table")
            _known_keys(raw[sec], sec)
    study = raw.pop("study", {})
    name = _take(study, "name", str, "study")
    description = _take(study, "description", str, "study", "")
    horizons_raw = _take(study, "horizons", list, "study", [12])
    if not all(isinstance(h, int | float) and not isinstance(h, bool) and h > 0
               for h in horizons_raw):
        raise ValueError("spec: [study].horizons must be a list of positive numbers")
    horizons = tuple(float(h) for h in horizons_raw)
    time_unit = _take(study, "time_unit", str, "study", "months")
    if time_unit not in TIME_UNITS:
        raise ValueError(f"spec: [study].time_unit must be one of {TIME_UNITS}, got {time_unit!r}")
    time_origin = _take(study, "time_origin", str, "study", "")
    rmst_tau = _take(study, "rmst_tau", float, "study", None)
    if rmst_tau is not None and not rmst_tau > 0:
        raise ValueError("spec: [study].rmst_tau must be a positive number")
    _no_extra(study, "study")

    cohort = raw.pop("cohort", {})
    schema_file = _take(cohort, "schema", str, "cohort", "")
    if schema_file:
        schema_file = _find_file(schema_file, source, "[cohort].schema")
    cohort_id = _take(cohort, "id", str, "cohort", "")
    _no_extra(cohort, "cohort")

    t = raw.pop("treatment", {})
    treatment = _take(t, "column", str, "treatment")
    treated_label = _take(t, "treated_label", str, "treatment", "Treated")
    control_label = _take(t, "control_label", str, "treatment", "Control")
    _no_extra(t, "treatment")
    if treated_label == control_label:
        raise ValueError("spec: [treatment] treated_label and control_label must differ")

    elig = _eligibility(raw.pop("eligibility", []))

    p = raw.pop("propensity", {})
    covs = tuple(_take(p, "covariates", list, "propensity"))
    if not covs or not all(isinstance(c, str) for c in covs):
        raise ValueError("spec: [propensity].covariates must be a non-empty list of column names")
    for c in covs:
        term_columns(c, "[propensity].covariates")
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
    missing = _take(p, "missing", str, "propensity", "error")
    if missing == "impute":
        raise ValueError('spec: [propensity].missing = "impute": multiple imputation is '
                         'spelled missing = "mi" (with m and seed)')
    if missing not in MISSING:
        raise ValueError(f"spec: [propensity].missing must be one of {MISSING}, got {missing!r}")
    m_imp, seed = _mi_keys(p, missing)
    prop = Propensity(
        covariates=covs, method=_take(p, "method", str, "propensity", "glm"), estimand=estimand,
        stabilize=_take(p, "stabilize", bool, "propensity", False), trim_at=trim_at,
        smd_threshold=_take(p, "smd_threshold", float, "propensity", 0.1), missing=missing,
        m=m_imp, seed=seed,
    )
    _no_extra(p, "propensity")

    adj_raw = raw.pop("adjustment", {})
    adjustment = {}
    for k, v in adj_raw.items():
        if not isinstance(v, list) or not all(isinstance(c, str) for c in v):
            raise ValueError(f"spec: [adjustment].{k} must be a list of column names")
        for c in v:
            term_columns(c, f"[adjustment].{k}")
        adjustment[k] = tuple(v)

    labels_raw = raw.pop("labels", {})
    if not isinstance(labels_raw, dict) or not all(isinstance(v, str)
                                                   for v in labels_raw.values()):
        raise ValueError("spec: [labels] must map column or term names to text")
    labels = dict(labels_raw)

    t1 = []
    for i, v in enumerate(raw.pop("table1", [])):
        d = dict(v)
        _known_keys(d, "table1", f"table1 #{i + 1}")
        col = _take(d, "column", str, f"table1 #{i + 1}")
        typ = _take(d, "type", str, f"table1.{col}")
        if typ not in ("continuous", "binary", "categorical"):
            raise ValueError(f"spec: [table1.{col}].type must be continuous, binary or categorical")
        t1.append(Table1Variable(col, _take(d, "label", str, f"table1.{col}", col), typ))
        _no_extra(d, f"table1.{col}")

    outcomes = tuple(_outcome(o, i, time_unit) for i, o in enumerate(raw.pop("outcomes", [])))
    names = [o.name for o in outcomes]
    if len(set(names)) != len(names):
        raise ValueError("spec: outcome names must be unique")
    subgroups = _subgroups(raw.pop("subgroups", []), outcomes)
    _no_extra(raw, "(top level)")
    spec = StudySpec(
        name=name, treatment=treatment, treated_label=treated_label, control_label=control_label,
        eligibility=elig, propensity=prop, table1=tuple(t1), outcomes=outcomes,
        adjustment_sets=adjustment, horizons=horizons, description=description, source=source,
        time_unit=time_unit, time_origin=time_origin, labels=labels, schema_file=schema_file,
        id_column=cohort_id, rmst_tau=rmst_tau, subgroups=subgroups,
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
    """Path of the bundled reference spec."""
    return Path(str(resources.files("carts_iptw.study").joinpath(DEFAULT_SPEC_FILE)))


def default_spec() -> StudySpec:
    """The reference study (anakinra prophylaxis before CD19 CAR T)."""
    return load_spec(default_spec_path())


#: the worked studies bundled with the package (spec, data and README in study/examples/NAME)
EXAMPLES = ("nhefs", "rotterdam", "lalonde")


def example_paths(name: str) -> tuple[Path, Path]:
    """(spec, data) paths of a bundled worked study: ``nhefs``, ``rotterdam`` or ``lalonde``."""
    if name not in EXAMPLES:
        raise ValueError(f"unknown example '{name}'; choose one of {', '.join(EXAMPLES)}")
    folder = Path(str(resources.files("carts_iptw.study").joinpath("examples", name)))
    return folder / "study.toml", folder / f"{name}.csv"
