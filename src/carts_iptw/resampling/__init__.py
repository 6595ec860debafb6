"""Resampling on one engine: bootstraps and sensitivity grids, serial or on Dask.

Bootstrap / fractional weighted bootstrap of any estimate and sensitivity grids run serially or
on Dask (``dask.distributed``, the optional extra ``carts_iptw[distributed]``).

Replicate ``r`` draws from ``numpy.random.SeedSequence(seed).spawn(R)[r]``: the answer is the
same serially and on any number of workers, chunks or retries.
"""

from carts_iptw.resampling.bootstrap import BootstrapResult, bootstrap
from carts_iptw.resampling.grid import sensitivity_grid

__all__ = ["BootstrapResult", "bootstrap", "sensitivity_grid"]
