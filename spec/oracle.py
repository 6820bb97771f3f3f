"""The accuracy oracle: BN's exact results on small float inputs, from the standard library alone.

Every float is a rational number, so the mean, the biased variance, the
centred values ``z - mu``, the upstream-gradient sums and the running update
are computed *exactly* with :class:`fractions.Fraction`.  The only irrational
step, ``1 / sqrt(sigma^2 + eps)``, is evaluated with :mod:`decimal` at
:data:`DIGITS` significant digits (relative error below ``10**-(DIGITS-2)``,
some 10^44 times smaller than float64's unit roundoff).  Nothing but the
standard library is needed, so ``bnspec check reference`` runs the accuracy
clauses on any installation (mpmath, in the ``dev`` extra, only cross-checks
this module in the tests).

An exact result is returned as a *double-double*: two float64 arrays
``(hi, lo)`` with ``hi = fl(y)`` and ``lo = fl(y - hi)``, so that the error of
a float64 result ``y_hat`` is :func:`error` ``= |(y_hat - hi) - lo|``, itself
accurate to a relative 2^-50 -- rounding the exact value to float64 first
would add up to half an ulp to the very errors being measured.

Conventions are the lecture's (``z`` is ``n x m`` units first, per-unit arrays
``n x 1``, biased variance, eps inside the root, ``momentum`` weighs the old
value).  Cost: pure Python, meant for ``n * m`` up to a few hundred.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, localcontext
from fractions import Fraction

import numpy as np

#: significant digits of the one irrational step, 1 / sqrt(sigma^2 + eps).
DIGITS = 60

Exact = tuple[np.ndarray, np.ndarray]  # (hi, lo): the exact value is hi + lo (to 2^-106 relative)


def _fractions(row: np.ndarray) -> list[Fraction]:
    return [Fraction(float(v)) for v in row]


def _decimal(q: Fraction) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = DIGITS
        return Decimal(q.numerator) / Decimal(q.denominator)


def _split(value: Fraction | Decimal) -> tuple[float, float]:
    """``(hi, lo)`` of an exact value: hi correctly rounded, lo the rounded remainder."""
    exact = value if isinstance(value, Fraction) else Fraction(value)
    hi = float(exact)
    return hi, float(exact - Fraction(hi))


def _pack(values: Sequence[Sequence[Fraction | Decimal]]) -> Exact:
    pairs = [[_split(v) for v in row] for row in values]
    hi = np.array([[p[0] for p in row] for row in pairs], dtype=np.float64)
    lo = np.array([[p[1] for p in row] for row in pairs], dtype=np.float64)
    return hi, lo


def _moments(row: list[Fraction]) -> tuple[Fraction, Fraction]:
    m = len(row)
    mu = sum(row, Fraction(0)) / m
    return mu, sum(((x - mu) ** 2 for x in row), Fraction(0)) / m


def _inv_std(var: Fraction, eps: float) -> Decimal:
    """``1 / sqrt(sigma^2 + eps)`` to DIGITS significant digits."""
    with localcontext() as ctx:
        ctx.prec = DIGITS + 5
        return 1 / _decimal(var + Fraction(eps)).sqrt()


def statistics(z: np.ndarray) -> Exact:
    """The exact mean and biased variance of each unit: ``(hi, lo)`` of shape ``n x 2``."""
    return _pack([list(_moments(_fractions(row))) for row in z])


def forward(z: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float) -> Exact:
    """Exact ``gamma * (z - mu) / sqrt(sigma^2 + eps) + beta`` per unit, ``n x m``."""
    rows = []
    for j, row in enumerate(z):
        x = _fractions(row)
        mu, var = _moments(x)
        r = _inv_std(var, eps)
        g, b = Decimal(float(gamma[j, 0])), Decimal(float(beta[j, 0]))
        with localcontext() as ctx:
            ctx.prec = DIGITS
            rows.append([g * (_decimal(v - mu) * r) + b for v in x])
    return _pack(rows)


def backward(z: np.ndarray, gamma: np.ndarray, eps: float, grad: np.ndarray) -> tuple[Exact, Exact, Exact]:
    """Exact ``(dz, dgamma, dbeta)`` of ``sum(grad * forward)``.

    With ``c = z - mu`` and ``r = 1 / sqrt(sigma^2 + eps)``:
    ``dz = gamma (r (g - mean(g)) - r^3 c mean(g c))``, ``dgamma = r sum(g c)``,
    ``dbeta = sum(g)``; every sum and mean is an exact rational.
    """
    dz, dgamma, dbeta = [], [], []
    for j, row in enumerate(z):
        x, g = _fractions(row), _fractions(grad[j])
        m = len(x)
        mu, var = _moments(x)
        c = [v - mu for v in x]
        mean_g = sum(g, Fraction(0)) / m
        sum_gc = sum((a * b for a, b in zip(g, c, strict=True)), Fraction(0))
        r = _inv_std(var, eps)
        gam = Decimal(float(gamma[j, 0]))
        with localcontext() as ctx:
            ctx.prec = DIGITS
            r3 = r * r * r
            dz.append([gam * (r * _decimal(a - mean_g) - r3 * _decimal(ci * sum_gc / m))
                       for a, ci in zip(g, c, strict=True)])
            dgamma.append([r * _decimal(sum_gc)])
        dbeta.append([mean_g * m])
    return _pack(dz), _pack(dgamma), _pack(dbeta)


def update_running(running_mean: np.ndarray, running_var: np.ndarray, z: np.ndarray, momentum: float) -> Exact:
    """Exact ``momentum * old + (1 - momentum) * (mu, sigma^2)``: ``(hi, lo)`` of shape ``n x 2``
    (column 0 the new mean, column 1 the new variance)."""
    rho = Fraction(momentum)
    rows = []
    for j, row in enumerate(z):
        mu, var = _moments(_fractions(row))
        rows.append([rho * Fraction(float(running_mean[j, 0])) + (1 - rho) * mu,
                     rho * Fraction(float(running_var[j, 0])) + (1 - rho) * var])
    return _pack(rows)


def difference(observed: np.ndarray, exact: Exact) -> np.ndarray:
    """``observed - exact`` elementwise, in float64 (observed is converted to float64 first)."""
    hi, lo = exact
    return (np.asarray(observed, dtype=np.float64) - hi) - lo


def column(exact: Exact, j: int) -> Exact:
    """Column ``j`` of an exact ``n x k`` result, as an exact ``n x 1`` result."""
    return exact[0][:, j:j + 1], exact[1][:, j:j + 1]
