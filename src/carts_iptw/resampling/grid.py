"""Sensitivity grids: one analysis over many settings, each optionally bootstrapped."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from carts_iptw.resampling._engine import check_engine_args, chunks, run_tasks, session
from carts_iptw.resampling.bootstrap import (
    METHODS,
    BootstrapResult,
    _as_vector,
    _boot_chunk,
    _ci,
    resolve_seed,
)

_RESERVED = ("term", "estimate", "se", "lower", "upper")


def _points(grid) -> list[dict]:
    if isinstance(grid, dict):
        if not grid:
            raise ValueError("grid is empty")
        for name, values in grid.items():
            if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
                raise TypeError(f"grid entry '{name}' must be a list of values")
        lists = {name: list(values) for name, values in grid.items()}
        for name, values in lists.items():
            if not values:
                raise ValueError(f"grid entry '{name}' has no values")
        names = list(lists)
        return [dict(zip(names, combo, strict=True))
                for combo in itertools.product(*lists.values())]
    if isinstance(grid, (list, tuple)) and grid and all(isinstance(p, dict) for p in grid):
        return [dict(p) for p in grid]
    raise TypeError("grid must be a dict {name: [values]} (all combinations) or a non-empty "
                    "list of dicts (the settings themselves)")


def _point_task(payload, i: int):
    statistic, data, points = payload
    try:
        value = statistic(data, np.ones(len(data)), **points[i])
    except ValueError as exc:
        raise ValueError(f"setting {i + 1}: {exc}") from exc
    return _as_vector(value, f"at setting {i + 1}")


def _grid_boot_task(payload, item):
    statistic, data, points, method, entropy, ks = payload
    i, rows = item
    return _boot_chunk((statistic, data, method, entropy, ks[i], points[i]), rows)


def sensitivity_grid(statistic, data: pd.DataFrame, grid, *, R: int | None = None,
                     method: str = "FWB", seed=None, level: float = 0.95, client=None,
                     n_workers: int | None = None, chunk_size: int | None = None,
                     retries: int = 2, progress=None) -> pd.DataFrame:
    """Run one analysis at every setting of a grid, optionally bootstrapped, serial or on Dask.

    Settings such as trimming thresholds, estimands or propensity score models.

    Parameters
    ----------
    statistic : callable
        ``statistic(data, w, **setting)``, the convention of :func:`bootstrap`: ``w`` are
        sampling weights (all ones for the estimate itself, the replicate's weights when
        bootstrapped), ``setting`` one point of the grid as keyword arguments.
    data : pandas.DataFrame
        The data.
    grid : dict or list of dict
        ``{"estimand": ["ATE", "ATT"], "trim_at": [0, 0.99]}``: every combination, in
        ``itertools.product`` order; or a list of settings (dicts) taken as given.
    R : int, optional
        Bootstrap replicates per setting (``None``: estimates only). Every setting uses the
        same replicate seeds (common random numbers), so differences between settings are not
        blurred by different draws.
    method : {"FWB", "BS"}, default "FWB"
        As :func:`bootstrap`.
    seed : int, optional
        Root seed of the replicates (as :func:`bootstrap`; ``None`` draws fresh entropy).
    level : float, default 0.95
        Level of the percentile interval (``lower``, ``upper``) when ``R`` is given.
    client, n_workers, chunk_size, retries, progress
        The engine, as :func:`bootstrap`: every setting and every replicate chunk is one task
        on the same cluster; the answer does not depend on where or how often they ran.

    Returns
    -------
    pandas.DataFrame
        Long format: one row per setting and component of the statistic: the setting's columns,
        ``term``, ``estimate``, and with ``R`` also ``se`` (replicates' SD) and the percentile
        interval ``lower`` / ``upper`` (boot's ``norm.inter``).

    Raises
    ------
    TypeError
        ``grid`` not a dict of lists or a list of dicts; ``statistic`` not callable; ``data``
        not a DataFrame.
    ValueError
        An empty grid or entry; a setting named like an output column; a statistic that is not
        finite at a setting; ``R < 2``; the engine's errors (see :func:`bootstrap`).

    Notes
    -----
    No R twin (in R: a loop over the settings, with ``fwb::fwb`` inside for the bootstrap).
    The estimates at each setting are those of ``statistic`` itself; the bootstrap columns are
    those of :func:`bootstrap` with the same ``seed`` at that setting.
    """
    if not callable(statistic):
        raise TypeError("statistic must be a callable statistic(data, w, **setting)")
    if not isinstance(data, pd.DataFrame):
        raise TypeError("data must be a pandas DataFrame")
    points = _points(grid)
    keys = list(dict.fromkeys(k for p in points for k in p))
    bad = [k for k in keys if k in _RESERVED or not isinstance(k, str)]
    if bad:
        raise ValueError(f"grid setting names must be strings other than {_RESERVED}")
    if R is not None and (isinstance(R, bool) or not isinstance(R, (int, np.integer)) or R < 2):
        raise ValueError("R must be None or an integer >= 2")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}")
    if not 0 < level < 1:
        raise ValueError("level must be in (0, 1)")
    check_engine_args(client, n_workers, retries)
    entropy = resolve_seed(seed) if R is not None else None
    with session(client, n_workers) as cl:
        est = run_tasks(_point_task, (statistic, data, points), list(range(len(points))),
                        client=cl, retries=retries, progress=progress, label="grid settings",
                        describe=lambda i, msg: f"sensitivity grid failed at {msg}")
        ks, names = [], []
        for i, (v, nm) in enumerate(est):
            if not np.isfinite(v).all():
                raise ValueError(f"the statistic is not finite at setting {i + 1}")
            ks.append(v.size)
            names.append(nm if nm is not None else [f"t{j + 1}" for j in range(v.size)])
        boots = None
        if R is not None:
            rows = chunks(int(R), chunk_size)
            items = [(i, c) for i in range(len(points)) for c in rows]
            parts = run_tasks(
                _grid_boot_task, (statistic, data, points, method, entropy, ks), items,
                sizes=[len(c) for _, c in items], client=cl, retries=retries, progress=progress,
                label=f"grid bootstrap {method}",
                describe=lambda j, msg: f"sensitivity grid bootstrap failed at setting "
                                        f"{items[j][0] + 1}, {msg}")
            boots = []
            for i in range(len(points)):
                t = np.vstack([p for (pi, _), p in zip(items, parts, strict=True) if pi == i])
                boots.append(BootstrapResult(
                    pd.Series(est[i][0], index=names[i], name="t0"),
                    pd.DataFrame(t, columns=names[i], index=pd.RangeIndex(1, int(R) + 1)),
                    method, int(R), entropy, len(data)))
    a = np.array([(1 - level) / 2, (1 + level) / 2])
    rows_out = []
    for i, p in enumerate(points):
        for j, term in enumerate(names[i]):
            row = {k: p.get(k) for k in keys}
            row.update(term=term, estimate=est[i][0][j])
            if boots is not None:
                tj = boots[i].t.iloc[:, j].to_numpy()
                row["se"] = float(np.std(tj, ddof=1))
                row["lower"], row["upper"] = _ci(tj[np.isfinite(tj)], est[i][0][j], a, "perc")
            rows_out.append(row)
    return pd.DataFrame(rows_out)
