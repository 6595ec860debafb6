"""One engine for embarrassingly parallel work: serial in this process, or on Dask.

``run_tasks(fn, payload, items)`` evaluates ``fn(payload, item)`` for every item and returns the
results in item order. Without ``client`` / ``n_workers`` it runs them one after the other here
(Dask is not imported); with them, on ``dask.distributed`` (the optional extra
``carts_iptw[distributed]``): ``payload`` is scattered once to every worker, each item is one
task. Whatever runs where, the answer is the same: a task's result depends only on its item (a
replicate's random numbers come from its own seed, never from the worker or the attempt).

Failures: a ``ValueError`` raised by a task is a problem of the data (a resample with an empty
group, separation) and is raised at once, never retried. Any other exception (a worker that
died, a transient fault) is retried up to ``retries`` times, serially as on Dask; since the task
is a pure function of its item, a retry gives the same answer as a first attempt.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from typing import Any

INSTALL_HINT = ("install the optional extra: pip install 'carts_iptw[distributed]' "
                "(dask[distributed])")


class TaskValueError(Exception):
    """A ``ValueError`` of a task, carried back as a result so that Dask does not retry it."""


def _import_distributed():
    try:
        import distributed
    except ImportError as exc:  # pragma: no cover - exercised with the import blocked
        raise ImportError(
            f"client= / n_workers= run the work on Dask, which is not installed: {INSTALL_HINT}"
        ) from exc
    return distributed


def check_engine_args(client, n_workers, retries) -> None:
    """Validate the engine arguments before any work starts (clear errors, no Dask import)."""
    if client is not None and n_workers is not None:
        raise ValueError("give either client= (an existing Dask client) or n_workers= "
                         "(a local cluster), not both")
    if n_workers is not None and n_workers != "auto":
        if isinstance(n_workers, bool) or not isinstance(n_workers, int) or n_workers < 1:
            raise ValueError('n_workers must be a positive integer or "auto"')
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ValueError("retries must be a non-negative integer")
    if client is not None or n_workers is not None:
        distributed = _import_distributed()
        if client is not None and not isinstance(client, distributed.Client):
            raise TypeError("client must be a dask.distributed.Client")


def chunks(n: int, chunk_size: int | None, default_tasks: int = 100) -> list[range]:
    """Split ``range(n)`` into consecutive chunks (``chunk_size`` each; default ~100 tasks)."""
    if chunk_size is None:
        chunk_size = max(1, math.ceil(n / default_tasks))
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError("chunk_size must be a positive integer")
    return [range(i, min(i + chunk_size, n)) for i in range(0, n, chunk_size)]


class _Progress:
    """Progress in units (e.g. replicates).

    A callable ``progress(done, total)``, or ``True`` for a line on stderr at every tenth.
    """

    def __init__(self, progress, total: int, label: str):
        if progress is not None and not isinstance(progress, bool) and not callable(progress):
            raise TypeError("progress must be True, False, None or a callable(done, total)")
        self.fn = progress if callable(progress) else None
        self.print = progress is True
        self.total, self.label, self.done = total, label, 0
        self.step = max(1, total // 10)
        self.next = self.step

    def add(self, k: int) -> None:
        self.done += k
        if self.fn is not None:
            self.fn(self.done, self.total)
        if self.print and (self.done >= self.next or self.done == self.total):
            print(f"{self.label}: {self.done}/{self.total}", file=sys.stderr, flush=True)
            while self.next <= self.done:
                self.next += self.step


def _guarded(fn, payload, item):
    """Run one task; a ValueError comes back as a value (not retried, raised by the caller)."""
    try:
        return fn(payload, item)
    except ValueError as exc:
        return TaskValueError(str(exc))


def _raise_value_error(res, describe, i):
    if isinstance(res, TaskValueError):
        raise ValueError(describe(i, str(res)))


def run_tasks(fn: Callable[[Any, Any], Any], payload: Any, items: Sequence, *,
              sizes: Sequence[int] | None = None, client=None, n_workers: int | None = None,
              retries: int = 2, progress=None, label: str = "tasks",
              describe: Callable[[int, str], str] | None = None,
              scatter_items: bool = False) -> list:
    """Evaluate ``fn(payload, item)`` for each item; results in item order (see module doc).

    ``sizes``: units per item for the progress count (default 1). ``describe(i, message)``: the
    text of the ValueError raised when item ``i`` fails with a ValueError. ``scatter_items``:
    on Dask, each item is scattered to one worker (not broadcast, not in the task graph): for
    items that are data (e.g. one completed data set per imputation).
    """
    check_engine_args(client, n_workers, retries)
    sizes = [1] * len(items) if sizes is None else list(sizes)
    prog = _Progress(progress, int(sum(sizes)), label)
    describe = describe or (lambda i, msg: msg)
    if client is None and n_workers is None:
        out = []
        for i, item in enumerate(items):
            for attempt in range(retries + 1):
                try:
                    res = _guarded(fn, payload, item)
                    break
                except Exception:
                    if attempt == retries:
                        raise
            _raise_value_error(res, describe, i)
            out.append(res)
            prog.add(sizes[i])
        return out
    with session(client, n_workers) as client:
        distributed = _import_distributed()
        [pf] = client.scatter([payload], broadcast=True, hash=False)
        args = client.scatter(list(items), hash=False) if scatter_items else items
        futures = [client.submit(_guarded, fn, pf, item, retries=retries, pure=False)
                   for item in args]
        index = {f.key: i for i, f in enumerate(futures)}
        try:
            for fut in distributed.as_completed(futures):
                if fut.status == "error":
                    fut.result()  # raises the task's exception (after its retries)
                prog.add(sizes[index[fut.key]])
            out = client.gather(futures)
        except BaseException:
            client.cancel(futures)
            raise
    for i, res in enumerate(out):
        _raise_value_error(res, describe, i)
    return out


#: distributed starts its workers with MALLOC_TRIM_THRESHOLD_=65536 (to hand memory back to the
#: OS). Setting it turns off glibc's adaptive mmap threshold: every temporary numpy array above
#: 128 kB (10^5 doubles) is then a fresh mmap, zero-filled page by page. For a replicate of a
#: weighted Cox model at 10^5 rows that is 2.5x the CPU of the same replicate serially (mostly
#: system time; benchmarks/results.md). The local clusters started here leave it unset; None
#: unsets a variable in that config (distributed.nanny._get_env_variables).
NO_MALLOC_TRIM = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}
#: The worker's statistical profiler (a stack sample every 10 ms) adds ~25% CPU to such a
#: replicate; the local clusters started here turn it off (the answer never depends on it).
LOCAL_CLUSTER_CONFIG = {**NO_MALLOC_TRIM, "distributed.worker.profile.enabled": False}


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS tells it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return max(1, os.cpu_count() or 1)


@contextlib.contextmanager
def session(client=None, n_workers: int | None = None):
    """The Dask client to use (``None``: serial).

    ``client`` itself, or a local cluster of ``n_workers`` single-threaded worker processes
    (``"auto"``: one per available core; closed on exit), or ``None`` when neither is given.
    """
    if client is not None or n_workers is None:
        yield client
        return
    distributed = _import_distributed()
    if n_workers == "auto":
        n_workers = available_cores()
    import dask

    with warnings.catch_warnings(), dask.config.set(LOCAL_CLUSTER_CONFIG):
        # the scheduler's HTTP endpoint moves off a busy default port (another cluster on the
        # machine): harmless, the dashboard is off
        warnings.filterwarnings("ignore", message="Port .* is already in use")
        cluster = distributed.LocalCluster(n_workers=n_workers, threads_per_worker=1,
                                           processes=True, dashboard_address=None,
                                           silence_logs=40)
    own = distributed.Client(cluster)
    try:
        yield own
    finally:
        own.close()
        cluster.close()
