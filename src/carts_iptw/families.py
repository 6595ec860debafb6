"""R's GLM family objects: binomial, quasibinomial, gaussian, poisson, quasipoisson.

Each function is the twin of the R function of the same name in package stats (print
``binomial()$linkinv`` etc. in R to see the code replayed here): link, inverse link, mu.eta,
variance, deviance residuals, AIC, validity checks and ``initialize`` (mustart).
Links: logit, probit, cloglog, identity, log (the logit inverse link clamps at |eta| > 30 as R's
C code does; probit and cloglog clamp as R's make.link).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import special, stats

__all__ = [
    "Family", "Link", "get_family", "binomial", "quasibinomial", "gaussian", "poisson",
    "quasipoisson", "CartsIptwWarning", "GlmWarning",
]

DBL_EPS = float(np.finfo(float).eps)
_THRESH = 30.0
_MTHRESH = -30.0


class CartsIptwWarning(UserWarning):
    """Base class of carts_iptw's own warning classes (R's warnings, kept as warnings).

    Every warning the package issues is one of these: :class:`ConvergenceWarning` (also a
    ``RuntimeWarning``: coxph, weightit's glm / ebal / cbps), :class:`GlmWarning` (glm.fit and
    the families), and this class itself (weightit's extreme weights and ``focal`` with a
    non-ATT/ATC estimand, trim, survfit/coxph's ignored cluster). Filter them all with
    ``warnings.simplefilter("ignore", CartsIptwWarning)``.
    """


class ConvergenceWarning(CartsIptwWarning, RuntimeWarning):
    """An iterative fit stopped short, or a coefficient may be infinite.

    With R's text where R warns (survival::coxph "Ran out of iterations and did not converge",
    "Loglik converged before variable ...; coefficient may be infinite"; weightit's glm / ebal /
    cbps).
    """


class CartsIptwDeprecationWarning(CartsIptwWarning, DeprecationWarning):
    """An old name (attribute or keyword) that still works for one release.

    The message names the new one (e.g. ``.pvalues`` -> ``.p_values``, ``vcov_type=`` -> ``vcov=``).
    """


class GlmWarning(CartsIptwWarning):
    """A warning ``stats::glm.fit`` or a family would issue in R, with R's text (e.g.

    "glm.fit: fitted probabilities numerically 0 or 1 occurred", "non-integer #successes in a
    binomial glm!", "glm.fit: algorithm did not converge").
    """


@dataclass(frozen=True)
class Link:
    """A link function as R's ``make.link`` returns it.

    ``linkfun``, ``linkinv``, ``mu_eta`` (R's ``mu.eta``) and ``valideta``.
    """

    name: str
    linkfun: Callable[[np.ndarray], np.ndarray]
    linkinv: Callable[[np.ndarray], np.ndarray]
    mu_eta: Callable[[np.ndarray], np.ndarray]
    valideta: Callable[[np.ndarray], bool]


def _logit_linkinv(eta: np.ndarray) -> np.ndarray:
    eta = np.asarray(eta, dtype=float)
    with np.errstate(over="ignore"):
        tmp = np.where(
            eta < _MTHRESH, DBL_EPS,
            np.where(eta > _THRESH, 1.0 / DBL_EPS, np.exp(np.clip(eta, _MTHRESH, _THRESH))),
        )
    return tmp / (1.0 + tmp)


def _logit_mu_eta(eta: np.ndarray) -> np.ndarray:
    eta = np.asarray(eta, dtype=float)
    e = np.exp(np.clip(eta, _MTHRESH, _THRESH))
    opexp = 1.0 + e
    return np.where((eta > _THRESH) | (eta < _MTHRESH), DBL_EPS, e / (opexp * opexp))


def _logit_linkfun(mu: np.ndarray) -> np.ndarray:
    mu = np.asarray(mu, dtype=float)
    return np.log(mu / (1.0 - mu))


_PROBIT_THRESH = -stats.norm.ppf(DBL_EPS)


def _probit_linkinv(eta):
    return special.ndtr(np.clip(eta, -_PROBIT_THRESH, _PROBIT_THRESH))


def _probit_mu_eta(eta):
    return np.maximum(stats.norm.pdf(eta), DBL_EPS)


def _cloglog_linkinv(eta):
    with np.errstate(over="ignore"):
        return np.maximum(np.minimum(-np.expm1(-np.exp(eta)), 1 - DBL_EPS), DBL_EPS)


def _exp_floor(eta):
    with np.errstate(over="ignore"):
        return np.maximum(np.exp(eta), DBL_EPS)


def _cloglog_mu_eta(eta):
    eta = np.minimum(eta, 700)
    return np.maximum(np.exp(eta) * np.exp(-np.exp(eta)), DBL_EPS)


def _true(_eta) -> bool:
    return True


LINKS: dict[str, Link] = {
    "logit": Link("logit", _logit_linkfun, _logit_linkinv, _logit_mu_eta, _true),
    "probit": Link("probit", lambda mu: special.ndtri(mu), _probit_linkinv, _probit_mu_eta,
                   _true),
    "cloglog": Link("cloglog", lambda mu: np.log(-np.log(1 - mu)), _cloglog_linkinv,
                    _cloglog_mu_eta, _true),
    "identity": Link("identity", lambda mu: np.asarray(mu, dtype=float),
                     lambda eta: np.asarray(eta, dtype=float),
                     lambda eta: np.ones_like(np.asarray(eta, dtype=float)), _true),
    "log": Link("log", lambda mu: np.log(mu), _exp_floor, _exp_floor, _true),
}


def _ylogy(y: np.ndarray, mu: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(y != 0, y * np.log(np.where(y != 0, y, 1.0) / mu), 0.0)


def _binomial_dev_resids(y, mu, wt):
    return 2.0 * wt * (_ylogy(y, mu) + _ylogy(1.0 - y, 1.0 - mu))


def _poisson_dev_resids(y, mu, wt):
    r = mu * wt
    pos = y > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        full = wt * (y * np.log(np.where(pos, y, 1.0) / mu) - (y - mu))
    r = np.where(pos, full, r)
    return 2.0 * r


def _gaussian_dev_resids(y, mu, wt):
    return wt * (y - mu) ** 2


def _binomial_aic(y, n, mu, wt, dev):
    m = n if np.any(n > 1) else wt
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(m > 0, wt / np.where(m > 0, m, 1.0), 0.0)
        ll = stats.binom.logpmf(np.round(m * y), np.round(m), mu)
    ll = np.where(factor == 0, 0.0, ll)
    return -2.0 * float(np.sum(factor * ll))


def _poisson_aic(y, n, mu, wt, dev):
    # dpois(y, mu, log = TRUE): -Inf for non-integer y (R also warns)
    ll = np.where(np.abs(y - np.round(y)) > 1e-7 * np.maximum(1, np.abs(y)), -np.inf,
                  stats.poisson.logpmf(np.round(y), mu))
    return -2.0 * float(np.sum(ll * wt))


def _gaussian_aic(y, n, mu, wt, dev):
    nobs = len(y)
    with np.errstate(divide="ignore"):
        return float(nobs * (np.log(dev / nobs * 2 * np.pi) + 1) + 2 - np.sum(np.log(wt)))


def _na_aic(y, n, mu, wt, dev):
    return float("nan")


@dataclass(frozen=True)
class Family:
    """An R family object: ``family``, ``link`` and the functions glm.fit calls."""

    family: str
    link: Link
    variance: Callable[[np.ndarray], np.ndarray]
    dev_resids: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
    aic: Callable[..., float]
    validmu: Callable[[np.ndarray], bool]
    #: True when the dispersion is fixed at 1 (binomial, poisson)
    fixed_dispersion: bool

    @property
    def linkfun(self):
        """The link function g(mu) (R's ``family$linkfun``)."""
        return self.link.linkfun

    @property
    def linkinv(self):
        """The inverse link (R's ``family$linkinv``)."""
        return self.link.linkinv

    @property
    def mu_eta(self):
        """Derivative d mu / d eta (R's ``family$mu.eta``)."""
        return self.link.mu_eta

    @property
    def valideta(self):
        """Whether a linear predictor is valid for the link (R's ``family$valideta``)."""
        return self.link.valideta

    def initialize(self, y: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray,
                                                                      np.ndarray]:
        """R's ``family$initialize``: returns (y, n, mustart). Raises ValueError as R stops."""
        y = np.asarray(y, dtype=float)
        nobs = len(y)
        n = np.ones(nobs)
        if self.family in ("binomial", "quasibinomial"):
            y = np.where(weights == 0, 0.0, y)
            bad = (y < 0) | (y > 1)
            if bad.any():
                raise ValueError(
                    f"{self.family} response must be 0/1 (or proportions in [0, 1]); "
                    f"{int(bad.sum())} value(s) are outside [0, 1]"
                )
            mustart = (weights * y + 0.5) / (weights + 1)
            m = weights * y
            if self.family == "binomial" and np.any(np.abs(m - np.round(m)) > 0.001):
                warnings.warn("non-integer #successes in a binomial glm!", GlmWarning,
                              stacklevel=4)
            return y, n, mustart
        if self.family in ("poisson", "quasipoisson"):
            neg = y < 0
            if neg.any():
                raise ValueError(
                    f"negative values not allowed for the '{self.family}' family "
                    f"({int(neg.sum())} value(s))"
                )
            return y, n, y + 0.1
        if self.family == "gaussian":
            if self.link.name == "log" and np.any(y <= 0):
                raise ValueError("cannot find valid starting values: please specify some")
            return y, n, y.copy()
        raise ValueError(f"unknown family {self.family!r}")

    def __repr__(self) -> str:
        """R's ``print(family)``: family and link function."""
        return f"Family: {self.family}\nLink function: {self.link.name}"


def _binomial_validmu(mu) -> bool:
    return bool(np.all(np.isfinite(mu)) and np.all((mu > 0) & (mu < 1)))


def _poisson_validmu(mu) -> bool:
    return bool(np.all(np.isfinite(mu)) and np.all(mu > 0))


def _link(name: str, allowed: tuple[str, ...], fam: str) -> Link:
    if name not in allowed:
        raise ValueError(f"link '{name}' is not available for the {fam} family here; "
                         f"use one of {allowed}")
    return LINKS[name]


def binomial(link: str = "logit") -> Family:
    """R's ``binomial(link)``: variance mu(1 - mu), dispersion fixed at 1."""
    return Family("binomial", _link(link, ("logit", "probit", "cloglog"), "binomial"),
                  lambda mu: mu * (1 - mu), _binomial_dev_resids, _binomial_aic,
                  _binomial_validmu, True)


def quasibinomial(link: str = "logit") -> Family:
    """R's ``quasibinomial(link)``: as binomial, dispersion estimated, AIC NA."""
    return Family("quasibinomial", _link(link, ("logit", "probit", "cloglog"), "quasibinomial"),
                  lambda mu: mu * (1 - mu), _binomial_dev_resids, _na_aic, _binomial_validmu,
                  False)


def poisson(link: str = "log") -> Family:
    """R's ``poisson(link)``: variance mu, dispersion fixed at 1."""
    return Family("poisson", _link(link, ("log", "identity"), "poisson"), lambda mu: mu,
                  _poisson_dev_resids, _poisson_aic, _poisson_validmu, True)


def quasipoisson(link: str = "log") -> Family:
    """R's ``quasipoisson(link)``: variance mu, dispersion estimated, AIC NA."""
    return Family("quasipoisson", _link(link, ("log", "identity"), "quasipoisson"),
                  lambda mu: mu, _poisson_dev_resids, _na_aic, _poisson_validmu, False)


def gaussian(link: str = "identity") -> Family:
    """R's ``gaussian(link)``: variance 1, dispersion = Pearson chi2 / df.residual."""
    return Family("gaussian", _link(link, ("identity", "log"), "gaussian"),
                  lambda mu: np.ones_like(np.asarray(mu, dtype=float)), _gaussian_dev_resids,
                  _gaussian_aic, lambda mu: True, False)


_FAMILIES = {
    "binomial": binomial, "quasibinomial": quasibinomial, "gaussian": gaussian,
    "poisson": poisson, "quasipoisson": quasipoisson,
}


def get_family(family: str | Family, link: str | None = None) -> Family:
    """A Family from a name (``"binomial"``) or a Family object (returned unchanged)."""
    if isinstance(family, Family):
        if link is not None and link != family.link.name:
            raise ValueError(f"link '{link}' given with a {family.family}({family.link.name}) "
                             "family object; pass the family by name or one link only")
        return family
    if not isinstance(family, str) or family not in _FAMILIES:
        raise ValueError(f"family must be one of {sorted(_FAMILIES)}; got {family!r}")
    return _FAMILIES[family]() if link is None else _FAMILIES[family](link)
