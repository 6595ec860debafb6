"""The shipped reference data sets equal the R packages' own, value for value."""

import pandas as pd

from carts_iptw.datasets import available_datasets, dataset_meta
from carts_iptw.parity.registry import ParityCase, register


def _columns(data: pd.DataFrame, args) -> dict:
    out = {}
    for c in data.columns:
        s = data[c]
        out[c] = s.astype(object).where(s.notna(), None).tolist() if isinstance(s.dtype, pd.CategoricalDtype) else s.astype(float).to_numpy()
    if not isinstance(data.index, pd.RangeIndex):
        out[".rownames"] = [str(i) for i in data.index]
    out[".levels"] = [f"{c}:{lv}" for c in data.columns if isinstance(data[c].dtype, pd.CategoricalDtype)
                      for lv in data[c].cat.categories]
    return out


for _name in available_datasets():
    register(ParityCase(
        name=f"dataset.{_name}",
        function="load_dataset",
        r_twin=f"{dataset_meta(_name)['source_package']}::{_name}",
        dataset=_name,
        r_file="datasets.R",
        r_function="ref_dataset_columns",
        python=_columns,
        args={"name": _name},
        rtol=0.0,
        atol=0.0,
        r_packages=(dataset_meta(_name)["source_package"],),
        description="every column of the shipped copy equals R's data set exactly",
    ))
