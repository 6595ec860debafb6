"""One call from a cohort table and a study spec to the complete, auditable set of results.

``run_study(data, spec, out_dir, progress=None)`` validates the cohort, applies eligibility,
fits the propensity weights, checks balance, and runs every outcome analysis of the spec; it
writes into ``out_dir``:

- ``report.html``: one self-contained page (figures embedded as base64 PNG, no external assets);
- ``results.json``: every number with the function and the R twin that made it (no NaN: a
  number that cannot be estimated is ``null`` with a ``reason``);
- ``tables/*.csv``: Table 1, balance, outcomes, odds ratios, survival, Cox, competing risks.

plus ``carts-iptw-manifest.json``, the list of the files it wrote with their sha256.

Nothing half-written and nothing else touched (:mod:`carts_iptw.study.output`): ``out_dir`` must
be new, empty, or a previous output of this package (its manifest), whose listed files alone are
replaced; the check runs before the analysis. Bad input raises
:class:`~carts_iptw.study.cohort.CohortValidationError` (a ``ValueError``; the CLI exits 2), an
unusable output folder :class:`~carts_iptw.study.output.OutputFolderError` (also exit 2).
``progress`` is called with one short message per step.

``run_demo(out_dir)`` runs the reference spec on the bundled SYNTHETIC cohort.
"""

from __future__ import annotations

import datetime as _dt
import os
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from carts_iptw.study import analysis as A
from carts_iptw.study.cohort import read_cohort, validate_cohort
from carts_iptw.study.eligibility import apply_eligibility
from carts_iptw.study.output import check_output_dir, write_outputs
from carts_iptw.study.provenance import R_TWINS, dumps
from carts_iptw.study.spec import StudySpec, default_spec, load_spec
from carts_iptw.study.synthetic import SYNTHETIC_LABEL, bundled_cohort_path

Progress = Callable[[str], None] | None


def _load_data(data, spec: StudySpec) -> tuple[pd.DataFrame, str, bool]:
    if isinstance(data, pd.DataFrame):
        synthetic = bool(data.attrs.get("synthetic", False))
        df = validate_cohort(data, spec)
        return df, "(DataFrame)", synthetic
    p = Path(data)
    if not p.is_file():
        from carts_iptw.study.cohort import CohortValidationError

        msg = (f"cohort path {p} is a folder, not a file: pass the cohort's CSV or Parquet file"
               if p.is_dir() else f"cohort file not found: {p}")
        raise CohortValidationError([{"column": "(file)", "rule": "file exists", "rows": 0,
                                      "message": msg}])
    df = read_cohort(p, spec)
    synthetic = "SYNTHETIC" in p.name.upper()
    return df, p.name, synthetic


def _r_readable(data, spec: StudySpec) -> bool:
    """The cohort is a CSV file R's read.csv types as the schema does (else the run writes a copy).

    Parquet (no arrow in Debian's R), a DataFrame, binary columns coded as text (yes/no) and
    dates not in ISO form are not.
    """
    import re

    from carts_iptw.study.cohort import read_table

    if isinstance(data, pd.DataFrame):
        return False
    p = Path(data)
    if not p.name.lower().endswith((".csv", ".csv.gz", ".txt")):
        return False
    sch = spec.schema()
    raw = read_table(p, sch.id_column)
    iso = re.compile(r"^\d{4}-\d{2}-\d{2}$")
    for c in sch.columns:
        if c.name not in raw.columns:
            continue
        s = raw[c.name].dropna()
        if c.kind == "binary" and not (pd.api.types.is_numeric_dtype(s)
                                       or pd.api.types.is_bool_dtype(s)):
            return False
        if c.kind == "date" and not s.astype(str).map(lambda v: bool(iso.match(v))).all():
            return False
    return True


def _reproduction(data, df: pd.DataFrame, spec: StudySpec) -> tuple[dict, bytes | None]:
    """Where reproduce.R reads the cohort: (meta.reproduce, the bytes of cohort.csv or None)."""
    import hashlib

    if _r_readable(data, spec):
        p = Path(data).expanduser().resolve()
        h = hashlib.sha256(p.read_bytes()).hexdigest()
        return {"cohort": str(p), "cohort_sha256": h, "cohort_copy": False}, None
    from carts_iptw.study.csv_copy import cohort_csv

    # pandas' to_csv text, built by column codes (~15 CPU s -> ~2 s at 10^6 rows)
    blob = cohort_csv(df, date_format="%Y-%m-%d").encode("utf-8")
    return {"cohort": COHORT_COPY, "cohort_sha256": hashlib.sha256(blob).hexdigest(),
            "cohort_copy": True,
            "note": f"{COHORT_COPY} holds the same patient data as the input (R cannot read "
                    "the input as supplied)"}, blob


#: the analysed cohort as CSV, written when R cannot read the input (Parquet, a DataFrame)
COHORT_COPY = "cohort.csv"


def _load_spec(spec) -> StudySpec:
    if spec is None:
        return default_spec()
    if isinstance(spec, StudySpec):
        return spec
    if Path(spec).is_dir():
        raise ValueError(f"spec path {spec} is a folder, not a file: pass the study's TOML file")
    if not Path(spec).is_file():
        raise ValueError(f"spec file not found: {spec}")
    return load_spec(spec)


def _analyse(df: pd.DataFrame, spec: StudySpec, step: Callable[[str], None], *, client=None,
             n_workers: int | None = None) -> tuple[dict, dict]:
    """Run every step; returns (results, objects for the figures)."""
    from carts_iptw.study.cohort import CohortValidationError

    missing = [c for c in spec.columns_needed() if c not in df.columns]
    if missing:
        raise CohortValidationError([
            {"column": c, "rule": "column named by the spec", "rows": len(df),
             "message": f"column '{c}': named by the spec but not in the cohort "
                        f"(column named by the spec; {len(df)} row(s))"} for c in missing])
    step("eligibility")
    complete = spec.model_columns() if spec.propensity.missing == "complete" else ()
    data, flow = apply_eligibility(df, spec.eligibility, spec.treatment, complete)
    if spec.propensity.missing == "mi":
        from carts_iptw.study.mi import analyse_mi

        res, objs = analyse_mi(data, spec, step, analyse_eligible, client=client,
                               n_workers=n_workers)
    else:
        res, objs = analyse_eligible(data, spec, step)
    res = {"flow": flow.to_dict(orient="records"), **res}
    objs["eligible"] = data
    return res, objs


def analyse_eligible(data: pd.DataFrame, spec: StudySpec, step: Callable[[str], None],
                     *, keep_fits: bool = False) -> tuple[dict, dict]:
    """Every analysis step on an already eligible, validated cohort.

    ``keep_fits``: keep the effect models in ``objs["fits"]`` (multiple imputation pools them).
    """
    A.check_model_columns(data, spec)
    ctx = A.Context(spec=spec, data=data.copy(), keep_fits=keep_fits)
    res: dict = {}
    objs: dict = {}
    step("propensity weights (weightit)")
    res["propensity"] = A.fit_weights(ctx)
    objs["weightit"] = ctx.weightit
    step("balance (bal_tab)")
    res["balance"], objs["bal"] = A.balance(ctx)
    A.make_design(ctx)
    step("Table 1 (unweighted and weighted)")
    res["table1"] = A.table1(ctx)
    res["binary_outcomes"], res["odds_ratios"], res["continuous_outcomes"] = [], [], []
    res["distribution_outcomes"], res["survival"], res["cox"] = [], [], []
    res["competing"] = []
    objs["km"], objs["cif"] = {}, {}
    outcomes = list(spec.outcomes)
    for i, o in enumerate(outcomes):
        if o.type == "binary":
            step(f"outcome {o.name}: weighted rate and adjusted odds ratio")
            res["binary_outcomes"].append(A.binary_outcome(ctx, o))
            res["odds_ratios"].append(A.odds_ratio(ctx, o))
        elif o.type == "continuous":
            step(f"outcome {o.name}: weighted means and their difference")
            res["continuous_outcomes"].append(A.continuous_outcome(ctx, o))
        elif o.type in ("duration", "count"):
            step(f"outcome {o.name}: weighted median and rank test")
            res["distribution_outcomes"].append(A.distribution_outcome(ctx, o))
        elif o.type == "time_to_event":
            step(f"outcome {o.name}: weighted Kaplan-Meier, log-rank, Cox")
            r, fit = A.time_to_event(ctx, o)
            res["survival"].append(r)
            objs["km"][o.name] = (fit, r)
            if o.cox:
                res["cox"].append(A.cox_model(ctx, o))
        elif o.type == "competing":
            step(f"outcome {o.name}: cumulative incidence (death competing)")
            r, fit = A.competing(ctx, o)
            res["competing"].append(r)
            objs["cif"][o.name] = (fit, r)
            if "cox" in r:
                res["cox"].append(r["cox"])
        A.release_frames(ctx, outcomes[i + 1:])  # the shared design matrices, once unused
    res["subgroups"] = []
    objs["subgroups"] = []
    for sg in spec.subgroups:
        step(f"subgroups of {sg.outcome} by {sg.modifier}")
        r, obj = A.subgroups(ctx, sg)
        res["subgroups"].append(r)
        objs["subgroups"].append(obj)
    res["warnings"] = ctx.warnings
    objs["fits"] = ctx.fits
    return res, objs


def run_study(data, spec, out_dir, progress: Progress = None, *, label: str | None = None,
              force: bool = False, client=None, n_workers: int | None = None) -> dict:
    """Run the study in ``spec`` on the cohort ``data``; write the outputs to ``out_dir``.

    Parameters
    ----------
    data : str, pathlib.Path or pandas.DataFrame
        A path (CSV or Parquet) or a DataFrame.
    spec : str, pathlib.Path, StudySpec or None
        A path to a TOML spec, a :class:`StudySpec`, or None for the reference spec.
    out_dir : str or pathlib.Path
        A new folder, an empty one, or a previous output of this package (see
        :mod:`carts_iptw.study.output`).
    progress : callable, optional
        Called with a message for each step.
    label : str, optional
        The data label in the report.
    force : bool, default False
        Replace a previous output whose files were edited since (never a folder without the
        manifest).
    client : dask.distributed.Client, optional
        With ``missing = "mi"``: run the imputation chains and the per-imputation analyses on
        this Dask cluster (:mod:`carts_iptw.resampling`'s engine; the results are those of a
        serial run). Ignored otherwise.
    n_workers : int, optional
        With ``missing = "mi"``: start a local cluster of this many single-threaded worker
        processes for them (extra ``distributed``). Ignored otherwise.

    Returns
    -------
    dict
        The results dict (as written to results.json).

    Raises
    ------
    ValueError
        Bad input (the cohort, the spec), naming the column and the rule.

    Notes
    -----
    No R twin: the whole study; each number in it comes from a parity-validated function
    (results.json names the function and its R twin for every number).
    """
    t0 = time.perf_counter()
    say = progress if progress is not None else (lambda msg: None)
    inputs = [p for p in (data, spec) if isinstance(p, str | os.PathLike)]
    target = check_output_dir(out_dir, inputs=inputs, force=force)
    say("reading cohort and spec")
    spec_obj = _load_spec(spec)
    df, data_name, synthetic = _load_data(data, spec_obj)
    # matplotlib must not need a display
    os.environ.setdefault("MPLBACKEND", "Agg")
    res, objs = _analyse(df, spec_obj, say, client=client, n_workers=n_workers)
    from carts_iptw import __version__

    meta = {
        "study": spec_obj.name, "description": spec_obj.description,
        "spec": Path(spec_obj.source).name if spec_obj.source else "(object)",
        "data": data_name, "synthetic": synthetic,
        "data_label": (label or SYNTHETIC_LABEL) if synthetic else (label or "user-supplied data"),
        "n_input": len(df), "n_analysed": int(res["flow"][-1]["remaining"]),
        "treatment": spec_obj.treatment, "arms": [spec_obj.control_label, spec_obj.treated_label],
        "estimand": spec_obj.propensity.estimand, "horizons": list(spec_obj.horizons),
        "time_unit": spec_obj.time_unit, "time_origin": spec_obj.time_origin,
        "package": "carts_iptw", "version": __version__,
        "generated_utc": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    meta["reproduce"], cohort_blob = _reproduction(data, df, spec_obj)
    results = {"meta": meta, **res, "functions": dict(R_TWINS)}
    if synthetic:
        from carts_iptw.study.calibration import calibration_table

        results["calibration"] = calibration_table(objs["eligible"], spec_obj.treatment,
                                                   meta["arms"])
    say("figures and report")
    from carts_iptw.report.html import render_report, write_figures, write_tables

    text = dumps(results)  # raises on NaN before anything is written
    from carts_iptw.study.reproduce import generate_r_script

    script = generate_r_script(
        spec_obj, results, cohort_file=meta["reproduce"]["cohort"],
        cohort_copy=cohort_blob is not None,
        generated_by=f"Generated by carts_iptw {__version__} from {meta['spec']} "
                     f"on {meta['generated_utc']}.")
    fig_files: dict = {}
    html = render_report(results, objs, fig_files)

    def write(folder: Path) -> None:
        (folder / "results.json").write_text(text, encoding="utf-8")
        write_tables(results, folder / "tables")
        write_figures(fig_files, folder / "figures", synthetic=bool(meta["synthetic"]))
        (folder / "report.html").write_text(html, encoding="utf-8")
        (folder / "reproduce.R").write_text(script, encoding="utf-8")
        if cohort_blob is not None:
            (folder / COHORT_COPY).write_bytes(cohort_blob)

    write_outputs(target, write, version=__version__)
    say(f"done in {time.perf_counter() - t0:.1f} s: {target.path}")
    return results


def run_demo(out_dir, progress: Progress = None, *, force: bool = False) -> dict:
    """The reference study (bundled spec) on the bundled SYNTHETIC cohort.

    Parameters
    ----------
    out_dir : str or pathlib.Path
        The output folder, as :func:`run_study`.
    progress : callable, optional
        Called with a message for each step.
    force : bool, default False
        As :func:`run_study`.

    Returns
    -------
    dict
        The results dict (as written to results.json).

    Notes
    -----
    No R twin: the whole study; each number in it comes from a parity-validated function.
    """
    return run_study(bundled_cohort_path(), None, out_dir, progress=progress, force=force)
