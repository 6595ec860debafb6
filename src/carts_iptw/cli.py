"""``carts-iptw``: run the study, or check parity with R.

    carts-iptw demo --out DIR [--force]            the reference study on the bundled SYNTHETIC cohort
    carts-iptw run --data FILE --spec FILE --out DIR [--force]
    carts-iptw example NAME --out DIR [--force]    a bundled worked study (nhefs, rotterdam, lalonde)
    carts-iptw example --list                      their spec and data files
    carts-iptw verify DIR                          run DIR's reproduce.R in R and compare every
                                                   number of results.json (verification.html)
    carts-iptw parity --out FILE.md|FILE.html      every parity case, one row per quantity
    carts-iptw parity regenerate [--force]         rewrite tests/parity/snapshots from live R (prints
                                                   what changed; keeps a differing one without --force)
    (parity and regenerate take --case NAME or --case 'GLOB*', repeatable: exact names or globs)
    carts-iptw parity datasets                     re-export the reference data sets from R

DIR must be new, empty, or a previous carts-iptw output (it holds carts-iptw-manifest.json); only
the files that output lists are replaced. --force replaces a previous output whose files were
edited since; a folder without the manifest is never touched.

Exit codes: 0 success; 1 a parity row failed or a step failed; 2 bad input (the message names
the column and the rule) or an unusable output folder; 128 + N when signal N (SIGTERM, SIGINT)
stopped a run (the outputs are then unchanged).
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import sys
from pathlib import Path


def _progress(quiet: bool):
    if quiet:
        return None

    def report(msg: str) -> None:
        print(f"[carts-iptw] {msg}", file=sys.stderr, flush=True)

    return report


def _cmd_demo(ns) -> int:
    from carts_iptw.study.pipeline import run_demo

    res = run_demo(ns.out, progress=_progress(ns.quiet or ns.json), force=ns.force)
    return _finish_study(ns, res)


def _cmd_run(ns) -> int:
    from carts_iptw.study.pipeline import run_study

    res = run_study(ns.data, ns.spec, ns.out, progress=_progress(ns.quiet or ns.json),
                    force=ns.force, n_workers=ns.workers)
    return _finish_study(ns, res)


def _cmd_example(ns) -> int:
    from carts_iptw.study.pipeline import run_study
    from carts_iptw.study.spec import EXAMPLES, example_paths

    if ns.list or not ns.name:
        for name in EXAMPLES:
            spec, data = example_paths(name)
            print(f"{name}: --spec {spec} --data {data}")
        return 0 if ns.list else 2
    if ns.out is None:
        raise ValueError("example: --out DIR is required to run a worked study")
    spec, data = example_paths(ns.name)
    res = run_study(data, spec, ns.out, progress=_progress(ns.quiet or ns.json), force=ns.force)
    return _finish_study(ns, res)


def _finish_study(ns, res) -> int:
    if ns.json:
        print(json.dumps({"out": str(ns.out), "report": str(Path(ns.out) / "report.html"),
                          "results": str(Path(ns.out) / "results.json")}))
    elif not ns.quiet:
        print(f"report: {Path(ns.out) / 'report.html'}")
        print(f"results: {Path(ns.out) / 'results.json'}")
    return 0


def _select(patterns: list[str] | None):
    """Cases named exactly, or matched by an explicit glob (a pattern with * ? or [).

    Never a substring, so ``coxph.lung.iptw`` is that one case and not ``svycoxph.lung.iptw``.
    """
    from carts_iptw.parity.registry import all_cases

    cases = all_cases()
    if not patterns:
        return cases
    names = {c.name for c in cases}
    chosen: set[str] = set()
    for pattern in patterns:
        is_glob = any(ch in pattern for ch in "*?[")
        hit = {n for n in names if fnmatch.fnmatchcase(n, pattern)} if is_glob else {pattern} & names
        if not hit:
            raise SystemExit(f"no parity case {'matches' if is_glob else 'is named'} {pattern!r} "
                             "(give an exact name or a glob such as 'coxph.lung.*')")
        chosen |= hit
    return [c for c in cases if c.name in chosen]


def _cmd_parity(ns) -> int:
    from carts_iptw.parity import rbridge
    from carts_iptw.parity.report import summary_counts, to_html, to_markdown
    from carts_iptw.parity.runner import current_mode, run_case, variants

    mode = current_mode(ns.mode)
    cases = _select(ns.case)
    results = []
    for i, case in enumerate(cases, 1):
        for v in variants(case):
            if not ns.quiet:
                print(f"[{i}/{len(cases)}] {case.name} ({v})", file=sys.stderr, flush=True)
            results.append(run_case(case, mode, v))
    ok, why = rbridge.r_available()
    versions = rbridge.r_versions() if ok else {"R": f"not available ({why})", "packages": {}}
    text = (to_html if str(ns.out).endswith((".html", ".htm")) else to_markdown)(results, versions, mode)
    if ns.out:
        Path(ns.out).write_text(text)
    else:
        sys.stdout.write(text)
    cnt = summary_counts(results)
    print(f"parity: {cnt['passed']} passed, {cnt['failed']} failed, {cnt['skipped']} skipped "
          f"({cnt['cases']} cases)", file=sys.stderr)
    return 1 if cnt["failed"] else 0


def _cmd_regenerate(ns) -> int:
    """Rewrite snapshots from live R.

    A snapshot whose values (at the case's tolerance) or R warnings differ from live R is printed
    quantity by quantity and kept unless ``--force``; one that is current and agrees is left as it
    is; stale or legacy ones are rewritten.
    """
    from carts_iptw.parity import rbridge, snapshots
    from carts_iptw.parity.compare import compare_drift
    from carts_iptw.parity.runner import live_status, r_live_result_captured

    versions = rbridge.r_versions()
    written = unchanged = 0
    refused: list[str] = []
    for case in _select(ns.case):
        if case.external_snapshot:
            continue  # real-package output: copied with provenance, never regenerated here
        ok, why = live_status(case.r_packages)
        if not ok:
            print(f"cannot regenerate {case.name}: {why}", file=sys.stderr)
            return 1
        data = case.load_data()
        new, cond = r_live_result_captured(case, data)
        path = snapshots.snapshot_path(case)
        if path.is_file():
            doc = snapshots.read_snapshot(case)
            rows = compare_drift(case, new, doc["quantities"])
            changed = [r for r in rows if not r.passed]
            bits = [r for r in rows if r.passed and r.abs_diff > 0]
            old_w = doc.get("r_warnings")
            new_w = list(cond.get("warnings") or [])
            w_changed = old_w is not None and list(dict.fromkeys(old_w)) != list(dict.fromkeys(new_w))
            if changed or w_changed:
                print(f"{case.name}: live R differs from the snapshot", file=sys.stderr)
                for r in changed:
                    where = f" {r.worst}" if r.worst else ""
                    print(f"  {r.quantity}{where}: old {r.r!r} new {r.python!r} rel diff "
                          f"{r.rel_diff:.3g} (tolerance rel {r.rtol:g} abs {r.atol:g})"
                          + (f" {r.note}" if r.note else ""), file=sys.stderr)
                if w_changed:
                    print(f"  R warnings: old {old_w!r} new {new_w!r}", file=sys.stderr)
                if not ns.force:
                    refused.append(case.name)
                    continue
            elif (snapshots.staleness(case, data) is None and "input_hash" in doc
                  and old_w is not None and not ns.force):
                unchanged += 1
                continue
            if bits and not ns.quiet:
                print(f"{case.name}: {len(bits)} quantit{'y' if len(bits) == 1 else 'ies'} "
                      f"changed within tolerance (largest rel diff "
                      f"{max(r.rel_diff for r in bits):.3g})", file=sys.stderr)
        path = snapshots.write_snapshot(case, new, versions, cond)
        written += 1
        if not ns.quiet:
            print(f"wrote {path}", file=sys.stderr)
    print(f"{written} snapshot(s) written, {unchanged} current and unchanged, with {versions['R']}",
          file=sys.stderr)
    if refused:
        print(f"refused to overwrite {len(refused)} snapshot(s) that differ from live R (rerun "
              f"with --force to accept the new values): {', '.join(refused)}", file=sys.stderr)
        return 1
    return 0


def _cmd_datasets(ns) -> int:
    from carts_iptw.parity import rbridge

    ro = rbridge._r()
    root = rbridge.project_root()
    out = root / "src" / "carts_iptw" / "datasets" / "data"
    ro.r["source"](str(root / "r_reference" / "datasets.R"))
    for name in ro.r("names(parity_datasets())"):
        ro.r["export_dataset"](name, str(out))
        print(f"exported {name}", file=sys.stderr)
    return 0


def _cmd_verify(ns) -> int:
    from carts_iptw.study.verify import verify

    code, rows = verify(ns.folder, progress=_progress(ns.quiet))
    ok = sum(r.status == "match" for r in rows)
    bad = [r for r in rows if r.status == "DIFFERS"]
    nc = [r for r in rows if r.status == "not compared"]
    reasons: dict[str, int] = {}
    for r in nc:
        reasons[r.note] = reasons.get(r.note, 0) + 1
    for r in bad[:20]:
        print(f"DIFFERS {r.quantity}: Python {r.python}, R {r.r} ({r.note or 'outside tolerance'})")
    if len(bad) > 20:
        print(f"... and {len(bad) - 20} more (verification.html lists them all)")
    print(f"verify: {ok} quantities match R, {len(bad)} differ, {len(nc)} not compared"
          + "".join(f"\n  {v} not compared: {k}" for k, v in reasons.items()))
    print(f"verification: {Path(ns.folder) / 'verification.html'}")
    return code


def build_parser() -> argparse.ArgumentParser:
    """The ``carts-iptw`` argument parser with its subcommands."""
    p = argparse.ArgumentParser(prog="carts-iptw", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)

    for name, helptext in (("demo", "run the reference study on the bundled SYNTHETIC cohort"),
                           ("run", "run a study on your cohort")):
        s = sub.add_parser(name, help=helptext)
        if name == "run":
            s.add_argument("--data", required=True, help="cohort table (CSV or Parquet)")
            s.add_argument("--spec", required=True, help="study specification (TOML)")
            s.add_argument("--workers", type=int, default=None, metavar="N",
                           help="missing = \"mi\": impute and analyse on N local Dask worker "
                                "processes (extra 'distributed'; same results as serial)")
        s.add_argument("--out", required=True, type=Path,
                       help="output folder: new, empty, or a previous carts-iptw output")
        s.add_argument("--force", action="store_true",
                       help="replace a previous carts-iptw output even if its files were edited "
                            "(never a folder without carts-iptw-manifest.json)")
        s.add_argument("--quiet", action="store_true", help="no progress messages")
        s.add_argument("--json", action="store_true", help="print output paths as JSON")
        s.set_defaults(func=_cmd_demo if name == "demo" else _cmd_run)

    s = sub.add_parser("example", help="run a bundled worked study (NHEFS, Rotterdam, Lalonde)")
    s.add_argument("name", nargs="?", choices=("nhefs", "rotterdam", "lalonde"))
    s.add_argument("--list", action="store_true", help="print each example's spec and data path")
    s.add_argument("--out", type=Path, help="output folder (as for run)")
    s.add_argument("--force", action="store_true")
    s.add_argument("--quiet", action="store_true")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=_cmd_example)

    s = sub.add_parser("verify", help="recompute an output's numbers in R (its reproduce.R) "
                                      "and compare them with results.json")
    s.add_argument("folder", type=Path, help="the output folder of a run")
    s.add_argument("--quiet", action="store_true")
    s.set_defaults(func=_cmd_verify)

    s = sub.add_parser("parity", help="check every function against R")
    s.add_argument("action", nargs="?", choices=("report", "regenerate", "datasets"), default="report")
    s.add_argument("--out", type=Path, help="report file (.md or .html); stdout if omitted")
    s.add_argument("--mode", choices=("require", "auto", "snapshot"), default=None,
                   help="live R required / live when available / snapshots (default: $CARTS_IPTW_R or auto)")
    s.add_argument("--case", action="append", metavar="NAME|GLOB",
                   help="only this case (exact name) or the cases matching a glob such as "
                        "'coxph.lung.*'; may be repeated")
    s.add_argument("--force", action="store_true",
                   help="regenerate: overwrite snapshots whose values differ from live R")
    s.add_argument("--quiet", action="store_true")
    s.set_defaults(func=lambda ns: {"report": _cmd_parity, "regenerate": _cmd_regenerate,
                                    "datasets": _cmd_datasets}[ns.action](ns))
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status (2 for bad input)."""
    from carts_iptw.study.output import RunInterrupted

    ns = build_parser().parse_args(argv)
    try:
        return int(ns.func(ns) or 0)
    except ValueError as exc:  # bad input: message names the column and the rule
        print(f"carts-iptw: error: {exc}", file=sys.stderr)
        return 2
    except RunInterrupted as exc:
        print(f"carts-iptw: {exc}", file=sys.stderr)
        return 128 + exc.signum


if __name__ == "__main__":
    sys.exit(main())
