"""Weights, effects and balance in each completed data set.

R twins: ``MatchThem::weightthem(formula, imp, approach = "within")`` (weights estimated in
each completed data set), ``with(wimids, expr)`` (the analysis in each), ``mice::pool`` and
``cobalt::bal.tab`` on imputed data (balance summarised across imputations).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from carts_iptw.imputation.mice import Mids
from carts_iptw.results import TableResult, matrix_text


class WeightItMi:
    """Weights estimated in each of the ``m`` completed data sets (MatchThem's ``wimids``).

    Attributes
    ----------
    imputations : Mids
        The imputations.
    datasets : list of pandas.DataFrame
        The ``m`` completed data sets.
    weightits : list of WeightItResult
        The weights of each.
    formula, method, estimand : str
        The weighting settings.

    Notes
    -----
    R twin: MatchThem's ``wimids`` (MatchThem 1.2; not installed here).
    """

    def __init__(self, imputations, datasets, weightits, formula, method, estimand):
        self.imputations = imputations
        self.datasets = datasets
        self.weightits = weightits
        self.formula = formula
        self.method = method
        self.estimand = estimand

    @property
    def m(self) -> int:
        """Number of imputations."""
        return len(self.datasets)

    def __len__(self) -> int:
        """Number of imputations."""
        return self.m

    def __repr__(self) -> str:
        """A short description (counts only)."""
        return (f"A weightit_mi object: {self.m} imputations, method '{self.method}', "
                f"estimand {self.estimand}, formula {self.formula}")


def _check_complete(imp: Mids, columns, what: str) -> None:
    for c in columns:
        if c in imp.where.columns and int(imp.nmis[c]) > 0:
            raise ValueError(f"{what} column '{c}' has {int(imp.nmis[c])} missing value(s): "
                             "multiple imputation here is for covariates only; the "
                             f"{what} must be observed in every row")


def _check_engine(client, n_workers, retries) -> None:
    from carts_iptw.resampling._engine import check_engine_args

    check_engine_args(client, n_workers, retries)


def _weightit_task(payload, data: pd.DataFrame):
    """Weights in one completed data set; one task of :func:`weightit_mi`."""
    from carts_iptw.weighting import weightit

    formula, method, estimand, kwargs = payload
    return weightit(formula, data, method=method, estimand=estimand, **kwargs)


def weightit_mi(formula: str, imputations: Mids, method: str = "glm", estimand: str = "ATE",
                *, client=None, n_workers=None, retries: int = 2, progress=None,
                **kwargs) -> WeightItMi:
    """Weights in each completed data set: ``MatchThem::weightthem(approach = "within")``.

    Parameters
    ----------
    formula : str
        ``"treat ~ covariates"``, as for :func:`weightit`.
    imputations : Mids
        From :func:`mice`; the treatment must have no missing value.
    method, estimand : str
        As for :func:`weightit`.
    client, n_workers, retries, progress
        The engine of :mod:`carts_iptw.resampling`: serial by default; ``client=`` (an
        existing ``dask.distributed.Client``) or ``n_workers=`` (a local cluster) fit the ``m``
        weight models on Dask, one task per imputation (each completed data set sent to one
        worker). The imputations are already drawn (by
        :func:`mice`, seeded per imputation), so the weights are the same bits wherever they
        run. A task failing with anything but a ``ValueError`` is retried up to ``retries``
        times; ``progress`` as in :func:`carts_iptw.bootstrap` (units: imputations).
    **kwargs
        Passed to :func:`weightit` (``stabilize``, ``s_weights``, ``focal``, ``control``).

    Returns
    -------
    WeightItMi
        ``datasets``, ``weightits``; analyse with :func:`with_imputations`, pool with
        :func:`pool`, balance with :func:`bal_tab_mi`.

    Raises
    ------
    TypeError
        ``imputations`` is not a :class:`Mids`; ``client`` not a Dask client.
    ValueError
        The treatment has missing values; anything :func:`weightit` refuses in a completed
        data set (the message names the imputation); bad engine arguments.

    Notes
    -----
    R twin: ``MatchThem::weightthem(formula, imp, approach = "within")`` (MatchThem 1.2;
    not installed here: the weights of each data set are :func:`weightit`'s, checked against
    WeightIt 1.5.1, and the pooling against mice 3.15.0).
    """
    from carts_iptw.formula.frame import model_frame
    from carts_iptw.resampling._engine import run_tasks

    if not isinstance(imputations, Mids):
        raise TypeError("imputations must be the result of mice()")
    _check_engine(client, n_workers, retries)
    first = imputations.complete(1)
    treat_vars = model_frame(formula.split("~")[0] + "~ 1", first).variables \
        if "~" in formula else []
    _check_complete(imputations, treat_vars, "treatment")
    datasets = [first, *(imputations.complete(i) for i in range(2, imputations.m + 1))]
    fits = run_tasks(_weightit_task, (formula, method, estimand, kwargs), datasets,
                     client=client, n_workers=n_workers, retries=retries, progress=progress,
                     label="weightit_mi", scatter_items=True,
                     describe=lambda i, msg: f"weightit_mi, imputation {i + 1}: {msg}")
    return WeightItMi(imputations, datasets, fits, formula, method, estimand)


def _analysis_task(fn, item):
    """``fn`` on one completed data set (and its weights); one task of with_imputations."""
    return fn(*item)


def with_imputations(obj, fn: Callable, *, client=None, n_workers=None, retries: int = 2,
                     progress=None) -> list:
    """Run an analysis in each completed data set: R's ``with(mids / wimids, expr)``.

    Parameters
    ----------
    obj : WeightItMi or Mids
        Weighted imputations (then ``fn(data, weightit)`` is called) or imputations
        (``fn(data)``).
    fn : callable
        The analysis of one data set, returning a fitted result (e.g.
        ``lambda d, w: glm_weightit("y ~ treat", d, w)``). It must not modify its arguments;
        on Dask it must be picklable by cloudpickle (closures and lambdas are), and so must
        its result.
    client, n_workers, retries, progress
        The engine of :mod:`carts_iptw.resampling`: serial by default; ``client=`` (an
        existing ``dask.distributed.Client``) or ``n_workers=`` (a local cluster) run the
        ``m`` analyses on Dask, one task per imputation, each completed data set sent to one
        worker. The data sets are drawn before (by :func:`mice`), so the fits are the same
        whatever the number of workers. A task failing with anything but a ``ValueError`` is
        retried up to ``retries`` times; a ``ValueError`` is raised at once, naming the
        imputation; ``progress`` as in :func:`carts_iptw.bootstrap` (units: imputations).

    Returns
    -------
    list
        The ``m`` fits (R's ``mira$analyses``) in imputation order, ready for :func:`pool`.

    Raises
    ------
    TypeError
        ``obj`` of another type; ``fn`` not callable; ``client`` not a Dask client.
    ValueError
        ``fn`` raised a ``ValueError`` in an imputation (the message names it); bad engine
        arguments.

    Notes
    -----
    R twin: ``with(imp, expr)`` of mice 3.15.0 (``with.mids``) / MatchThem's ``with.wimids``.
    """
    from carts_iptw.resampling._engine import run_tasks

    if not callable(fn):
        raise TypeError("fn must be a function of (data, weightit) or (data)")
    if isinstance(obj, WeightItMi):
        items = [(d, w) for d, w in zip(obj.datasets, obj.weightits, strict=True)]
    elif isinstance(obj, Mids):
        items = [(d,) for d in obj]
    else:
        raise TypeError("with_imputations takes a weightit_mi() or mice() result")
    return run_tasks(_analysis_task, fn, items, client=client, n_workers=n_workers,
                     retries=retries, progress=progress, label="with_imputations",
                     describe=lambda i, msg: f"with_imputations, imputation {i + 1}: {msg}",
                     scatter_items=True)


class BalTabMi(TableResult):
    """Balance across imputations, cobalt's ``bal.tab`` of imputed data.

    Attributes
    ----------
    balance_across : pandas.DataFrame
        cobalt's ``Balance.Across.Imputations``: ``Type`` and, for each statistic column of the
        per-imputation tables (``Diff``, ``V.Ratio``, ``KS``; ``Un`` and ``Adj``),
        ``Min.*``, ``Mean.*``, ``Max.*`` over the imputations (signed, as cobalt's default
        ``abs = FALSE``; the mean of variance ratios is their geometric mean, as cobalt;
        non-finite values are left out, NaN where none is finite).
    imputation_balance : list of BalTab
        cobalt's ``Imputation.Balance``: the table of each imputation.
    observations : pandas.DataFrame
        cobalt's ``Observations``: the mean over imputations of each sample size (average
        effective sample sizes).

    Notes
    -----
    R twin: ``cobalt::bal.tab`` with ``imp =`` (cobalt 4.6.1).
    """

    def __init__(self, balance_across, imputation_balance, observations):
        self.balance_across = balance_across
        self.imputation_balance = imputation_balance
        self.observations = observations

    def tidy(self) -> pd.DataFrame:
        """``balance_across`` with the row names as ``variable``."""
        out = self.balance_across.copy()
        out.insert(0, "variable", out.index)
        return out.reset_index(drop=True)

    def _print_text(self) -> str:
        b = self.balance_across.copy()
        for c in b.columns:
            if c != "Type":
                b[c] = [f"{v:.4f}" for v in b[c].to_numpy(dtype=float)]
        o = self.observations.copy()
        for c in o.columns:
            o[c] = [f"{v:.2f}" for v in o[c].to_numpy(dtype=float)]
        return ("Balance summary across all imputations\n" + matrix_text(b) + "\n\n"
                "Average effective sample sizes across imputations\n" + matrix_text(o) + "\n")


_STAT_PREFIXES = ("Diff", "V.Ratio", "KS")


def bal_tab_mi(obj: WeightItMi, **kwargs) -> BalTabMi:
    """Balance in each completed data set and across them: cobalt's ``bal.tab`` with ``imp``.

    Parameters
    ----------
    obj : WeightItMi
        From :func:`weightit_mi`.
    **kwargs
        Passed to :func:`bal_tab` for each imputation (``stats``, ``un``, ``binary``,
        ``continuous``, ``s_d_denom``, ``thresholds``).

    Returns
    -------
    BalTabMi
        ``balance_across`` (cobalt 4.6.1's ``Balance.Across.Imputations``: ``Min.Diff.Un``,
        ``Mean.Diff.Un``, ``Max.Diff.Un``, ``Min.Diff.Adj``, ``Mean.Diff.Adj``,
        ``Max.Diff.Adj``, ...), ``imputation_balance`` and ``observations`` (mean sample
        sizes).

    Raises
    ------
    TypeError
        ``obj`` is not a :class:`WeightItMi`.
    ValueError
        The imputations' balance tables have different rows.

    Notes
    -----
    R twin: ``cobalt::bal.tab(formula, data = <stacked completed data>, weights, imp =
    ".imp")`` (cobalt 4.6.1), ``Balance.Across.Imputations`` and ``Observations``; checked
    live in ``bal_tab_mi.colon_mi.*``.
    """
    from carts_iptw.balance import bal_tab

    if not isinstance(obj, WeightItMi):
        raise TypeError("bal_tab_mi takes a weightit_mi() result")
    tabs = [bal_tab(w, **kwargs) for w in obj.weightits]
    rows = list(tabs[0].balance.index)
    for t in tabs[1:]:
        if list(t.balance.index) != rows:
            raise ValueError("the balance tables of the imputations have different rows")
    across = pd.DataFrame({"Type": tabs[0].balance["Type"].to_numpy()}, index=rows)
    for suffix in ("Un", "Adj"):  # cobalt's order: the Un block, then the Adj block
        for pre in _STAT_PREFIXES:
            col = f"{pre}.{suffix}"
            if col not in tabs[0].balance.columns:
                continue
            vals = np.column_stack([t.balance[col].to_numpy(dtype=float) for t in tabs])
            ok = np.isfinite(vals)
            any_ok = ok.any(axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                lo = np.where(ok, vals, np.inf).min(axis=1)
                hi = np.where(ok, vals, -np.inf).max(axis=1)
                cnt = np.maximum(ok.sum(axis=1), 1)
                if pre == "V.Ratio":  # cobalt: the geometric mean of the ratios with finite log
                    okg = ok & (vals > 0)
                    mean = np.exp(np.where(okg, np.log(np.where(okg, vals, 1.0)), 0.0)
                                  .sum(axis=1) / np.maximum(okg.sum(axis=1), 1))
                    mean = np.where(okg.any(axis=1), mean, np.nan)
                else:
                    mean = np.where(ok, vals, 0.0).sum(axis=1) / cnt
            across[f"Min.{col}"] = np.where(any_ok, lo, np.nan)
            across[f"Mean.{col}"] = np.where(any_ok, mean, np.nan)
            across[f"Max.{col}"] = np.where(any_ok, hi, np.nan)
    obs = sum(t.observations.astype(float) for t in tabs) / len(tabs)
    return BalTabMi(across, tabs, obs)
