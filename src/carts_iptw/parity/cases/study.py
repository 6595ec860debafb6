"""End-to-end parity of the whole study: results.json against the R script the package generates.

One generator (:func:`carts_iptw.study.reproduce.generate_r_script`) writes the study in R from
its spec; every run ships it as ``reproduce.R`` and ``carts-iptw verify`` runs it on the user's
cohort. These cases run the same script (``r_reference/study.R``: ``ref_reproduce`` writes the
case's cohort as ``cohort.csv`` and sources the script) on the bundled SYNTHETIC cohort and on
the worked studies (NHEFS, Rotterdam, Lalonde, and Lalonde with 1974 earnings partly missing under
``missing = "complete"`` / ``"indicator"``), with the real WeightIt, cobalt, survey, survival and
marginaleffects. The script evaluates the spec's derived columns, eligibility rules and outcome
definitions as the R they are, so the spec's R expressions are checked against R itself.

Each quantity is a number of results.json keyed as :func:`carts_iptw.study.verify.quantities`
keys it; the quantities :func:`carts_iptw.study.verify.not_compared` lists (Firth, calibration)
are left out on both sides, with the reason there.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from carts_iptw.parity.registry import ParityCase, register

_PACKAGES = ("WeightIt", "cobalt", "survey", "survival", "marginaleffects", "insight", "jsonlite")
_TWIN = ("reproduce.R generated from the spec: WeightIt + cobalt + survey + survival + "
         "marginaleffects (r_reference/study.R runs it)")


def _spec():
    from carts_iptw.study.spec import default_spec

    return default_spec()


def _worked_spec(name: str, missing: str | None = None):
    import tomllib

    from carts_iptw.study.spec import example_paths, parse_spec

    path = example_paths(name)[0]
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    if missing:  # the missing-data variants (Lalonde with 1974 earnings partly missing)
        raw["propensity"]["missing"] = missing
        raw["table1"] = [t for t in raw["table1"] if t["column"] != MISSING_COLUMN]
    return parse_spec(raw, str(path))


#: the missing-data variants blank these rows of this Lalonde column
MISSING_COLUMN, MISSING_ROWS = "re74", (3, 50, 120, 400, 401, 530)


def cart_study() -> pd.DataFrame:
    """The bundled SYNTHETIC cohort as supplied (R reads it as the script reads a CSV)."""
    from carts_iptw.study.cohort import read_table
    from carts_iptw.study.synthetic import bundled_cohort_path

    return read_table(bundled_cohort_path(), _spec().schema().id_column)


def _worked_data(name: str, missing: str | None = None) -> pd.DataFrame:
    """The bundled cohort as supplied, without the derived columns (R derives them)."""
    from carts_iptw.study.cohort import read_table
    from carts_iptw.study.spec import example_paths

    sch = _worked_spec(name, missing).schema()
    raw = read_table(example_paths(name)[1], sch.id_column)
    if missing:
        raw.loc[list(MISSING_ROWS), MISSING_COLUMN] = np.nan
    return raw.drop(columns=[d.name for d in sch.derived if d.name in raw.columns])


def _args(spec_fn, skip=()) -> dict:
    """The script (generated from the spec alone: no path, no date) and the keys left out."""
    from carts_iptw.study.reproduce import generate_r_script

    return {"script": generate_r_script(spec_fn()), "skip": list(skip)}


def _tolerances(spec) -> dict:
    """verify's tolerances that are not the default: SMDs of the balance table (an absolute
    floor: overlap weights balance exactly) and marginaleffects' numerical jacobian (rel 1e-5 on
    the SE, p and limits of the g-computation effects)."""
    from carts_iptw.study.verify import AVG_COMPARISONS_RTOL, RTOL, SMD_ATOL

    tol = {"balance.rows": (RTOL, SMD_ATOL)}
    for o in spec.outcomes:
        if o.type == "binary":
            for eff in ("rd", "rr"):
                for leaf in ("se", "p"):
                    tol[f"odds_ratios.{o.name}.effects.{eff}.{leaf}"] = (AVG_COMPARISONS_RTOL, 0.0)
                for leaf in ("lower", "upper"):
                    tol[f"odds_ratios.{o.name}.effects.{eff}.{leaf}"] = (AVG_COMPARISONS_RTOL,
                                                                         1e-7)
    return tol


def results_quantities(res: dict, args) -> dict:
    """The compared numbers of a study's results (``_analyse``'s dict or results.json read
    back), keyed as :func:`carts_iptw.study.verify.quantities` keys them, without the ones
    :func:`~carts_iptw.study.verify.not_compared` lists or the case's ``args["skip"]`` matches."""
    import re

    from carts_iptw.study.verify import not_compared, quantities

    out = {}
    for key, cell in quantities(res).items():
        if not_compared(key, cell, res) or any(re.search(p, key) for p in args["skip"]):
            continue
        v = cell["value"]
        v = [np.nan if x is None else x for x in v] if isinstance(v, list) else \
            (np.nan if v is None else v)
        out[key] = np.atleast_1d(np.asarray(v, dtype=float))
    return out


def _python(spec_fn):
    def run(data: pd.DataFrame, args) -> dict:
        from carts_iptw.study.cohort import validate_cohort
        from carts_iptw.study.pipeline import _analyse

        spec = spec_fn()
        res, _ = _analyse(validate_cohort(data, spec), spec, lambda msg: None)
        return results_quantities(res, args)

    run.__name__ = f"python_{spec_fn.__name__}"
    return run


register(ParityCase(
    name="study.anakinra.SYNTHETIC",
    function="run_study",
    r_twin=_TWIN,
    dataset=cart_study,
    r_file="study.R",
    r_function="ref_reproduce",
    args=_args(_spec),
    python=_python(_spec),
    rtol=1e-6,
    exact=("flow",),
    tolerances=_tolerances(_spec()),
    r_packages=_PACKAGES,
    description="every number of the reference study on the bundled SYNTHETIC cohort, "
                "against its generated reproduce.R",
))


def _named(fn, name):
    fn.__name__ = name
    return fn


for _name, _what in (
        ("nhefs", "NHEFS (What If ch. 12): qsmk -> wt82_71, the book's PS model"),
        ("rotterdam", "Rotterdam: chemo -> relapse-free and overall survival (ATO)"),
        ("lalonde", "Lalonde: NSW training -> 1978 earnings and employment (ATT)")):
    _sp = _named(lambda n=_name: _worked_spec(n), f"worked_spec_{_name}")
    register(ParityCase(
        name=f"study.worked.{_name}",
        function="run_study",
        r_twin=_TWIN,
        dataset=_named(lambda n=_name: _worked_data(n), f"worked_{_name}"),
        r_file="study.R",
        r_function="ref_reproduce",
        # overlap weights (Rotterdam's ATO) balance every term of the propensity model exactly
        # (weighted SMDs ~1e-10, in Table 1 and the balance table): a quantity that cannot tell a
        # right value from a wrong one is left out (verify compares them with an absolute floor
        # of 1e-8); the propensity score's own weighted SMD is kept
        args=_args(_sp, [r"^table1\..*\.smd_weighted$",
                         r"^balance\.rows\.(?!prop\.score\.).*\.Diff\.Adj$",
                         r"^balance\.max_abs_smd_weighted$"] if _name == "rotterdam" else []),
        python=_python(_sp),
        rtol=1e-6,
        exact=("flow",),
        tolerances=_tolerances(_worked_spec(_name)),
        r_packages=_PACKAGES,
        description=f"the bundled worked study end to end: {_what}",
    ))


for _missing in ("complete", "indicator"):
    _sp = _named(lambda m=_missing: _worked_spec("lalonde", m), f"lalonde_{_missing}")
    register(ParityCase(
        name=f"study.worked.lalonde.missing_{_missing}",
        function="run_study",
        r_twin=_TWIN,
        dataset=_named(lambda m=_missing: _worked_data("lalonde", m),
                       f"worked_lalonde_{_missing}"),
        r_file="study.R",
        r_function="ref_reproduce",
        args=_args(_sp),
        python=_python(_sp),
        rtol=1e-6,
        exact=("flow",),
        tolerances=_tolerances(_worked_spec("lalonde", _missing)),
        r_packages=_PACKAGES,
        description=f"Lalonde with 1974 earnings missing for {len(MISSING_ROWS)} men, "
                    f"[propensity] missing = '{_missing}'",
    ))
