"""Bootstrap and fractional weighted bootstrap of any estimate, serial or on Dask."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from carts_iptw.resampling._engine import check_engine_args, chunks, run_tasks

METHODS = ("FWB", "BS")


def resolve_seed(seed) -> int:
    """The root entropy of a resampling run: ``seed`` itself, or fresh entropy when ``None``."""
    if seed is None:
        return int(np.random.SeedSequence().entropy)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError("seed must be a non-negative integer or None")
    return int(seed)


def replicate_rng(entropy: int, r: int) -> np.random.Generator:
    """The generator of replicate ``r`` (0-based): ``SeedSequence(seed).spawn(R)[r]``.

    It depends on the root seed and the replicate's index only, so a replicate draws the same
    numbers on any worker, in any chunk, on any attempt.
    """
    return np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=(r,)))


def replicate_draw(entropy: int, r: int, n: int, method: str):
    """Replicate ``r``'s resample.

    ``(rows, None)`` for ``"BS"`` (n rows drawn with replacement), ``(None, w)`` for ``"FWB"``
    (fwb's default ``wtype = "exp"``: standard exponential weights divided by their mean, i.e.
    ``n`` times a flat Dirichlet draw).
    """
    rng = replicate_rng(entropy, r)
    if method == "FWB":
        e = rng.standard_exponential(n)
        return None, e / e.mean()
    return rng.integers(0, n, n), None


def _as_vector(value, where: str) -> tuple[np.ndarray, list | None]:
    """A statistic's value as a 1-D float vector (+ its names when it has any)."""
    names = None
    if isinstance(value, pd.Series):
        names = [str(k) for k in value.index]
        value = value.to_numpy()
    elif isinstance(value, dict):
        names = [str(k) for k in value]
        value = list(value.values())
    try:
        v = np.atleast_1d(np.asarray(value, dtype=float))
    except (TypeError, ValueError):
        raise TypeError(f"statistic must return numbers (a scalar, 1-D array, Series or dict); "
                        f"{where} it returned {type(value).__name__}") from None
    if v.ndim != 1 or v.size == 0:
        raise TypeError(f"statistic must return a non-empty 1-D vector; {where} it returned "
                        f"shape {v.shape}")
    return v, names


def _boot_chunk(payload, rows: range) -> np.ndarray:
    statistic, data, method, entropy, k, kwargs = payload
    n = len(data)
    out = np.empty((len(rows), k))
    for j, r in enumerate(rows):
        idx, w = replicate_draw(entropy, r, n, method)
        try:
            if method == "FWB":
                value = statistic(data, w, **kwargs)
            else:
                value = statistic(data.iloc[idx].reset_index(drop=True), np.ones(n), **kwargs)
        except ValueError as exc:
            raise ValueError(f"replicate {r + 1}: {exc}") from exc
        v, _ = _as_vector(value, f"on replicate {r + 1}")
        if v.size != k:
            raise ValueError(f"replicate {r + 1}: the statistic returned {v.size} values, "
                             f"{k} on the full data")
        out[j] = v
    return out


@dataclass(frozen=True)
class BootstrapResult:
    """Replicates of a bootstrap (the twin of an ``fwb`` / ``boot`` object).

    Attributes
    ----------
    t0 : pandas.Series
        The statistic on the full data (unit weights).
    t : pandas.DataFrame
        ``R`` rows (replicates ``1..R``) x one column per component of the statistic.
    method : str
        ``"FWB"`` or ``"BS"``.
    R : int
        Number of replicates.
    seed : int
        Root seed of the replicates (the drawn entropy when the call gave ``seed=None``), so
        ``bootstrap(..., seed=result.seed)`` reproduces them.
    n : int
        Rows of the data.

    Notes
    -----
    R twin: the ``fwb`` object of ``fwb::fwb`` (fwb 0.3.0), ``t0`` and ``t`` as there.
    """

    t0: pd.Series
    t: pd.DataFrame
    method: str
    R: int
    seed: int
    n: int

    def se(self) -> pd.Series:
        """Bootstrap standard errors: the replicates' SD (``sd(t)``, divisor ``R - 1``)."""
        return self.t.std(ddof=1).rename("se")

    def vcov(self) -> pd.DataFrame:
        """Covariance of the replicates (``cov(t)``, divisor ``R - 1``; WeightIt's vcov)."""
        V = np.atleast_2d(np.cov(self.t.to_numpy(), rowvar=False, ddof=1))
        return pd.DataFrame(V, index=self.t.columns, columns=self.t.columns)

    def confint(self, level: float = 0.95, type: str = "bc") -> pd.DataFrame:
        """Confidence intervals from the replicates (``confint.fwb`` / ``fwb.ci``).

        Parameters
        ----------
        level : float, default 0.95
            Confidence level in (0, 1).
        type : {"bc", "perc", "norm", "basic", "wald"}, default "bc"
            fwb 0.3.0's types (its default ``"bc"``), computed as fwb's ``bc.ci``, ``perc.ci``,
            ``norm.ci``, ``basic.ci`` on the finite replicates: ``"perc"`` the order statistics
            ``(R + 1) alpha`` interpolated on the normal quantile scale (``norm.inter``);
            ``"bc"`` the same at bias-corrected levels ``pnorm(2 z0 + z_alpha)``, ``z0 =
            qnorm(#{t < t0} / R)`` (count bounded to ``[1, R - 1]``); ``"basic"``
            ``2 t0 -`` the percentile limits; ``"norm"`` ``t0 - bias -/+ z sd(t)``. ``"wald"``
            (not in fwb): ``t0 -/+ z sd(t)``, the interval of a model with this ``vcov()``.

        Returns
        -------
        pandas.DataFrame
            One row per component, columns ``"<a> %"`` and ``"<1-a> %"`` (R's labels).
        """
        if not 0 < level < 1:
            raise ValueError("level must be in (0, 1)")
        if type not in CI_TYPES:
            raise ValueError(f"type must be one of {CI_TYPES}")
        a = np.array([(1 - level) / 2, (1 + level) / 2])
        cols = [f"{100 * p:.3g} %" for p in a]
        rows = []
        for c in self.t.columns:
            t0 = float(self.t0[c])
            t = self.t[c].to_numpy()
            t = t[np.isfinite(t)]
            rows.append(_ci(t, t0, a, type))
        return pd.DataFrame(np.vstack(rows), index=self.t.columns, columns=cols)

    def summary(self, level: float = 0.95, type: str = "bc") -> pd.DataFrame:
        """``Estimate``, ``Std. Error`` and the interval of :meth:`confint` (``summary.fwb``)."""
        ci = self.confint(level, type)
        return pd.concat([self.t0.rename("Estimate"), self.se().rename("Std. Error"), ci], axis=1)


CI_TYPES = ("bc", "perc", "norm", "basic", "wald")


def _ci(t: np.ndarray, t0: float, a: np.ndarray, type: str) -> np.ndarray:
    """One component's interval (``t`` finite replicates, ``a`` the two tail levels)."""
    if t.size < 2:
        return np.full(2, np.nan)
    z = stats.norm.ppf(a)
    if type == "perc":
        return _norm_inter(t, a)
    if type == "basic":
        return 2 * t0 - _norm_inter(t, a[::-1])
    if type == "bc":
        s = min(max(1, int(np.sum(t < t0))), t.size - 1)
        w = stats.norm.ppf(s / t.size)
        return _norm_inter(t, stats.norm.cdf(w + (w + z)))
    sd = np.std(t, ddof=1)
    if type == "norm":
        return t0 - (np.mean(t) - t0) + sd * z
    return t0 + sd * z  # wald


def _norm_inter(t: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """The ``norm.inter`` of boot and fwb.

    Order statistics ``(R + 1) alpha`` of the finite replicates, interpolated on the normal
    quantile scale between neighbours.
    """
    t = np.sort(t[np.isfinite(t)])
    R = t.size
    rk = (R + 1) * alpha
    k = np.trunc(rk).astype(int)
    out = np.empty(alpha.size)
    for i in range(alpha.size):
        if k[i] == rk[i] and 0 < k[i] <= R:
            out[i] = t[k[i] - 1]
        elif k[i] <= 0:
            out[i] = t[0]
        elif k[i] >= R:
            out[i] = t[R - 1]
        else:
            q = stats.norm.ppf([alpha[i], k[i] / (R + 1), (k[i] + 1) / (R + 1)])
            out[i] = t[k[i] - 1] + (q[0] - q[1]) / (q[2] - q[1]) * (t[k[i]] - t[k[i] - 1])
    return out


def bootstrap(statistic, data: pd.DataFrame, R: int = 999, method: str = "FWB", seed=None, *,
              client=None, n_workers: int | None = None, chunk_size: int | None = None,
              retries: int = 2, progress=None, **kwargs) -> BootstrapResult:
    """Bootstrap any estimate, re-estimated on every replicate; serial, or on Dask.

    Twin of ``fwb::fwb(data, statistic, R, wtype = "exp")`` (``method="FWB"``) and of the
    nonparametric ``boot::boot(data, statistic, R)`` (``method="BS"``), with fwb's calling
    convention: ``statistic(data, w, **kwargs)``.

    Parameters
    ----------
    statistic : callable
        ``statistic(data, w, **kwargs)`` returning the estimate: a number, a 1-D array, a
        pandas Series or a dict (names kept). ``w`` are the replicate's sampling weights
        (length ``len(data)``): the whole analysis must use them, e.g. ``weightit(...,
        s_weights=w)`` then the outcome model with ``weights=W.weights * w``, so that the
        weights are re-estimated on each replicate. ``"FWB"``: the full data with random
        weights; ``"BS"``: rows drawn with replacement (index reset) and ``w`` all ones. It must
        not modify ``data``; with Dask it must be picklable (cloudpickle: closures work).
    data : pandas.DataFrame
        The data.
    R : int, default 999
        Number of replicates (fwb's default).
    method : {"FWB", "BS"}, default "FWB"
        Fractional weighted bootstrap (fwb's default exponential weights scaled to mean 1,
        Xu et al. 2020) or the ordinary nonparametric bootstrap.
    seed : int, optional
        Root seed. Replicate ``r`` uses ``numpy.random.SeedSequence(seed).spawn(R)[r]``, so the
        replicates are identical whatever the workers, chunks or retries. ``None`` draws fresh
        entropy, kept in the result's ``seed``.
    client : dask.distributed.Client, optional
        Run the replicates on this existing Dask cluster.
    n_workers : int or "auto", optional
        Start a local Dask cluster with this many single-threaded worker processes (``"auto"``:
        one per core this process may use), closed at the end. Neither ``client`` nor
        ``n_workers``: serial, Dask not needed.
    chunk_size : int, optional
        Replicates per task (default: ``R`` split into ~100 tasks). It never changes the answer.
    retries : int, default 2
        A task failing with anything but a ``ValueError`` is run again up to ``retries`` times
        (same replicates, same seeds, so the same answer). A ``ValueError`` (a problem of the
        data) is raised at once, naming the replicate.
    progress : bool or callable, optional
        ``True``: a line on stderr at every tenth of the replicates; a callable is called as
        ``progress(done, R)`` as replicates complete (on Dask, in completion order).
    **kwargs
        Passed to ``statistic``.

    Returns
    -------
    BootstrapResult
        ``t0`` (the estimate on the full data with unit weights), ``t`` (R x k replicates),
        ``se()``, ``vcov()``, ``confint()``, ``summary()``.

    Raises
    ------
    TypeError
        ``statistic`` not callable, ``data`` not a DataFrame, a non-numeric statistic,
        ``client`` not a Dask client.
    ValueError
        Unknown ``method``; ``R < 2``; bad ``seed`` / ``n_workers`` / ``chunk_size`` /
        ``retries``; both ``client`` and ``n_workers``; a statistic that is not finite on the
        full data, or has a different length on a replicate; a replicate's ValueError.
    ImportError
        ``client`` / ``n_workers`` without Dask installed (extra ``carts_iptw[distributed]``).

    Notes
    -----
    Differences from R: the replicates use numpy's generator, not R's, so they agree with fwb /
    boot in distribution only. Non-finite replicate values are kept in ``t`` (fwb warns; here
    ``se()`` gives NaN); fwb's ``cluster``, ``strata`` and other ``wtype`` are not offered.

    R twin version: fwb 0.3.0.

    References
    ----------
    Xu L, Gotwalt C, Hong Y, King CB, Meeker WQ (2020) Applications of the fractional-random-
    weight bootstrap. The American Statistician 74:345-358.
    """
    if not callable(statistic):
        raise TypeError("statistic must be a callable statistic(data, w)")
    if not isinstance(data, pd.DataFrame):
        raise TypeError("data must be a pandas DataFrame")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}")
    if isinstance(R, bool) or not isinstance(R, (int, np.integer)) or R < 2:
        raise ValueError("R must be an integer >= 2")
    R = int(R)
    n = len(data)
    if n < 1:
        raise ValueError("data has no rows")
    check_engine_args(client, n_workers, retries)
    entropy = resolve_seed(seed)
    items = chunks(R, chunk_size)
    t0, names = _as_vector(statistic(data, np.ones(n), **kwargs), "on the full data")
    if not np.isfinite(t0).all():
        raise ValueError("the statistic is not finite on the full data")
    k = t0.size
    names = names if names is not None else [f"t{i + 1}" for i in range(k)]
    if len(set(names)) != k:
        raise ValueError("the statistic's names are not unique")
    payload = (statistic, data, method, entropy, k, kwargs)
    parts = run_tasks(
        _boot_chunk, payload, items, sizes=[len(c) for c in items], client=client,
        n_workers=n_workers, retries=retries, progress=progress, label=f"bootstrap {method}",
        describe=lambda i, msg: f"bootstrap {method} failed on {msg}")
    t = pd.DataFrame(np.vstack(parts), columns=names, index=pd.RangeIndex(1, R + 1))
    return BootstrapResult(pd.Series(t0, index=names, name="t0"), t, method, R, entropy, n)
