"""Resampling on one engine: bootstraps and sensitivity grids, serial or on Dask.

Bootstrap / fractional weighted bootstrap of any estimate and sensitivity grids run serially or
on Dask (``dask.distributed``, the optional extra ``carts_iptw[distributed]``).

Replicate ``r`` draws from ``numpy.random.SeedSequence(seed).spawn(R)[r]``: the answer is the
same serially and on any number of workers, chunks or retries.

Data in chunks (a list of pandas DataFrames or a dask DataFrame): balance statistics, Table 1
and Kaplan-Meier curves per stratum from per-chunk sufficient statistics / per-stratum tasks
(:mod:`carts_iptw.resampling.chunked`), equal to the in-memory functions.
"""

from carts_iptw.resampling.bootstrap import BootstrapResult, bootstrap
from carts_iptw.resampling.chunked import balance_chunked, survfit_by_stratum, table_one_chunked
from carts_iptw.resampling.grid import sensitivity_grid

__all__ = ["BootstrapResult", "balance_chunked", "bootstrap", "sensitivity_grid",
           "survfit_by_stratum", "table_one_chunked"]
