"""The parity report: one row per checked quantity, Markdown or HTML, with R's versions.

At its top a coverage table (public function x kind of reference: the R package live, a
snapshot of it, a recorded real-package output, an independent computation), then one line per
function, then every row with what it was compared against (``compared_against``) and its check
("parity": Python vs R; "drift": live R vs the stored snapshot; "warnings": Python's warnings vs
R's), then R's warnings and messages as captured.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable

from carts_iptw.parity.runner import CaseResult

COLUMNS = ("function", "R twin", "dataset", "case", "check", "quantity", "Python", "R", "abs diff",
           "rel diff", "tolerance", "result", "compared against")
RESULT = COLUMNS.index("result")

#: coverage columns: (key, heading)
COVERAGE = (
    ("package-live", "R package, live"),
    ("package-snapshot", "R package, snapshot"),
    ("snapshot-real", "recorded real-package output"),
    ("independent", "independent computation"),
    ("skipped", "skipped"),
)


def coverage_kind(res: CaseResult) -> str:
    """The coverage column of one case run."""
    if res.skipped:
        return "skipped"
    if res.variant == "live-external":
        return "package-live"
    kind = res.case.reference_kind
    if kind == "package":
        return "package-live" if res.source.startswith("live") else "package-snapshot"
    return kind


def compared_against(res: CaseResult) -> str:
    """What the Python side of this run was compared against, in words."""
    c = res.case
    kind = coverage_kind(res)
    pkg = c.twin_package or "R"
    if kind == "package-live":
        return f"{pkg} itself, {res.source}" + (
            "" if c.drift else "; no drift check (random R side, ParityCase.drift=False)")
    if kind == "package-snapshot":
        return f"{pkg} itself, via its {res.source}"
    if kind == "snapshot-real":
        return f"recorded output of the real {pkg}: {res.source}" + (
            f" ({c.reference_reason})" if c.reference_reason else "")
    if kind == "independent":
        return f"independent computation ({res.source}): {c.reference_why}"
    return res.skipped or ""


def _num(v) -> str:
    if v is None:
        return "NA"
    if isinstance(v, str):
        return v
    if isinstance(v, float) and not math.isfinite(v):
        return "NaN" if math.isnan(v) else ("Inf" if v > 0 else "-Inf")
    return f"{v:.12g}"


def _rows(results: Iterable[CaseResult]):
    for res in results:
        c = res.case
        name = c.name + ("" if res.variant == "reference" else f" [{res.variant}]")
        if res.skipped:
            yield (c.function, c.r_twin, c.dataset_name, name, "", "(all)", "", "", "", "", "",
                   "SKIPPED", res.skipped)
            continue
        if res.error:
            yield (c.function, c.r_twin, c.dataset_name, name, "", "(all)", "", "", "", "", "",
                   "ERROR", res.error.splitlines()[0])
            continue
        against = compared_against(res)
        for r in res.rows:
            q = r.quantity + (f" {r.worst}" if r.worst else "")
            tol = "exact" if r.rtol == 0 and r.atol == 0 else f"rel {r.rtol:g}" + (f" + abs {r.atol:g}" if r.atol else "")
            src = r.source if r.check == "drift" else against
            yield (r.function, r.r_twin, r.dataset, name, r.check, q, _num(r.python), _num(r.r),
                   _num(r.abs_diff), _num(r.rel_diff), tol, "pass" if r.passed else "FAIL",
                   src + (f"; {r.note}" if r.note else ""))


def coverage(results: list[CaseResult]) -> list[tuple[str, list[int]]]:
    """(function, case runs per COVERAGE column) for every public function."""
    acc: dict[str, list[int]] = {}
    keys = [k for k, _ in COVERAGE]
    for res in results:
        row = acc.setdefault(res.case.function, [0] * len(keys))
        row[keys.index(coverage_kind(res))] += 1
    return sorted(acc.items())


def peer_rows(results: list[CaseResult]) -> list[tuple]:
    """(case, quantity and the element where the peer differs most, R there, ours: max rel diff
    over the quantity, peer, peer value there, peer: max rel diff vs R, note)."""
    out = []
    for res in results:
        for r in res.rows:
            for name, (label, val, rval, rel, note) in sorted(r.peers.items()):
                out.append((res.case.name, r.quantity + (f" {label}" if label else ""), _num(rval),
                            _num(r.rel_diff), name, _num(val), _num(rel), note))
    return out


PEER_COLUMNS = ("case", "quantity", "R", "ours: max rel diff", "peer", "peer value",
                "peer: max rel diff vs R", "note")


def r_conditions(results: list[CaseResult]) -> list[tuple[str, str, str]]:
    """(case, "warning" / "message", text) for every R warning and message captured."""
    out = []
    for res in results:
        cond = res.r_conditions or {}
        for kind in ("warnings", "messages"):
            for text in dict.fromkeys(cond.get(kind) or []):
                out.append((res.case.name, kind[:-1], " ".join(str(text).split())))
    return out


def summary_counts(results: list[CaseResult]) -> dict[str, int]:
    rows = [r for res in results for r in res.rows]
    return {
        "cases": len({res.case.name for res in results}),
        "quantities": len(rows),
        "passed": sum(r.passed for r in rows),
        "failed": sum(not r.passed for r in rows) + sum(1 for res in results if res.error),
        "skipped": sum(1 for res in results if res.skipped),
    }


def by_function(results: list[CaseResult]) -> list[tuple[str, str, int, int, int, str]]:
    """(function, R twins, cases, quantities, failed, sources) per public function."""
    acc: dict[str, dict] = {}
    for res in results:
        a = acc.setdefault(res.case.function, {"twins": [], "cases": set(), "q": 0, "bad": 0, "src": set()})
        if res.case.r_twin not in a["twins"]:
            a["twins"].append(res.case.r_twin)
        a["cases"].add(res.case.name)
        a["q"] += len(res.rows)
        a["bad"] += sum(not r.passed for r in res.rows) + (1 if res.error else 0)
        a["src"].add(dict(COVERAGE)[coverage_kind(res)])
    return [(f, "; ".join(a["twins"]), len(a["cases"]), a["q"], a["bad"], "; ".join(sorted(a["src"])))
            for f, a in sorted(acc.items())]


def header_lines(versions: dict, mode: str) -> list[str]:
    pk = ", ".join(f"{k} {v}" for k, v in versions.get("packages", {}).items() if v)
    missing = ", ".join(k for k, v in versions.get("packages", {}).items() if not v)
    lines = [f"R: {versions.get('R', 'not available')}", f"R packages: {pk or 'none'}"]
    if missing:
        lines.append(f"R packages not installed (their cases use real-output snapshots): {missing}")
    lines.append(f"rpy2: {versions.get('rpy2', 'n/a')}; mode: {mode}")
    return lines


def to_markdown(results: list[CaseResult], versions: dict, mode: str) -> str:
    cnt = summary_counts(results)
    out = ["# carts_iptw parity report", ""]
    out += [f"- {line}" for line in header_lines(versions, mode)]
    out += [f"- {cnt['cases']} cases, {cnt['quantities']} quantities: {cnt['passed']} passed, "
            f"{cnt['failed']} failed, {cnt['skipped']} skipped variants", ""]
    out += ["## Coverage: what each public function is checked against (case runs)", "",
            "| function | " + " | ".join(h for _, h in COVERAGE) + " |",
            "|---|" + "---|" * len(COVERAGE)]
    for f, counts in coverage(results):
        out.append(f"| `{f}` | " + " | ".join(str(n) if n else "" for n in counts) + " |")
    out += ["", "## By function", "", "| function | R twin(s) | cases | quantities | failed | compared against |",
            "|---|---|---|---|---|---|"]
    for f, twins, nc, nq, bad, src in by_function(results):
        out.append(f"| `{f}` | {twins} | {nc} | {nq} | {bad} | {src} |")
    out += ["", "## Every quantity", ""]
    out.append("| " + " | ".join(COLUMNS) + " |")
    out.append("|" + "---|" * len(COLUMNS))
    for row in _rows(results):
        out.append("| " + " | ".join(str(x).replace("|", "\\|") for x in row) + " |")
    peers = peer_rows(results)
    if peers:
        from carts_iptw.parity.peers import versions

        pv = ", ".join(f"{k} {v}" for k, v in versions().items())
        out += ["", f"## Peers: common Python tools against R ({pv}; not part of pass/fail)", "",
                "| " + " | ".join(PEER_COLUMNS) + " |", "|" + "---|" * len(PEER_COLUMNS)]
        out += ["| " + " | ".join(str(x).replace("|", "\\|") for x in row) + " |" for row in peers]
    cond = r_conditions(results)
    if cond:
        out += ["", "## R's warnings and messages (as captured)", "", "| case | kind | text |", "|---|---|---|"]
        out += ["| " + " | ".join(x.replace("|", "\\|") for x in (c, k, t)) + " |" for c, k, t in cond]
    return "\n".join(out) + "\n"


def to_html(results: list[CaseResult], versions: dict, mode: str) -> str:
    cnt = summary_counts(results)
    head = "".join(f"<li>{html.escape(line)}</li>" for line in header_lines(versions, mode))
    body = []
    for row in _rows(results):
        cls = {"pass": "pass", "FAIL": "fail", "ERROR": "fail", "SKIPPED": "skip"}[row[RESULT]]
        body.append(f'<tr class="{cls}">' + "".join(f"<td>{html.escape(str(x))}</td>" for x in row) + "</tr>")
    cov = "".join(
        f"<tr><td>{html.escape(f)}</td>" + "".join(f"<td>{n or ''}</td>" for n in counts) + "</tr>"
        for f, counts in coverage(results))
    cond = "".join(f"<tr><td>{html.escape(c)}</td><td>{k}</td><td>{html.escape(t)}</td></tr>"
                   for c, k, t in r_conditions(results))
    prs = peer_rows(results)
    peers = "" if not prs else (
        "<h2>Peers: common Python tools against R (not part of pass/fail)</h2><table><thead><tr>"
        + "".join(f"<th>{html.escape(c)}</th>" for c in PEER_COLUMNS) + "</tr></thead><tbody>"
        + "".join("<tr>" + "".join(f"<td>{html.escape(str(x))}</td>" for x in row) + "</tr>" for row in prs)
        + "</tbody></table>")
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>carts_iptw parity report</title>
<style>body{{font-family:sans-serif;margin:1.5em}}table{{border-collapse:collapse;font-size:12px}}
td,th{{border:1px solid #ccc;padding:2px 6px}}tr.fail{{background:#fdd}}tr.skip{{background:#ffd}}
th{{background:#eee;position:sticky;top:0}}</style></head><body>
<h1>carts_iptw parity report</h1><ul>{head}<li>{cnt['cases']} cases, {cnt['quantities']} quantities:
{cnt['passed']} passed, {cnt['failed']} failed, {cnt['skipped']} skipped variants</li></ul>
<h2>Coverage: what each public function is checked against (case runs)</h2><table><thead><tr>
<th>function</th>{''.join(f'<th>{html.escape(h)}</th>' for _, h in COVERAGE)}</tr></thead><tbody>{cov}</tbody></table>
<h2>By function</h2><table><thead><tr><th>function</th><th>R twin(s)</th><th>cases</th>
<th>quantities</th><th>failed</th><th>compared against</th></tr></thead><tbody>
{''.join(f'<tr class="{"fail" if b else "pass"}"><td>{html.escape(f)}</td><td>{html.escape(t)}</td><td>{nc}</td><td>{nq}</td><td>{b}</td><td>{html.escape(src)}</td></tr>' for f, t, nc, nq, b, src in by_function(results))}
</tbody></table><h2>Every quantity</h2>
<table><thead><tr>{''.join(f'<th>{c}</th>' for c in COLUMNS)}</tr></thead><tbody>
{''.join(body)}</tbody></table>{peers}
<h2>R's warnings and messages (as captured)</h2><table><thead><tr><th>case</th><th>kind</th><th>text</th></tr></thead>
<tbody>{cond}</tbody></table></body></html>
"""
