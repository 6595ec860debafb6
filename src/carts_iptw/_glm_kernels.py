"""The per-iteration family arithmetic of :func:`carts_iptw.irls.glm_fit`, with a fused path.

``glm_fit`` asks a kernel for ``linkinv(eta)``, ``mu.eta(eta)``, ``variance(mu)``, the deviance
``sum(dev.resids(y, mu, wt))`` and the validity of ``eta`` / ``mu``. :class:`FamilyKernel`
calls the family's functions (R's ``family`` object, :mod:`carts_iptw.families`).
:class:`LogitBinaryKernel` does the same arithmetic for a binomial / quasibinomial family with
the logit link and a 0/1 response (the weighted logistic models of a study, ``weightit``'s
propensity model) with fewer n-length temporaries: ``exp(eta)`` is computed once per linear
predictor for both ``linkinv`` and ``mu.eta``, the work is done in place, and every operation is
the one the family function performs, in the same order, so the values are those of the family
functions exactly (the unit tests compare them bit for bit). No R twin of its own: R's
``binomial()$linkinv`` / ``mu.eta`` / ``dev.resids`` (C code in ``stats/src/family.c``) are
replayed as :mod:`carts_iptw.families` does.
"""

from __future__ import annotations

import numpy as np

from carts_iptw.families import _MTHRESH, _THRESH, Family


class FamilyKernel:
    """The family's own functions (any family, any link, any response)."""

    def __init__(self, fam: Family, y: np.ndarray, weights: np.ndarray):
        self.fam, self.y, self.weights = fam, y, weights

    def linkinv(self, eta: np.ndarray) -> np.ndarray:
        """R's ``family$linkinv(eta)``."""
        return self.fam.linkinv(eta)

    def mu_eta(self, eta: np.ndarray) -> np.ndarray:
        """R's ``family$mu.eta(eta)``."""
        return self.fam.mu_eta(eta)

    def variance(self, mu: np.ndarray) -> np.ndarray:
        """R's ``family$variance(mu)``."""
        return self.fam.variance(mu)

    def deviance(self, mu: np.ndarray) -> float:
        """``sum(family$dev.resids(y, mu, weights))``."""
        return float(np.sum(self.fam.dev_resids(self.y, mu, self.weights)))

    def valid(self, eta: np.ndarray, mu: np.ndarray) -> bool:
        """``valideta(eta) && validmu(mu)``."""
        return bool(self.fam.valideta(eta) and self.fam.validmu(mu))


class LogitBinaryKernel(FamilyKernel):
    """Binomial / quasibinomial, logit link, response exactly 0 or 1: fused, same values.

    ``exp(clip(eta, -30, 30))`` is kept for the last ``eta`` object passed (``glm_fit`` never
    modifies an ``eta`` in place), so ``mu.eta`` of the linear predictor whose ``linkinv`` was
    just taken costs no second ``exp``. A linear predictor outside [-30, 30] (R's C code clamps
    there) or not finite takes the family's functions.
    """

    def __init__(self, fam: Family, y: np.ndarray, weights: np.ndarray):
        super().__init__(fam, y, weights)
        self.y1 = y == 1.0
        self.two_w = 2.0 * weights
        self._eta = None
        self._exp = None

    @staticmethod
    def applies(fam: Family, y: np.ndarray) -> bool:
        """True for a binomial-type family with the logit link and a 0/1 response."""
        return (fam.family in ("binomial", "quasibinomial") and fam.link.name == "logit"
                and bool(np.all((y == 0.0) | (y == 1.0))))

    def _exp_eta(self, eta: np.ndarray) -> np.ndarray | None:
        """``exp(eta)`` when every ``eta`` lies in [-30, 30] (then ``clip`` is the identity)."""
        if eta is self._eta:
            return self._exp
        eta = np.asarray(eta, dtype=float)
        e = None
        if eta.size and eta.ndim == 1:
            lo, hi = eta.min(), eta.max()
            if lo >= _MTHRESH and hi <= _THRESH:  # False for NaN
                e = np.exp(eta)
        self._eta, self._exp = eta, e
        return e

    def linkinv(self, eta: np.ndarray) -> np.ndarray:
        """``tmp / (1 + tmp)``, ``tmp = exp(eta)`` (families._logit_linkinv within the clamp)."""
        e = self._exp_eta(eta)
        if e is None:
            return self.fam.linkinv(eta)
        mu = np.add(e, 1.0)  # 1 + tmp
        np.divide(e, mu, out=mu)
        return mu

    def mu_eta(self, eta: np.ndarray) -> np.ndarray:
        """``e / ((1 + e) (1 + e))`` (families._logit_mu_eta within the clamp)."""
        e = self._exp_eta(eta)
        if e is None:
            return self.fam.mu_eta(eta)
        t = np.add(e, 1.0)
        np.multiply(t, t, out=t)
        np.divide(e, t, out=t)
        return t

    def variance(self, mu: np.ndarray) -> np.ndarray:
        """``mu * (1 - mu)``."""
        t = np.subtract(1.0, mu)
        np.multiply(mu, t, out=t)
        return t

    def deviance(self, mu: np.ndarray) -> float:
        """``sum(2 wt (y log(y / mu) + (1 - y) log((1 - y) / (1 - mu))))`` for 0/1 ``y``.

        Term by term as ``families._binomial_dev_resids``: ``2 wt log(1 / mu)`` where ``y = 1``
        and ``2 wt log(1 / (1 - mu))`` where ``y = 0`` (the other term is an exact 0 there).
        """
        q = np.subtract(1.0, mu)
        np.copyto(q, mu, where=self.y1)
        with np.errstate(divide="ignore", invalid="ignore"):
            np.divide(1.0, q, out=q)
            np.log(q, out=q)
        np.multiply(self.two_w, q, out=q)
        return float(np.sum(q))

    def deviance_const(self, mu: float) -> float:
        """:meth:`deviance` at one fitted value for every row (glm.fit's null deviance).

        ``log(1 / mu)`` and ``log(1 / (1 - mu))`` are taken once (numpy's elementwise log gives
        the same double wherever it is evaluated) and picked per row.
        """
        with np.errstate(divide="ignore", invalid="ignore"):
            L = np.log(np.divide(1.0, np.array([mu, 1.0 - mu], dtype=float)))
        q = np.where(self.y1, L[0], L[1])
        np.multiply(self.two_w, q, out=q)
        return float(np.sum(q))

    def valid(self, eta: np.ndarray, mu: np.ndarray) -> bool:
        """The logit's ``valideta`` is always true; ``validmu``: all finite and in (0, 1)."""
        mu = np.asarray(mu)
        if mu.size == 0:
            return True
        return bool(mu.min() > 0 and mu.max() < 1)  # a NaN fails both


def kernel(fam: Family, y: np.ndarray, weights: np.ndarray) -> FamilyKernel:
    """The fused kernel where it applies, else the family's functions."""
    if LogitBinaryKernel.applies(fam, y):
        return LogitBinaryKernel(fam, y, weights)
    return FamilyKernel(fam, y, weights)


def linkinv_mu_eta(fam: Family, eta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(family$linkinv(eta), family$mu.eta(eta))``, sharing ``exp(eta)`` for the logit.

    The values of the family's functions exactly (as :class:`LogitBinaryKernel`).
    """
    if fam.link.name == "logit":
        k = LogitBinaryKernel.__new__(LogitBinaryKernel)
        k.fam, k._eta, k._exp = fam, None, None
        return k.linkinv(eta), k.mu_eta(eta)
    return fam.linkinv(eta), fam.mu_eta(eta)
