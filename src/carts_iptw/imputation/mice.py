"""Multiple imputation by chained equations: ``mice()`` and its ``Mids`` result.

Engine
------
The chained equations run on **statsmodels' ``MICEData``** (statsmodels >= 0.15, declared in
pyproject.toml). Why this engine:

- it is maintained (statsmodels' own imputation module, released with statsmodels) and draws
  with predictive mean matching (PMM), the default of R's ``mice`` for numeric columns: every
  imputed value is a value observed in another patient, so it stays inside the observed range
  and keeps the column's granularity (integers stay integers, 0/1 stays 0/1);
- since 0.15 it takes a seeded ``numpy.random.Generator`` (``rng=``), so an imputation is
  reproducible from one seed without touching numpy's global state;
- scikit-learn's ``IterativeImputer`` is still marked experimental, has no PMM (its draws from
  a posterior can leave the observed range) and would add scikit-learn and its dependencies to
  the package; miceforest needs LightGBM.

What this module adds on top of ``MICEData``: factor columns (pandas Categorical, text, bool)
are imputed **as levels of the factor** -- a two-level factor by PMM on its 0/1 code (donors
carry observed levels), a factor with more levels by a multinomial logistic model whose
parameters are drawn from their normal approximation and whose level is then drawn from the
predicted probabilities (R's ``mice.impute.polyreg``); factors enter the other columns'
models as indicator columns (``C()``); ``m`` independent chains of ``maxit`` iterations each
(R's ``mice`` runs ``m`` chains for ``maxit = 5``), seeded from one ``numpy.random.SeedSequence``;
R's default of 5 PMM donors; and the input checks of the package.

The imputation is stochastic and uses another random generator than R: it cannot equal R's
``mice`` draw for draw. Its properties are tested instead (seeded reproducibility, no missing
value left, observed values untouched, PMM values within the observed range, factor levels);
the pooling of the analyses (:func:`carts_iptw.imputation.pool`) is checked against
``mice::pool`` on the same completed data sets.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from carts_iptw._validation import require_columns, require_dataframe

#: R's mice default number of PMM donors (``donors = 5L``)
DONORS = 5


def _kind(s: pd.Series) -> str:
    if isinstance(s.dtype, pd.CategoricalDtype):
        return "factor"
    if pd.api.types.is_bool_dtype(s.dtype):
        return "bool"
    if pd.api.types.is_numeric_dtype(s.dtype):
        return "numeric"
    if pd.api.types.is_object_dtype(s.dtype) or pd.api.types.is_string_dtype(s.dtype):
        return "text"
    raise TypeError(f"column '{s.name}' has a type mice cannot impute ({s.dtype}); use numbers, "
                    "bool or a factor (pandas Categorical)")


def _check_m(m) -> int:
    if isinstance(m, bool) or not isinstance(m, (int, np.integer)):
        raise TypeError("m (the number of imputations) must be an integer >= 2")
    if m < 2:
        raise ValueError(f"m (the number of imputations) must be at least 2, got {int(m)}: "
                         "Rubin's rules need the between-imputation variance")
    return int(m)


class Mids:
    """Multiply imputed data sets: R's ``mids`` object (``mice::mice``).

    Attributes
    ----------
    data : pandas.DataFrame
        The incomplete data (a copy).
    m : int
        Number of imputations.
    maxit : int
        Iterations of each chain.
    seed : int
        The seed (``numpy.random.SeedSequence`` entropy) that reproduces the imputations.
    where : pandas.DataFrame
        Boolean, True where a value was imputed (R's ``where``).
    nmis : pandas.Series
        Missing (imputed) values per column (R's ``nmis``), every column of ``data``.
    method : dict
        Column -> ``"pmm"`` / ``"polyreg"`` for the imputed columns (R's ``method``; empty
        string for complete columns).
    imp : dict
        Column -> DataFrame (rows: the imputed rows' index, columns 1..m) of imputed values
        (R's ``imp``).

    Notes
    -----
    ``complete(i)`` (1-based, as R's ``complete(imp, i)``), ``complete("long")`` (stacked,
    ``.imp`` and ``.id`` first, as R's ``complete(imp, "long")``), iteration over the ``m``
    completed data sets, ``len()``. R twin: ``mids`` of mice 3.15.0.
    """

    def __init__(self, data, m, maxit, seed, where, method, imputed, donors):
        self.data = data
        self.m = m
        self.maxit = maxit
        self.seed = seed
        self.where = where
        self.nmis = where.sum(axis=0).astype(int)
        self.method = method
        self.donors = donors
        self._imputed = imputed  # list of m dicts col -> values at the missing rows
        self.imp = {}
        for c in where.columns:
            if not method.get(c):
                continue
            vals = {i + 1: imputed[i][c] for i in range(m)}
            if isinstance(data[c].dtype, pd.CategoricalDtype):
                cats = np.asarray(data[c].cat.categories, dtype=object)
                vals = {k: cats[v] for k, v in vals.items()}
            elif pd.api.types.is_bool_dtype(data[c].dtype) or _bool_like(data[c]):
                vals = {k: v.astype(bool) for k, v in vals.items()}
            self.imp[c] = pd.DataFrame(vals, index=data.index[where[c].to_numpy()])

    def __len__(self) -> int:
        """The number of imputations ``m``."""
        return self.m

    def __iter__(self):
        """The ``m`` completed data sets in order."""
        return (self.complete(i) for i in range(1, self.m + 1))

    def complete(self, action=1) -> pd.DataFrame:
        """A completed data set: R's ``mice::complete``.

        Parameters
        ----------
        action : int or "long"
            ``1..m`` (R's 1-based numbering) for one data set; ``"long"`` for all ``m``
            stacked with columns ``.imp`` (1..m) and ``.id`` (the row's position) first.

        Returns
        -------
        pandas.DataFrame
            The data with its missing values replaced; column types and factor levels as in
            ``data``.
        """
        if isinstance(action, str):
            if action != "long":
                raise ValueError("action must be an imputation number 1..m or 'long'")
            parts = []
            for i in range(1, self.m + 1):
                d = self.complete(i)
                d.insert(0, ".id", np.arange(1, len(d) + 1))
                d.insert(0, ".imp", i)
                parts.append(d)
            return pd.concat(parts, ignore_index=True)
        if isinstance(action, bool) or not isinstance(action, (int, np.integer)) \
                or not 1 <= action <= self.m:
            raise ValueError(f"action must be an imputation number 1..{self.m} (R's 1-based "
                             "numbering) or 'long'")
        out = self.data.copy()
        vals = self._imputed[int(action) - 1]
        for c, v in vals.items():
            mask = self.where[c].to_numpy()
            col = out[c]
            if isinstance(col.dtype, pd.CategoricalDtype):
                codes = col.cat.codes.to_numpy().copy()
                codes[mask] = v
                out[c] = pd.Categorical.from_codes(codes, dtype=col.dtype)
            elif pd.api.types.is_bool_dtype(col.dtype) or (col.dtype == object and
                                                             self.method.get(c) and
                                                             _bool_like(col)):
                arr = col.to_numpy(dtype=object).copy()
                arr[mask] = v.astype(bool)
                out[c] = arr.astype(bool)
            elif pd.api.types.is_numeric_dtype(col.dtype):
                arr = col.to_numpy(dtype=float, na_value=np.nan).copy()
                arr[mask] = v
                if pd.api.types.is_integer_dtype(col.dtype):  # nullable Int64 & co.
                    out[c] = arr.astype(np.int64)
                else:
                    out[c] = arr
            else:  # text: the imputed values are observed strings
                arr = col.to_numpy(dtype=object).copy()
                arr[mask] = v
                out[c] = pd.Series(arr, index=out.index, name=c).astype(col.dtype)
        return out

    def __repr__(self) -> str:
        """R-like print of a ``mids`` object (counts only, never values)."""
        lines = ["Class: mids", f"Number of multiple imputations:  {self.m}",
                 "Imputation methods:"]
        cols = list(self.where.columns)
        lines.append("  ".join(f"{c}: {self.method.get(c) or '-'}" for c in cols))
        lines.append("Missing values per column (nmis):")
        lines.append("  ".join(f"{c}: {int(self.nmis[c])}" for c in cols))
        return "\n".join(lines)


def _bool_like(col: pd.Series) -> bool:
    vals = col.dropna().unique()
    return len(vals) > 0 and all(isinstance(v, (bool, np.bool_)) for v in vals)


def _encode(data: pd.DataFrame):
    """Columns as floats for MICEData: numbers as they are, factors as codes (NaN missing)."""
    enc, kinds, nlev, levels = {}, {}, {}, {}
    for j, c in enumerate(data.columns):
        s = data[c]
        k = _kind(s)
        if k == "text" and _bool_like(s):
            k = "bool"
        name = f"v{j}"
        if k == "factor":
            codes = s.cat.codes.to_numpy().astype(float)
            codes[codes < 0] = np.nan
            enc[name], nlev[c] = codes, len(s.cat.categories)
        elif k == "bool":
            x = s.to_numpy(dtype=object)
            miss = pd.isna(s).to_numpy()
            arr = np.full(len(s), np.nan)
            arr[~miss] = x[~miss].astype(bool).astype(float)
            enc[name], nlev[c] = arr, 2
        elif k == "text":
            cat = pd.Categorical(s)
            codes = cat.codes.astype(float)
            codes[codes < 0] = np.nan
            enc[name], nlev[c] = codes, len(cat.categories)
            levels[c] = list(cat.categories)
        else:
            arr = s.to_numpy(dtype=float, na_value=np.nan)
            if np.isinf(arr).any():
                raise ValueError(f"column '{c}' has infinite values; mice imputes missing "
                                 "values only")
            enc[name] = arr
        kinds[c] = k
    return pd.DataFrame(enc), kinds, nlev, levels


def mice(data: pd.DataFrame, m: int = 5, seed: int | None = None, maxit: int = 10,
         columns: Sequence[str] | None = None, donors: int = DONORS, *, client=None,
         n_workers=None, retries: int = 2, progress=None) -> Mids:
    """Multiple imputation by chained equations, the twin of ``mice::mice`` (mice 3.15.0).

    Parameters
    ----------
    data : pandas.DataFrame
        The data. Every column given (or every column of ``data``) predicts the others; the
        columns with missing values are imputed. Put the treatment and the outcome in: the
        imputation model must contain them (White, Royston & Wood 2011).
    m : int, default 5
        Number of imputations (>= 2; R's default 5).
    seed : int, optional
        Seed of the ``m`` chains (``numpy.random.SeedSequence(seed).spawn(m)``); None draws
        one from the operating system and records it as ``Mids.seed``.
    maxit : int, default 10
        Iterations of each chain (R's default is 5; 10 is safer for convergence).
    columns : sequence of str, optional
        The columns used (default: all).
    donors : int, default 5
        PMM donors (R's ``donors = 5L``).
    client, n_workers, retries, progress
        The engine of :mod:`carts_iptw.resampling`: serial by default; ``client=`` (an
        existing ``dask.distributed.Client``) or ``n_workers=`` (a local cluster) run the ``m``
        chains on Dask, one task per chain. Chain ``i`` draws from its own
        ``SeedSequence(seed).spawn(m)[i]``, so the imputations are the same bits serially and
        on any number of workers, and a retried chain (anything but a ``ValueError``, up to
        ``retries`` times) draws the same values. ``progress`` as in
        :func:`carts_iptw.bootstrap` (units: chains).

    Returns
    -------
    Mids
        ``complete(i)``, ``complete("long")``, ``where``, ``nmis``, ``method``, ``imp``.

    Raises
    ------
    ValueError
        ``m < 2``; a column entirely missing; no missing value at all is fine (the ``m`` data
        sets are then copies); a column of an unsupported type; infinite values.

    Notes
    -----
    Methods (R's names): ``"pmm"`` for numeric columns and two-level factors (their 0/1 code;
    donors carry observed levels), ``"polyreg"`` for factors with more levels (multinomial
    logistic, parameters drawn from their normal approximation, level drawn from the predicted
    probabilities). Each model has main effects of every other column (factors as
    indicators); constant columns are left out of the models. Engine: statsmodels
    ``MICEData`` (see the module docstring for the reasons). Differences from R: another
    random number generator (no draw-for-draw equality), statsmodels' parameter perturbation
    (normal approximation to the OLS posterior instead of mice's ``.norm.draw``), and
    ``maxit = 10`` by default. R twin: ``mice::mice(data, m, seed, maxit)`` (mice 3.15.0).
    """
    from carts_iptw.resampling._engine import check_engine_args

    require_dataframe(data)
    m = _check_m(m)
    check_engine_args(client, n_workers, retries)
    if isinstance(maxit, bool) or not isinstance(maxit, (int, np.integer)) or maxit < 1:
        raise ValueError("maxit must be an integer >= 1")
    if isinstance(donors, bool) or not isinstance(donors, (int, np.integer)) or donors < 1:
        raise ValueError("donors must be an integer >= 1")
    if columns is not None:
        columns = list(columns)
        require_columns(data, columns)
        if len(set(columns)) != len(columns):
            raise ValueError("columns lists a column twice")
        data = data[columns]
    data = data.copy()
    if not all(isinstance(c, str) for c in data.columns):
        raise TypeError("mice needs string column names")
    miss = data.isna()
    allmiss = [c for c in data.columns if miss[c].all()]
    if allmiss:
        raise ValueError(f"column(s) {allmiss} are entirely missing: there is nothing to impute "
                         "them from; drop them")
    if seed is None:
        seed = int(np.random.SeedSequence().entropy)
    elif isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError("seed must be a non-negative integer or None")
    enc, kinds, nlev, levels = _encode(data)
    cols = list(data.columns)
    code = dict(zip(cols, enc.columns, strict=True))
    method = {}
    for c in cols:
        if miss[c].any():
            method[c] = "polyreg" if kinds[c] in ("factor", "text") and nlev[c] > 2 else "pmm"
        else:
            method[c] = ""
    target = [c for c in cols if method[c]]
    children = np.random.SeedSequence(int(seed)).spawn(m)
    if not target:
        imputed = [{} for _ in range(m)]
    else:
        from carts_iptw.resampling._engine import run_tasks

        imputed = run_tasks(_chain_task, (enc, cols, code, kinds, nlev, levels, method, miss,
                                          int(maxit), int(donors)), children,
                            client=client, n_workers=n_workers, retries=retries,
                            progress=progress, label="mice chains",
                            describe=lambda i, msg: msg)
    return Mids(data, m, int(maxit), int(seed), miss, method, imputed, int(donors))


def _chain_task(payload, child: np.random.SeedSequence) -> dict:
    """One chain (one imputation) from its own seed; a task of the engine."""
    enc, cols, code, kinds, nlev, levels, method, miss, maxit, donors = payload
    return _chain(enc, cols, code, kinds, nlev, levels, method, miss, maxit,
                  np.random.default_rng(child), donors)


def _chain(enc, cols, code, kinds, nlev, levels, method, miss, maxit, rng, donors) -> dict:
    frame = enc.copy()
    frame["_row"] = 0.0  # fully observed: MICEData drops rows missing in every column
    md = _MiceChain(frame, k_pmm=int(donors), rng=rng, labels={code[c]: c for c in cols})
    # predictors: non-constant columns (a constant column is aliased with the intercept)
    const = {c for c in cols if enc[code[c]].nunique(dropna=True) <= 1}

    def term(c):
        return f"C({code[c]})" if kinds[c] in ("factor", "text") and nlev[c] > 2 else code[c]

    for c in cols:
        if not method[c]:
            continue
        preds = [term(o) for o in cols if o != c and o not in const]
        rhs = " + ".join(preds) if preds else "1"
        md.set_imputer(code[c], formula=rhs, k_pmm=int(donors))
        if method[c] == "polyreg":
            md.polyreg.add(code[c])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # statsmodels' convergence chatter; checked below
        md.update_all(int(maxit))
    out = {}
    for c in cols:
        if not method[c]:
            continue
        v = md.data[code[c]].to_numpy()[miss[c].to_numpy()]
        if not np.isfinite(v).all():
            raise ValueError(f"imputation of column '{c}' failed (non-finite draws)")
        if kinds[c] in ("factor", "text", "bool"):
            v = v.astype(np.int64)
        if kinds[c] == "text":
            v = np.asarray(levels[c], dtype=object)[v]
        out[c] = v
    return out


def _mice_data_class():
    import inspect

    try:
        from statsmodels.imputation.mice import MICEData
    except ImportError:
        raise ImportError("mice() needs statsmodels >= 0.15 (its MICEData engine): "
                          "pip install 'carts_iptw[mi]'") from None
    if "rng" not in inspect.signature(MICEData).parameters:
        raise ImportError("mice() needs statsmodels >= 0.15 (a MICEData that takes a seeded "
                          "rng=): pip install 'carts_iptw[mi]'")
    return MICEData


def _make_chain_class():
    MICEData = _mice_data_class()

    class MiceChain(MICEData):
        """MICEData with R's polyreg for factors of more than two levels."""

        def __init__(self, *args, labels=None, **kwargs):
            self.polyreg = set()
            self.labels = labels or {}
            super().__init__(*args, **kwargs)

        def update(self, vname):
            if vname in self.polyreg:
                self._polyreg(vname)
            else:
                super().update(vname)

        def _polyreg(self, vname):
            from statsmodels.discrete.discrete_model import MNLogit

            endog_obs, exog_obs, exog_miss, _, _ = self.get_split_data(vname)
            y = np.asarray(endog_obs, dtype=float).ravel()
            levels, yi = np.unique(y, return_inverse=True)
            if len(levels) == 1:
                self._store_changes(vname, np.full(exog_miss.shape[0], levels[0]))
                return
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    res = MNLogit(yi, exog_obs).fit(disp=0, method="newton", maxiter=100)
                    beta = np.asarray(res.params)
                    cov = np.asarray(res.cov_params())
                except (np.linalg.LinAlgError, ValueError) as exc:
                    raise ValueError(
                        f"the imputation model of factor column '{self.labels[vname]}' "
                        "(multinomial logistic regression on the other columns) could not be "
                        f"fitted ({type(exc).__name__}): rare levels or separation; merge rare "
                        "levels or leave the column out") from None
            if not np.isfinite(beta).all():
                raise ValueError(
                    f"the imputation model of factor column '{self.labels[vname]}' did not "
                    "converge (separation?): merge rare levels or leave the column out")
            k = beta.shape[1]
            mu = beta.ravel(order="F")
            if np.isfinite(cov).all():
                draw = self.rng.multivariate_normal(mu, cov, method="eigh")
            else:
                draw = mu
            b = draw.reshape(beta.shape, order="F")
            eta = np.column_stack([np.zeros(exog_miss.shape[0]), exog_miss @ b])
            eta -= eta.max(axis=1, keepdims=True)
            p = np.exp(eta)
            p /= p.sum(axis=1, keepdims=True)
            u = self.rng.random(exog_miss.shape[0])
            pick = (p.cumsum(axis=1) < u[:, None]).sum(axis=1)
            pick = np.minimum(pick, k)
            self._store_changes(vname, levels[pick])

    return MiceChain


class _LazyChain:
    cls = None

    def __call__(self, *args, **kwargs):
        if _LazyChain.cls is None:
            _LazyChain.cls = _make_chain_class()
        return _LazyChain.cls(*args, **kwargs)


_MiceChain = _LazyChain()
