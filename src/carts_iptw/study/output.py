"""The output folder of a study run: written whole or not at all, and never a file it did not write.

A run writes ``report.html``, ``results.json``, ``tables/*.csv`` and a manifest,
``carts-iptw-manifest.json``, that lists each file it wrote with its sha256. The manifest is the
marker of a previous output:

- ``out_dir`` does not exist: the files are staged in a hidden folder beside it, which is renamed
  into place at the end (one atomic rename).
- ``out_dir`` is an empty folder: the files are staged inside it and moved into place.
- ``out_dir`` holds a previous output (its manifest is there and every file it lists is unchanged):
  the files the manifest lists are replaced, nothing else in the folder is touched. A listed file
  that was edited or removed since makes the run refuse, unless ``force=True`` (CLI ``--force``).
- any other non-empty folder, a file, a folder that holds or sits above the cohort file or the spec:
  refused with :class:`OutputFolderError` (a ``ValueError``; the CLI exits 2), before the analysis
  runs. ``force`` never replaces an unmarked folder.

SIGTERM and SIGINT during the writing phase undo it: the staged files are removed, a previous
output is restored, and :class:`RunInterrupted` is raised (the CLI exits 128 + signal number).
Failures while writing (a full disk, a folder that cannot be written) are undone the same way and
raised as :class:`OutputFolderError` with a one-line message.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

MANIFEST_NAME = "carts-iptw-manifest.json"
_MARK = "carts_iptw study output"

# Fault injection for tests: called with the name of each step of the writing phase
# ("staged", "moved-old", "moved-new"). Tests set it to raise or to send a signal.
_fault: Callable[[str], None] | None = None


class OutputFolderError(ValueError):
    """The output folder cannot be used (it holds other files, or it cannot be written)."""


class RunInterrupted(BaseException):  # noqa: N818 - like KeyboardInterrupt, not an error
    """SIGTERM or SIGINT arrived while the outputs were written; the writing was undone."""

    def __init__(self, signum: int, completed: bool = False):
        self.signum = int(signum)
        self.completed = completed
        what = ("after the outputs were written in full" if completed else
                "; nothing was written and any previous output is unchanged")
        super().__init__(f"interrupted by {signal.Signals(signum).name}{' ' if completed else ''}"
                         f"{what}")


@dataclass(frozen=True)
class OutputTarget:
    """Where a run writes, checked before the analysis starts (see :func:`check_output_dir`)."""

    path: Path
    exists: bool
    previous: tuple[str, ...]  # files of a previous output (relative paths), to be replaced


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _read_manifest(folder: Path) -> dict | None:
    p = folder / MANIFEST_NAME
    if not p.is_file():
        return None
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("marker") != _MARK or not isinstance(doc.get("files"), dict):
        return None
    files = doc["files"]
    for rel in files:
        parts = Path(rel).parts
        if not parts or Path(rel).is_absolute() or ".." in parts:
            return None  # a manifest that names files outside its folder is not ours
    return doc


def _nearest_existing(path: Path) -> Path:
    p = path
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def check_output_dir(out_dir, inputs: Iterable = (), force: bool = False) -> OutputTarget:
    """Check that ``out_dir`` can take a run's outputs without touching a file the run did not write.

    ``inputs``: paths the run reads (cohort file, spec); ``out_dir`` may not be one of them nor a
    folder that holds them. Raises :class:`OutputFolderError` naming the rule and what to do.
    """
    out = Path(out_dir).expanduser().resolve()
    for src in inputs:
        s = Path(src).expanduser().resolve()
        if out == s or out in s.parents:
            raise OutputFolderError(
                f"--out {out} is or contains an input file ({s.name}): choose a new folder for "
                "the outputs")
    if out.exists():
        if not out.is_dir():
            raise OutputFolderError(f"--out {out} exists and is not a folder: choose a new folder")
        entries = [p.name for p in out.iterdir()]
        if not entries:
            _probe_writable(out)
            return OutputTarget(out, True, ())
        manifest = _read_manifest(out)
        if manifest is None:
            raise OutputFolderError(
                f"--out {out} is not empty and is not a previous carts-iptw output (no "
                f"{MANIFEST_NAME}): nothing in it is touched; choose a new or empty folder")
        files = tuple(manifest["files"])
        changed = [rel for rel in files if not (out / rel).is_file()
                   or _sha256(out / rel) != manifest["files"][rel]]
        if changed and not force:
            raise OutputFolderError(
                f"--out {out} holds a previous carts-iptw output in which {len(changed)} file(s) "
                f"were changed or removed since it was written (e.g. {changed[0]}): choose a new "
                "folder, or pass --force to replace that output's files")
        _probe_writable(out)
        return OutputTarget(out, True, tuple(rel for rel in files if (out / rel).is_file())
                            + (MANIFEST_NAME,))
    parent = _nearest_existing(out.parent)
    if not parent.is_dir():
        raise OutputFolderError(f"--out {out} lies under {parent}, which is not a folder")
    _probe_writable(parent)
    return OutputTarget(out, False, ())


def _probe_writable(folder: Path) -> None:
    try:
        d = tempfile.mkdtemp(prefix=".carts-iptw-probe-", dir=folder)
    except OSError as exc:
        raise OutputFolderError(
            f"cannot write into {folder}: {exc.strerror or type(exc).__name__}") from None
    os.rmdir(d)


class _Signals:
    """SIGTERM and SIGINT raise :class:`RunInterrupted` (main thread only).

    Inside ``held()`` a signal is only recorded and raised when the block ends, so a swap of files
    is never cut.
    """

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self) -> None:
        self.holding = 0
        self.pending: int | None = None

    def _handler(self, signum, frame) -> None:
        if self.holding:
            self.pending = self.pending or signum
            return
        raise RunInterrupted(signum)

    @contextlib.contextmanager
    def installed(self) -> Iterator[_Signals]:
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        old = {s: signal.signal(s, self._handler) for s in self.SIGNALS}
        try:
            yield self
        finally:
            for s, h in old.items():
                signal.signal(s, h)

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        self.holding += 1
        try:
            yield
        finally:
            self.holding -= 1
        if not self.holding and self.pending is not None:
            signum, self.pending = self.pending, None
            raise RunInterrupted(signum)


def _step(name: str) -> None:
    if _fault is not None:
        _fault(name)


def _files_under(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def _remove_empty_dirs(root: Path, rels: Iterable[str]) -> None:
    dirs = {root.joinpath(*Path(r).parts[:i]) for r in rels for i in range(1, len(Path(r).parts))}
    for d in sorted(dirs, key=lambda p: len(p.parts), reverse=True):
        with contextlib.suppress(OSError):
            d.rmdir()  # only when empty


def _move(src_root: Path, dst_root: Path, rels: Iterable[str]) -> list[str]:
    done = []
    for rel in rels:
        dst = dst_root / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        os.replace(src_root / rel, dst)
        done.append(rel)
    return done


def write_outputs(target: OutputTarget, write: Callable[[Path], None], *, version: str) -> list[str]:
    """Stage the outputs with ``write(folder)``, add the manifest, and move them into place.

    Returns the relative paths written. On any failure or signal the staged files are removed and
    a previous output is left as it was.
    """
    out = target.path
    try:
        with _Signals().installed() as signals:
            return _write_outputs(target, write, version, signals)
    except OSError as exc:
        raise OutputFolderError(
            f"could not write the outputs into {out}: {exc.strerror or type(exc).__name__}; "
            "nothing was written and any previous output is unchanged") from None


def _write_outputs(target: OutputTarget, write: Callable[[Path], None], version: str,
                   signals: _Signals) -> list[str]:
    import datetime as _dt

    out = target.path
    if target.exists:
        stage = Path(tempfile.mkdtemp(prefix=".carts-iptw-staging-", dir=out))
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.carts-iptw-staging-", dir=out.parent))
    prev = None
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(stage, 0o777 & ~umask)  # mkdtemp makes 0700; the outputs get normal modes
        write(stage)
        files = _files_under(stage)
        manifest = {
            "marker": _MARK, "package": "carts_iptw", "version": version,
            "written_utc": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "files": {rel: _sha256(stage / rel) for rel in files},
        }
        (stage / MANIFEST_NAME).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
        files.append(MANIFEST_NAME)
        _step("staged")
        try:
            with signals.held():
                if not target.exists:
                    os.replace(stage, out)
                    return files
                prev = Path(tempfile.mkdtemp(prefix=".carts-iptw-previous-", dir=out))
                _swap(out, stage, prev, target.previous, files)
                _remove_empty_dirs(out, [r for r in target.previous if r not in files])
        except RunInterrupted as exc:  # held until the swap was whole: the new output stands
            raise RunInterrupted(exc.signum, completed=True) from None
        return files
    finally:
        with signals.held():  # a second signal must not cut the clean-up short
            shutil.rmtree(stage, ignore_errors=True)
            if prev is not None:
                shutil.rmtree(prev, ignore_errors=True)


def _swap(out: Path, stage: Path, prev: Path, old, new) -> None:
    """Move the files ``old`` from ``out`` into ``prev``, then ``new`` from ``stage`` into ``out``.

    On any failure (a signal included) what was moved is put back, so ``out`` is as it was.
    """
    moved_old: list[str] = []
    moved_new: list[str] = []
    try:
        moved_old = _move(out, prev, list(old))
        _step("moved-old")
        moved_new = _move(stage, out, list(new))
        _step("moved-new")
    except BaseException:
        for rel in moved_new:
            with contextlib.suppress(OSError):
                (out / rel).unlink()
        _move(prev, out, moved_old)
        raise


def read_manifest(folder) -> dict | None:
    """The manifest of a previous output in ``folder`` (None when it has none that is ours)."""
    return _read_manifest(Path(folder))


def update_outputs(folder, files: dict[str, bytes], *, version: str) -> list[str]:
    """Add or replace a few files of a previous output, and list them in its manifest.

    ``files`` maps relative paths to their bytes. A path may be new (absent from the folder) or a
    file the manifest lists and that is unchanged since it was written; anything else (a file
    the run did not write, or one edited since) raises :class:`OutputFolderError` before
    anything is written. The files are staged, then swapped in with signals held, the manifest
    last; a failure puts the previous files back.
    """
    out = Path(folder).resolve()
    manifest = _read_manifest(out)
    if manifest is None:
        raise OutputFolderError(f"{out} is not a carts-iptw output (no {MANIFEST_NAME}): "
                                "nothing in it is touched")
    listed = manifest["files"]
    for rel in files:
        parts = Path(rel).parts
        if not parts or Path(rel).is_absolute() or ".." in parts or rel == MANIFEST_NAME:
            raise OutputFolderError(f"cannot write {rel!r} into an output folder")
        p = out / rel
        if p.exists():
            if rel not in listed:
                raise OutputFolderError(f"{p} exists and was not written by carts-iptw: "
                                        "nothing is touched")
            if not p.is_file() or _sha256(p) != listed[rel]:
                raise OutputFolderError(f"{p} was edited since carts-iptw wrote it: nothing is "
                                        "touched")
    try:
        with _Signals().installed() as signals:
            return _update(out, files, manifest, version, signals)
    except OSError as exc:
        raise OutputFolderError(
            f"could not write into {out}: {exc.strerror or type(exc).__name__}; nothing was "
            "changed") from None


def _update(out: Path, files: dict[str, bytes], manifest: dict, version: str,
            signals: _Signals) -> list[str]:
    import datetime as _dt

    stage = Path(tempfile.mkdtemp(prefix=".carts-iptw-staging-", dir=out))
    prev = None
    try:
        umask = os.umask(0)
        os.umask(umask)
        for rel, data in files.items():
            p = stage / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(data)
            os.chmod(p, 0o666 & ~umask)
        new = dict(manifest)
        new["files"] = {**manifest["files"], **{rel: _sha256(stage / rel) for rel in files}}
        new["updated_utc"] = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        new["updated_by"] = f"carts_iptw {version}"
        (stage / MANIFEST_NAME).write_text(json.dumps(new, indent=1) + "\n", encoding="utf-8")
        os.chmod(stage / MANIFEST_NAME, 0o666 & ~umask)
        _step("staged")
        with signals.held():
            prev = Path(tempfile.mkdtemp(prefix=".carts-iptw-previous-", dir=out))
            new_files = [*files, MANIFEST_NAME]
            _swap(out, stage, prev, [rel for rel in new_files if (out / rel).exists()], new_files)
        return list(files)
    finally:
        with signals.held():
            shutil.rmtree(stage, ignore_errors=True)
            if prev is not None:
                shutil.rmtree(prev, ignore_errors=True)
