"""R's ``uniroot`` (Brent's zeroin, ``R_zeroin2`` in src/library/stats/src/zeroin.c).

Replayed step for step because R's default tolerance (``.Machine$double.eps^0.25``) leaves
roots accurate only to ~1e-4: matching R's printed numbers needs R's exact iteration path.
Algorithm: Brent (1973), *Algorithms for Minimization without Derivatives*, ch. 4.
"""

from __future__ import annotations

import numpy as np

EPS = np.finfo(float).eps
R_TOL = EPS**0.25


def uniroot(f, lower: float, upper: float, tol: float = R_TOL, maxiter: int = 1000) -> float:
    """Root of ``f`` in ``[lower, upper]`` as R's ``uniroot(f, c(lower, upper))$root``."""
    fa = float(f(lower))
    fb = float(f(upper))
    if np.isnan(fa) or np.isnan(fb):
        raise ValueError("f() values at end points are not finite")
    if fa * fb > 0:
        raise ValueError("f() values at end points not of opposite sign")
    a, b = float(lower), float(upper)
    c, fc = a, fa
    if fa == 0.0:
        return a
    if fb == 0.0:
        return b
    for _ in range(maxiter + 1):
        prev_step = b - a
        if abs(fc) < abs(fb):
            a, b, c = b, c, b
            fa, fb, fc = fb, fc, fb
        tol_act = 2 * EPS * abs(b) + tol / 2
        new_step = (c - b) / 2
        if abs(new_step) <= tol_act or fb == 0.0:
            return b
        if abs(prev_step) >= tol_act and abs(fa) > abs(fb):
            cb = c - b
            if a == c:
                t1 = fb / fa
                p = cb * t1
                q = 1.0 - t1
            else:
                q = fa / fc
                t1 = fb / fc
                t2 = fb / fa
                p = t2 * (cb * q * (q - t1) - (b - a) * (t1 - 1.0))
                q = (q - 1.0) * (t1 - 1.0) * (t2 - 1.0)
            if p > 0:
                q = -q
            else:
                p = -p
            if p < (0.75 * cb * q - abs(tol_act * q) / 2) and p < abs(prev_step * q / 2):
                new_step = p / q
        if abs(new_step) < tol_act:
            new_step = tol_act if new_step > 0 else -tol_act
        a, fa = b, fb
        b += new_step
        fb = float(f(b))
        if (fb > 0 and fc > 0) or (fb < 0 and fc < 0):
            c, fc = a, fa
    return b
