"""The parity-case registry: one entry per (Python function, R twin, data set, arguments).

Tests (tests/parity/test_registry.py), snapshots (``carts-iptw parity regenerate``), the parity
report (``carts-iptw parity --out``) and the README's function table all read this registry, so
a new function is added once and shows up everywhere.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

#: R packages a live run must have (all packaged by Debian); missing ones fail in ``require`` mode.
DEBIAN_R_PACKAGES = ("survival", "survey", "sandwich", "MatchIt", "MASS", "jsonlite", "brglm2", "cmprsk",
                     "mice", "riskRegression", "geepack")
#: R packages Debian does not ship, installed offline from ../shared/r-packages (``.ci/run``):
#: a case that declares one needs it live in ``require`` mode, like a Debian package.
SHARED_R_PACKAGES = ("WeightIt", "cobalt", "fwb", "marginaleffects", "survRM2")


#: R's own packages: a twin from these is "the package" whenever R runs
BASE_R_PACKAGES = ("stats", "base", "utils", "graphics", "grDevices", "methods")

#: kinds of reference a case compares with (the parity report's "compared against" column)
REFERENCE_KINDS = {
    "package": "the R package itself, called live (its version in the report)",
    "snapshot-real": "recorded output of the real R package (its provenance travels with it)",
    "independent": "an independent computation in R (a restatement or another algorithm), "
                   "where no installable package answers: the case says why",
}


@dataclass(frozen=True)
class ParityCase:
    """One parity check of a Python function against its R twin.

    ``python(data, args)`` and the R function ``r_function(data, args)`` (in ``r_reference/
    r_file``) must return the same quantities, keyed alike. Pass iff, element-wise,
    ``|py - r| <= atol + rtol * |r|``; quantities named in ``exact`` must be equal.
    """

    name: str
    function: str
    r_twin: str
    dataset: str | Callable[[], pd.DataFrame]
    r_file: str
    r_function: str
    python: Callable[[pd.DataFrame, Mapping[str, Any]], Mapping[str, Any]]
    args: Mapping[str, Any] = field(default_factory=dict)
    rtol: float = 1e-6
    atol: float = 0.0
    #: per-quantity overrides: {"quantity": (rtol, atol)}
    tolerances: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    exact: tuple[str, ...] = ()
    r_packages: tuple[str, ...] = ()
    #: file under tests/parity/snapshots/external/ holding real output of a package that cannot
    #: be installed here (its provenance travels with it). ``r_function`` then reads the live
    #: package when installed.
    external_snapshot: str | None = None
    #: maps the external snapshot's JSON document to this case's quantities (R side)
    external_extract: Callable[[dict], Mapping[str, Any]] | None = None
    description: str = ""
    #: R's warnings: "recorded" (captured, stored in the snapshot and listed in the report) or
    #: "mirrored" (the Python function says it gives R's warnings: the two sets are compared,
    #: see compare.compare_warnings)
    warnings: str = "recorded"
    #: regular expressions of the Python warnings R never gives (the package's own, e.g. on
    #: extreme weights): in a "mirrored" case they are listed as package-only, not compared
    package_only_warnings: tuple[str, ...] = ()
    #: what the Python side is compared against (see REFERENCE_KINDS); None: derived from the
    #: case ("snapshot-real" with an external snapshot, else "package": the R twin is called live)
    reference: str | None = None
    #: why, when the reference is not the real package live (shown in the report)
    reference_reason: str = ""
    #: compare the stored snapshot with live R (runner.drift_rows). Set False only for an R side
    #: that draws random numbers without a seed (a new draw never equals the stored one); the
    #: report then says the drift check is off.
    drift: bool = True

    def __post_init__(self):
        if self.warnings not in ("recorded", "mirrored"):
            raise ValueError(f"{self.name}: warnings must be 'recorded' or 'mirrored'")
        if self.reference is not None and self.reference not in REFERENCE_KINDS:
            raise ValueError(f"{self.name}: reference must be one of {tuple(REFERENCE_KINDS)}")
        if self.reference == "independent" and not self.reference_reason:
            raise ValueError(f"{self.name}: an independent reference needs a reference_reason")

    @property
    def twin_package(self) -> str | None:
        """The R package named by ``r_twin`` ("survival" for "survival::coxph"), if any."""
        m = re.search(r"([A-Za-z][A-Za-z0-9.]*)::", self.r_twin)
        return m.group(1) if m else None

    @property
    def reference_kind(self) -> str:
        """``reference`` when set; else "snapshot-real" with an external snapshot, "package"
        when the R function calls the twin's package (listed in ``r_packages``, or base R's
        stats / base / utils), and "independent" when it restates a package it does not call."""
        if self.reference is not None:
            return self.reference
        if self.external_snapshot:
            return "snapshot-real"
        pkg = self.twin_package
        if pkg is None or pkg in BASE_R_PACKAGES or pkg in self.r_packages:
            return "package"
        return "independent"

    @property
    def reference_why(self) -> str:
        if self.reference_reason:
            return self.reference_reason
        if self.reference_kind == "independent":
            return (f"r_reference/{self.r_file} restates {self.twin_package} without calling it "
                    f"({self.twin_package} is not in the case's r_packages)")
        return ""

    @property
    def dataset_name(self) -> str:
        return self.dataset if isinstance(self.dataset, str) else getattr(
            self.dataset, "__name__", "custom"
        )

    def load_data(self) -> pd.DataFrame:
        if callable(self.dataset):
            return self.dataset()
        from carts_iptw.datasets import load_dataset

        return load_dataset(self.dataset)

    def tolerance_for(self, quantity: str) -> tuple[float, float]:
        if quantity in self.exact or quantity.split(".")[0] in self.exact:
            return (0.0, 0.0)
        for key, tol in self.tolerances.items():
            if quantity == key or quantity.startswith(key + "."):
                return tol
        return (self.rtol, self.atol)

    @property
    def shared_packages(self) -> tuple[str, ...]:
        """The case's R packages that come from ../shared/r-packages (not Debian)."""
        return tuple(p for p in self.r_packages if p in SHARED_R_PACKAGES)


_REGISTRY: dict[str, ParityCase] = {}


def register(case: ParityCase) -> ParityCase:
    if case.name in _REGISTRY:
        raise ValueError(f"parity case {case.name!r} is registered twice")
    _REGISTRY[case.name] = case
    return case


def all_cases() -> list[ParityCase]:
    """Every registered case, after importing every module of ``carts_iptw.parity.cases``."""
    from carts_iptw.parity import cases

    for mod in pkgutil.iter_modules(cases.__path__):
        importlib.import_module(f"{cases.__name__}.{mod.name}")
    return [
        _REGISTRY[k] for k in sorted(_REGISTRY)
    ]


def get_case(name: str) -> ParityCase:
    all_cases()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"no parity case named {name!r}") from None
