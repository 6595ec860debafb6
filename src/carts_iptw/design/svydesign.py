"""Survey design objects: the twin of ``survey::svydesign``.

Only what an IPTW analysis needs is implemented: sampling (IPTW) weights, optional cluster ids
(one stage) and optional strata, no finite-population correction.  The variance of a total of
influence values is survey's ``svyrecvar`` for a one-stage design (Lumley 2010, section 2.2;
``survey:::onestrat``): within each stratum, PSU totals are centred on their stratum mean and
scaled by ``n_h / (n_h - 1)``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from carts_iptw._diagnostics import warn_extreme_weights
from carts_iptw._validation import (
    check_no_missing,
    check_weights,
    column_or_vector,
    require_dataframe,
)


def _as_vector(data: pd.DataFrame, spec, what: str) -> tuple[np.ndarray, str]:
    arr, name = column_or_vector(data, spec, what)
    if isinstance(spec, str):
        check_no_missing(data, [name])
    elif pd.isna(pd.Series(arr)).any():
        raise ValueError(f"{what} has {int(pd.isna(pd.Series(arr)).sum())} missing value(s)")
    return arr, name


class SurveyDesign:
    """A one-stage survey design (twin of a ``survey.design2`` object).

    Attributes: ``data`` (DataFrame), ``weights`` (sampling weights, 1/prob), ``cluster`` and
    ``strata`` (integer codes in row order), ``n``.  ``weights_name`` is the label of the weights.

    A design of independent rows (``ids = ~1``, no strata: every row its own PSU) is marked
    ``iid``; its ``degf`` and ``recvar`` need no grouping (the same formulas without the sort).
    A domain (:meth:`subset`) builds its ``data`` on first access; :meth:`column` reads one
    column without building it.
    """

    def __init__(self, data, weights, cluster, strata, weights_name="weights", npsu=None,
                 iid=None):
        self._data = data
        self._source = None  # (parent data, row mask) of a domain not built yet
        self.weights = np.asarray(weights, dtype=float)
        self.cluster = np.asarray(cluster)
        self.strata = np.asarray(strata)
        self.n = len(self.weights)
        self.weights_name = weights_name
        if iid is None:
            iid = bool(self.n == 0 or (
                np.all(self.strata == self.strata[0])
                and np.array_equal(self.cluster, np.arange(self.n))))
        self.iid = bool(iid)
        if npsu is None:
            # survey stores the number of PSUs per stratum at design time (fpc$sampsize); a
            # domain (subset) keeps it, so the variance pads the absent PSUs with zeros.
            if self.iid and self.n:
                npsu = {self.strata[0]: self.n}
            else:
                npsu = {}
                for h in np.unique(self.strata):
                    npsu[h] = len(np.unique(self.cluster[self.strata == h]))
        self.npsu = npsu

    @property
    def data(self) -> pd.DataFrame:
        """The rows of the design (a domain's are taken from its parent on first access)."""
        if self._data is None:
            src, mask = self._source
            self._data = src.loc[mask].reset_index(drop=True)
            self._source = None
        return self._data

    @data.setter
    def data(self, value: pd.DataFrame) -> None:
        self._data = value
        self._source = None

    @property
    def columns(self) -> pd.Index:
        """The column names of ``data`` (without building a domain's data)."""
        return self._data.columns if self._data is not None else self._source[0].columns

    def column(self, name: str) -> pd.Series:
        """One column of ``data`` (index reset), without building a domain's data."""
        if self._data is not None:
            return self._data[name]
        src, mask = self._source
        return src[name][mask].reset_index(drop=True)

    # -- survey's degf(): number of PSUs minus number of strata (rows with non-zero weight)
    def degf(self) -> int:
        """Design degrees of freedom (survey's ``degf``).

        Clusters minus strata among the rows with nonzero weight.
        """
        inset = self.weights != 0
        if self.iid:
            k = int(inset.sum())
            return k - int(k > 0)
        return int(len(np.unique(self.cluster[inset])) - len(np.unique(self.strata[inset])))

    def recvar(self, x, overwrite: bool = False) -> np.ndarray:
        """``survey::svyrecvar`` for this one-stage design: variance matrix of ``colSums(x)``.

        ``overwrite=True``: ``x`` (a float64 array the caller gives away) may be centred in
        place (no n x p copy).
        """
        x = np.asarray(x, dtype=float)
        if x.ndim == 1:
            x = x[:, None]
        p = x.shape[1]
        if self.iid:
            # every row its own PSU, one stratum with nh PSUs at design time (a domain pads
            # the absent ones with zero totals): the same centring as below, without grouping
            nh = next(iter(self.npsu.values())) if self.npsu else self.n
            if nh <= 1:
                raise ValueError(
                    "a stratum has only one PSU (survey's lonely.psu = 'fail'); merge strata"
                )
            k = x.shape[0]
            m = x.sum(axis=0) / nh
            xc = np.subtract(x, m, out=x) if overwrite and x.flags.writeable else x - m
            # a thin product by einsum (a threaded BLAS call spins on a loaded machine)
            gram = np.einsum("ij,ik->jk", xc, xc) if p <= 8 else xc.T @ xc
            out = gram + (nh - k) * np.outer(m, m)
            return out * (nh / (nh - 1))
        out = np.zeros((p, p))
        for h in np.unique(self.strata):
            idx = self.strata == h
            nh = self.npsu[h]
            cl = self.cluster[idx]
            _, inv = np.unique(cl, return_inverse=True)
            tot = np.zeros((inv.max() + 1, p))
            np.add.at(tot, inv, x[idx])
            if tot.shape[0] < nh:
                tot = np.vstack([tot, np.zeros((nh - tot.shape[0], p))])
            if nh > 1:
                tot = tot - tot.mean(axis=0)
                out += tot.T @ tot * (nh / (nh - 1))
            else:
                raise ValueError(
                    "a stratum has only one PSU (survey's lonely.psu = 'fail'); merge strata"
                )
        return out

    def subset(self, mask) -> SurveyDesign:
        """``design[mask, ]``: a domain that keeps the design's PSU counts (survey semantics)."""
        mask = np.asarray(mask, dtype=bool)
        if mask.sum() == 0:
            raise ValueError("subset of the design is empty")
        out = SurveyDesign(
            None,
            self.weights[mask],
            self.cluster[mask] if not self.iid else np.arange(int(mask.sum())),
            self.strata[mask],
            self.weights_name,
            npsu=self.npsu,
            iid=self.iid,
        )
        # a shallow copy: columns added to or deleted from the parent later do not leak in
        src = self._data.copy(deep=False) if self._data is not None else None
        if src is None:
            psrc, pmask = self._source
            src, full = psrc, np.zeros(len(pmask), dtype=bool)
            full[np.flatnonzero(pmask)[mask]] = True
            mask = full
        out._source = (src, mask)
        return out

    def __len__(self) -> int:
        """Number of rows."""
        return self.n

    def __repr__(self) -> str:
        """One line: the design type, n, the sum of weights and ``degf``."""
        nclus = len(np.unique(self.cluster))
        kind = "Independent Sampling design (with replacement)" if nclus == self.n else (
            f"{len(np.unique(self.strata))}-stratum cluster sampling design, {nclus} clusters"
        )
        return (
            f"<SurveyDesign: {kind}; n = {self.n}, sum of weights = {self.weights.sum():.6g}, "
            f"degf = {self.degf()}>"
        )

    def summary(self) -> str:
        """Design type, n, sum of weights, ``degf`` and the weight range (R: ``summary(design)``)."""
        w = self.weights
        return (
            repr(self)
            + f"\nweights: min {w.min():.6g}, median {np.median(w):.6g}, max {w.max():.6g}"
        )


def require_design(design, what: str = "design") -> SurveyDesign:
    """``TypeError`` unless ``design`` is a :class:`SurveyDesign` (e.g. a DataFrame passed by mistake)."""
    if not isinstance(design, SurveyDesign):
        raise TypeError(
            f"{what} must be a survey design from svydesign(), got {type(design).__name__}"
        )
    return design


def svydesign(data: pd.DataFrame, weights, ids=None, strata=None, nest: bool = False) -> SurveyDesign:
    """Create a survey design; twin of ``survey::svydesign(ids = ~1, weights = ~w, data)``.

    Parameters
    ----------
    data : pandas.DataFrame
        The rows of the design.
    weights : str or array-like
        A column name (``"w"`` or ``"~w"``) or an array of sampling weights (e.g. IPT weights).
    ids : str or array-like, optional
        Cluster (PSU) ids; None means R's ``ids = ~1`` (every row its own PSU).
    strata : str or array-like, optional
        Strata.
    nest : bool, default False
        Relabel cluster ids within strata (otherwise, as in R, they must be nested in strata).

    Returns
    -------
    SurveyDesign
        ``.data`` (index reset), ``.weights``, ``.cluster``, ``.strata``, ``.degf()``,
        ``.recvar(x)``, ``.subset(mask)`` (a domain keeping the PSU counts) and ``.summary()``.

    Raises
    ------
    TypeError
        ``data`` is not a DataFrame; non-numeric weights.
    ValueError
        Unknown columns; missing values in weights / ids / strata; negative, non-finite or
        all-zero weights; arrays of the wrong length; clusters not nested in strata without
        ``nest=True``. A stratum with a single PSU raises when a variance is computed
        (survey's ``lonely.psu = "fail"``).

    Notes
    -----
    No finite-population correction (as R without ``fpc=``).  Weights must be finite and
    non-negative, and not all zero; R accepts missing weights only to fail later, here they
    raise at once.

    The design variance of a total ``T = sum_i x_i`` of (weighted) influence values, used by
    every ``svy*`` function, is (Lumley 2010, sec. 2.2)::

        V(T) = sum_h n_h/(n_h - 1) * sum_{c in h} (z_hc - zbar_h)(z_hc - zbar_h)'

    with ``z_hc`` the PSU totals of ``x`` in stratum ``h`` and ``n_h`` its number of PSUs; for
    ``ids = ~1`` without strata this is ``n/(n-1) * sum_i (x_i - xbar)(x_i - xbar)'``. Design
    degrees of freedom ``degf = #PSUs - #strata`` (rows with non-zero weight).

    R twin version: survey 4.1-1 (``svydesign`` / ``svyrecvar`` with ``lonely.psu = "fail"``).

    References
    ----------
    Lumley T (2004) Analysis of complex survey samples, J Stat Softw 9(8):1-19; Lumley T (2010)
    Complex Surveys: A Guide to Analysis Using R, Wiley; survey 4.1-1 ``?svydesign``.
    """
    data = require_dataframe(data)
    n = len(data)
    w, wname = _as_vector(data, weights, "weights")
    if not (pd.api.types.is_numeric_dtype(np.asarray(w)) or np.asarray(w).dtype == bool):
        raise TypeError(f"weights '{wname}' must be numeric")
    w = check_weights(w, name=f"weights '{wname}'", n=n)
    warn_extreme_weights(w, f"svydesign: weights '{wname}'")
    if ids is None or (isinstance(ids, str) and ids.replace(" ", "") in ("~1", "~0", "1")):
        cluster = np.arange(n)
    else:
        cluster, _ = _as_vector(data, ids, "ids")
        cluster = pd.factorize(pd.Series(cluster))[0]
    if strata is None:
        st = np.zeros(n, dtype=int)
    else:
        st, _ = _as_vector(data, strata, "strata")
        st = pd.factorize(pd.Series(st))[0]
        per = pd.DataFrame({"c": cluster, "s": st}).drop_duplicates()
        if per["c"].duplicated().any():
            if not nest:
                raise ValueError(
                    "clusters are not nested in strata (a cluster id occurs in several strata); "
                    "pass nest=True"
                )
        if nest:
            cluster = pd.factorize(pd.Series(list(zip(st, cluster, strict=True))))[0]
    return SurveyDesign(data.reset_index(drop=True), w, cluster, st, wname)
