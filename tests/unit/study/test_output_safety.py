"""The output folder: never a file the run did not write, nothing half-written, signals undone.

The writing phase has fault-injection points (``carts_iptw.study.output._fault``): a test raises
or sends itself SIGTERM/SIGINT there, deterministically, instead of racing a timer.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from carts_iptw.study import output as O
from carts_iptw.study.output import (
    MANIFEST_NAME,
    OutputFolderError,
    RunInterrupted,
    check_output_dir,
    write_outputs,
)
from carts_iptw.study.synthetic import bundled_cohort_path


def _writer(tag: str):
    def write(folder: Path) -> None:
        (folder / "results.json").write_text(json.dumps({"run": tag}))
        (folder / "tables").mkdir()
        (folder / "tables" / "t1.csv").write_text(f"a,b\n{tag},1\n")
        (folder / "report.html").write_text(f"<p>{tag}</p>")
    return write


def _content(p: Path) -> str | bytes:
    try:
        return p.read_text()
    except UnicodeDecodeError:  # a figure's PNG
        return p.read_bytes()


def _tree(folder: Path) -> dict[str, str | bytes]:
    return {p.relative_to(folder).as_posix(): _content(p) for p in sorted(folder.rglob("*"))
            if p.is_file()}


def _run(out: Path, tag: str, **kw) -> list[str]:
    return write_outputs(check_output_dir(out, **kw), _writer(tag), version="test")


def _no_leftovers(parent: Path) -> None:
    hidden = [p.name for p in parent.rglob(".*") if "carts-iptw" in p.name]
    assert hidden == []


@pytest.fixture
def fault(monkeypatch):
    def set_fault(step: str, action):
        def hook(name: str) -> None:
            if name == step:
                action()
        monkeypatch.setattr(O, "_fault", hook)
    return set_fault


def test_new_folder_gets_outputs_and_manifest(tmp_path):
    out = tmp_path / "a" / "b" / "out"
    files = _run(out, "one")
    assert sorted(files) == sorted(["results.json", "tables/t1.csv", "report.html", MANIFEST_NAME])
    man = json.loads((out / MANIFEST_NAME).read_text())
    assert man["package"] == "carts_iptw" and set(man["files"]) == set(files) - {MANIFEST_NAME}
    _no_leftovers(tmp_path)


def test_empty_existing_folder_is_used(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    _run(out, "one")
    assert json.loads((out / "results.json").read_text()) == {"run": "one"}
    _no_leftovers(tmp_path)


@pytest.mark.parametrize("others", [["cohort.csv", "spec.toml", "thesis.docx"], ["x"],
                                    [".hidden"], ["sub/deep.txt"]])
def test_unmarked_nonempty_folder_is_refused_and_untouched(tmp_path, others):
    out = tmp_path / "work"
    for rel in others:
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_text(f"user file {rel}")
    before = _tree(out)
    for force in (False, True):
        with pytest.raises(OutputFolderError, match="not a previous carts-iptw output"):
            _run(out, "one", force=force)
    assert _tree(out) == before


def test_previous_output_is_replaced_and_user_files_kept(tmp_path):
    out = tmp_path / "out"
    _run(out, "one")
    (out / "my-notes.txt").write_text("keep me")
    (out / "tables" / "mine.csv").write_text("keep me too")
    _run(out, "two")
    tree = _tree(out)
    assert tree["my-notes.txt"] == "keep me" and tree["tables/mine.csv"] == "keep me too"
    assert json.loads(tree["results.json"]) == {"run": "two"}
    _no_leftovers(tmp_path)


def test_previous_output_files_not_rewritten_are_removed(tmp_path):
    out = tmp_path / "out"
    _run(out, "one")

    def fewer(folder: Path) -> None:
        (folder / "results.json").write_text("{}")

    write_outputs(check_output_dir(out), fewer, version="test")
    assert sorted(_tree(out)) == [MANIFEST_NAME, "results.json"]
    assert not (out / "tables").exists()


def test_edited_previous_output_needs_force(tmp_path):
    out = tmp_path / "out"
    _run(out, "one")
    (out / "report.html").write_text("edited by hand")
    with pytest.raises(OutputFolderError, match="--force"):
        _run(out, "two")
    assert (out / "report.html").read_text() == "edited by hand"
    _run(out, "two", force=True)
    assert (out / "report.html").read_text() == "<p>two</p>"


def test_forged_manifest_naming_outside_files_is_not_a_marker(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    out = tmp_path / "out"
    out.mkdir()
    (out / MANIFEST_NAME).write_text(json.dumps(
        {"marker": O._MARK, "files": {"../victim.txt": O._sha256(victim)}}))
    with pytest.raises(OutputFolderError, match="not a previous carts-iptw output"):
        _run(out, "one", force=True)
    assert victim.read_text() == "precious"


@pytest.mark.parametrize("where", ["same", "above"])
def test_out_that_holds_an_input_is_refused(tmp_path, where):
    data = tmp_path / "proj" / "cohort.csv"
    data.parent.mkdir()
    data.write_text("x")
    out = data.parent if where == "same" else tmp_path
    with pytest.raises(OutputFolderError, match="input file"):
        check_output_dir(out, inputs=[data])
    with pytest.raises(OutputFolderError, match="input file"):
        check_output_dir(data, inputs=[data])
    assert data.read_text() == "x"


def test_out_is_a_file_or_under_a_file(tmp_path):
    f = tmp_path / "f.txt"
    f.write_text("x")
    with pytest.raises(OutputFolderError, match="not a folder"):
        check_output_dir(f)
    with pytest.raises(OutputFolderError, match="not a folder"):
        check_output_dir(f / "sub" / "out")
    assert f.read_text() == "x"


def test_unwritable_location(tmp_path):
    with pytest.raises(OutputFolderError, match="cannot write"):
        check_output_dir("/proc/carts-iptw-x")


@pytest.mark.parametrize("step", ["staged", "moved-old", "moved-new"])
def test_failure_while_writing_keeps_previous_output(tmp_path, fault, step):
    out = tmp_path / "out"
    _run(out, "one")
    (out / "mine.txt").write_text("user")
    before = _tree(out)

    def boom():
        raise OSError(28, "No space left on device")

    fault(step, boom)
    with pytest.raises(OutputFolderError, match="No space left on device"):
        _run(out, "two")
    assert _tree(out) == before
    _no_leftovers(tmp_path)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
@pytest.mark.parametrize("previous", [False, True])
def test_signal_while_writing_is_undone(tmp_path, fault, sig, previous):
    out = tmp_path / "out"
    # the handlers in place before the run (a CI job started in the background has SIGINT
    # ignored, not Python's default_int_handler): the run must put back whatever was there
    handlers = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    if previous:
        _run(out, "one")
    before = _tree(out) if previous else None
    fault("staged", lambda: signal.raise_signal(sig))  # to this thread: handled before return
    with pytest.raises(RunInterrupted) as ei:
        _run(out, "two")
    assert ei.value.signum == sig and not ei.value.completed
    if previous:
        assert _tree(out) == before
    else:
        assert not out.exists()
    _no_leftovers(tmp_path)
    # the handlers are restored afterwards
    assert {s: signal.getsignal(s) for s in handlers} == handlers


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_during_swap_completes_the_swap(tmp_path, fault, sig):
    """A signal while files are being swapped is held until the swap is whole."""
    out = tmp_path / "out"
    _run(out, "one")
    fault("moved-old", lambda: signal.raise_signal(sig))
    with pytest.raises(RunInterrupted) as ei:
        _run(out, "two")
    assert ei.value.completed and "written in full" in str(ei.value)
    assert json.loads((out / "results.json").read_text()) == {"run": "two"}
    assert O._read_manifest(out) is not None
    _no_leftovers(tmp_path)


# --- the CLI, as a user runs it -----------------------------------------------------------------

def _cli(args, cwd, fault_step=None, sig=None):
    """carts-iptw in a subprocess; optionally send itself `sig` at a fault-injection point."""
    code = "import sys\nfrom carts_iptw.cli import main\n"
    if fault_step:
        code += textwrap.dedent(f"""
            import os, signal
            from carts_iptw.study import output
            def hook(name):
                if name == {fault_step!r}:
                    signal.raise_signal({int(sig)})
            output._fault = hook
        """)
    code += f"sys.exit(main({list(map(str, args))!r}))\n"
    env = {**os.environ, "MPLBACKEND": "Agg"}
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=300)


@pytest.fixture(scope="module")
def user_folder(tmp_path_factory):
    d = tmp_path_factory.mktemp("user")
    (d / "cohort.csv").write_bytes(bundled_cohort_path().read_bytes())
    from carts_iptw.study.spec import default_spec_path

    (d / "spec.toml").write_bytes(default_spec_path().read_bytes())
    (d / "thesis.docx").write_bytes(b"PK\x03\x04 a thesis")
    return d


@pytest.mark.parametrize("out", [".", "..", "{here}"])
def test_cli_run_into_the_users_folder_deletes_nothing(user_folder, out):
    before = _tree(user_folder)
    r = _cli(["run", "--data", "cohort.csv", "--spec", "spec.toml", "--out",
              out.format(here=user_folder), "--quiet"], cwd=user_folder)
    assert r.returncode == 2, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert _tree(user_folder) == before


def test_cli_nonempty_unmarked_folder_refused_even_with_force(user_folder, tmp_path):
    out = tmp_path / "results"
    out.mkdir()
    (out / "draft.docx").write_text("mine")
    for extra in ([], ["--force"]):
        r = _cli(["demo", "--out", out, "--quiet", *extra], cwd=tmp_path)
        assert r.returncode == 2 and "not a previous carts-iptw output" in r.stderr
    assert _tree(out) == {"draft.docx": "mine"}


@pytest.mark.parametrize("out", ["/proc/carts-iptw-x", "{file}/out"])
def test_cli_unwritable_out_is_one_line_exit_2(tmp_path, out):
    f = tmp_path / "plain.txt"
    f.write_text("x")
    r = _cli(["demo", "--out", out.format(file=f), "--quiet"], cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_cli_signal_in_write_phase_keeps_previous_output(tmp_path, sig):
    out = tmp_path / "out"
    _run(out, "previous")  # a previous carts-iptw output (its manifest), written in process
    before = _tree(out)
    r = _cli(["demo", "--out", out, "--quiet"], cwd=tmp_path, fault_step="staged", sig=sig)
    assert r.returncode == 128 + sig, r.stderr
    assert "Traceback" not in r.stderr
    assert _tree(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    _no_leftovers(tmp_path)
