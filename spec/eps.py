"""The eps in effect: the eps an implementation's forward computes with, whatever eps it is passed.

An implementation may ignore its eps argument -- a framework's default baked in (1e-5), a
hard-coded 10e-7 -- and compute with a fixed value instead.  It then breaks the clauses whose
statement involves eps's value (BN-NORM-2, BN-AFFINE-2/3, BN-INV-3/4, BN-FWD-REF, BN-GRAD-7,
BN-DEG-1, ...) and must break no other: a clause whose statement holds for any eps (the gradients
against finite differences, the identities of dz, dgamma and dbeta, locality, the bias's
cancellation) sizes its tolerances and finite-difference steps with the eps the implementation
computes with, :meth:`bnspec.spec.target.Target.eps_in_effect`: the target's declared
``fixed_eps`` (:mod:`bnspec.spec.protocol`), else the value :func:`in_effect` detects, once per
subject, when a clause first needs it.

The probe.  With gamma = 1 and beta = 0, a unit of biased variance sigma^2 comes out of forward
with biased variance

    s = sigma^2 / (sigma^2 + eps_eff),   so that   eps_eff = sigma^2 (1 / s - 1)      (:func:`fitted`).

forward is called on :data:`Z` at each eps of :data:`PROBE_EPS`; each unit gives a fit per call.
The output *follows* the eps passed when every fit is that eps; it uses a *fixed* eps when every
fit, whatever eps was passed, is the same value (both within :data:`FIT_RTOL`).  Anything else --
a call that raises or breaks the protocol, a non-finite output, fits that neither follow nor agree
(eps outside the root, an unbiased variance) -- is unknown, and the eps passed stays in effect:
the probe never turns a fault it does not recognise into a looser tolerance.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .errors import ImplementationCrashed

#: forward(z, gamma, beta, eps) in the lecture's layout (``n[l] x m`` in, ``n[l] x m`` out), e.g.
#: :meth:`bnspec.spec.target.Target.forward`, which turns whatever the implementation raises or
#: returns wrongly into an exception.
Forward = Callable[[np.ndarray, np.ndarray, np.ndarray, float], Any]

#: The probe's mini-batch, n[l] x m = 2 x 8, units first: each unit alternates mu + sigma and
#: mu - sigma (mu = 3 and -2, sigma = 1 and 1/2), so that its mean and biased variance are exact in
#: float64, as is every step of a two-pass computation of them.
Z = np.array([[4.0, 2.0] * 4, [-1.5, -2.5] * 4])
#: The units' biased variances sigma^2, ``n[l] x 1`` (exact).
VARIANCE = np.array([[1.0], [0.25]])
#: The eps passed: a hundredfold apart, and both within a factor 100 of the units' variances, so that
#: s (0.2 to 0.99) differs from 1 far above rounding and each fit is well conditioned.
PROBE_EPS = (1.0, 1e-2)
#: Relative agreement of the fits, with the eps passed or with each other.  A computation in float32
#: moves s by about 1e-7 and a fit by about 1e-7 / s^2, 1e-5 of eps = 1e-2; a fixed eps gives the same
#: output at both eps, hence the same fits.  1e-3 is 100 x the first and far below the factor of 100
#: between the eps passed: no output both follows them and agrees with itself.
FIT_RTOL = 1e-3
#: Absolute floor of the fits' agreement with each other (sigma^2 is about 1): a fixed eps of 0 (none at
#: all) gives fits that scatter by float64's rounding, some m u = 2e-15 -- far below this, which is far
#: below the smallest eps a clause draws (1e-8).
FIT_ATOL = 1e-10


def fitted(output: np.ndarray) -> np.ndarray:
    """Each unit's eps in effect, ``sigma^2 (1 / s - 1)``, from forward's ``output`` on :data:`Z` with
    gamma = 1, beta = 0, where ``s`` is the output's biased variance per unit (``n[l] x 1``, float64;
    inf or nan where s is 0 or not finite)."""
    s = np.asarray(output, dtype=np.float64).var(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return VARIANCE * (1.0 / s - 1.0)


def in_effect(forward: Forward) -> float | None:
    """The eps ``forward`` computes with whatever eps it is passed: None when its output follows the
    eps passed (or the probe cannot tell), else the fixed value fitted from the output's variance
    (the median of the fits, at least 0).  :data:`PROBE_EPS` calls on :data:`Z`; never raises for what
    ``forward`` does -- an exception or a crash of its process is "unknown" (None) -- but lets bnspec's
    own interruptions through (a clause's time limit, Ctrl-C)."""
    ones, zeros = np.ones_like(VARIANCE), np.zeros_like(VARIANCE)
    try:
        outputs = [np.asarray(forward(Z.copy(), ones.copy(), zeros.copy(), eps), dtype=np.float64)
                   for eps in PROBE_EPS]
    except (Exception, ImplementationCrashed):  # raised, broke the protocol, or its process died
        return None
    if any(out.shape != Z.shape for out in outputs):
        return None
    fits = np.array([fitted(out) for out in outputs])  # len(PROBE_EPS) x n[l] x 1
    if not np.isfinite(fits).all():
        return None
    passed = np.array(PROBE_EPS)[:, None, None]
    if (np.abs(fits - passed) <= FIT_RTOL * passed).all():
        return None
    value = float(np.median(fits))
    if (np.abs(fits - value) <= FIT_RTOL * abs(value) + FIT_ATOL).all():
        return max(value, 0.0)
    return None
