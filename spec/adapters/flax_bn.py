"""Adapter: the protocol mapped onto Flax NNX's own batch norm, ``flax.nnx.BatchNorm``.

Framework APIs used (nothing of BN's arithmetic is re-implemented here):

- ``flax.nnx.BatchNorm(num_features, param_dtype=..., use_fast_variance=...)``,
  built once per (number of units, dtype), otherwise with its defaults
  (``axis=-1``), then ``flax.nnx.split`` into a graph definition
  and a state; each call ``flax.nnx.merge``\\ s them inside a ``jax.jit``-ed pure
  function, sets the layer's ``scale`` and ``bias`` (``nnx.Param``) to gamma
  and beta and its ``mean`` and ``var`` (``nnx.BatchStat``) to the running
  statistics (``Variable.set_value``: as given, never broadcast, so that Flax
  itself meets a gamma of the wrong shape), sets ``epsilon`` and ``momentum``, and calls
  ``layer(x, use_running_average=...)``.
- training mode, ``use_running_average=False``: one program gives the output,
  the layer's updated ``mean`` and ``var``, and ``jax.value_and_grad`` of
  ``sum(grad * output)`` with respect to x, scale and bias.  ``forward`` and
  ``backward`` run it while the layer holds the non-trivial running statistics
  mean 3, variance 7 (a training output that used them would be caught);
  ``update_running`` runs it with the given statistics and ``momentum`` and
  returns the layer's updated ``mean`` and ``var``.
- ``forward_eval``: ``use_running_average=True``.

``epsilon`` and ``momentum`` are traced (0-d arrays of z's dtype, set with
``nnx.data``), so that one compiled program serves every eps and momentum;
programs are compiled once per (shape, dtype) and cached (a compile costs about
0.2 s, a call about 50 us); z reaches the layer refolded to one shape per (m,
spatial rank) (``fold_examples``, see :mod:`~bnspec.spec.adapters.compiled_layer`).
float64 needs ``jax_enable_x64``, which importing this module turns on for the
process.

The running statistics are held in z's dtype (at least float32): ``nnx.BatchNorm`` creates its
``mean`` and ``var`` as float32 whatever ``param_dtype`` says, and its
training-mode update assigns into them with ``[...] =``, which rounds a float64
update to float32 (with a FutureWarning that this will become an error); left
at float32, BN-RUN-1, BN-RUN-2, BN-EVAL-1 and BN-EVAL-3 fail in float64.  The
adapter gives float64 layers float64 statistics instead, so that the clauses
judge BN's arithmetic, not that storage choice; float16 and bfloat16 layers
keep Flax's float32 ones.

Two configurations: :class:`FlaxBN` (adapter ``flax``) sets
``use_fast_variance=False``, Flax's two-pass variance, and conforms (its
``FINDINGS`` are SHOULDs on the edge cases: an empty batch, eps <= 0);
:class:`FlaxFastVarianceBN` (adapter ``flax-fast-variance``) keeps Flax's
default ``use_fast_variance=True``, a one-pass variance that its ``FINDINGS``
show failing at large offsets.

Layout ``channels_last``: z is ``(N, *S, C)`` with 0 to 3 spatial dims, per-channel
arrays are ``(C,)``.  ``nnx.BatchNorm``'s feature axis is its default ``axis=-1``
and ``BatchNorm.__call__`` reduces over every other axis of whatever rank it is
given (``reduction_axes = tuple(i for i in range(x.ndim) if i not in feature_axes)``,
flax/nnx/nn/normalization.py), so every spatial rank is Flax's own NHWC call;
z is passed in whatever memory order it comes (``jax.numpy`` copies it).
Profile ``flax``.  Importing this module without Flax and
JAX raises ImportError.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from ..matrix import Deviation
from .compiled_layer import CompiledLayerBN, stats_dtype

jax.config.update("jax_enable_x64", True)

#: The cause behind most findings (flax/nnx/nn/normalization.py, ``_compute_stats``).
ONE_PASS = (
    "flax.nnx.BatchNorm's default use_fast_variance=True computes the batch variance in one pass, "
    "max(0, E[x^2] - E[x]^2), whose rounding error is u mu^2 rather than u sigma^2 (1 + |mu|/sigma): "
    "at offsets |mu|/sigma from about 1e2 on it exceeds the spec's tolerance, and at 1e8 the variance "
    "is rounding noise or clipped to 0 (with use_fast_variance=False every clause on BN's arithmetic passes)"
)
#: The cause of the empty mini-batch's findings.
EMPTY_BATCH = (
    "flax.nnx.BatchNorm takes the statistics of an empty batch as they come: the mean and the variance over no "
    "example are 0/0 = NaN (jnp.mean of nothing), and it neither refuses m = 0 nor skips the update "
    "(PyTorch returns an empty output, zero gradients of gamma and beta, and leaves the running statistics)"
)
#: clause ID -> why flax.nnx.BatchNorm (profile ``flax``, either variance) breaks it, whatever its variance.
COMMON_FINDINGS: dict[str, str] = {
    "BN-EMPTY-2": Deviation("backward with m = 0 (z of shape (0, 1, 1, 2)) returns dgamma = [nan, nan] where the sum "
                            "over no example is 0 (dbeta is 0): the gradient of scale is that empty sum times "
                            "rsqrt(var + eps), and var is NaN.", EMPTY_BATCH),
    "BN-EMPTY-3": Deviation("update_running with m = 0 returns running_mean [nan] for [0.] (and a NaN variance): the "
                            "update momentum * old + (1 - momentum) * batch statistic takes in the NaN mean and "
                            "variance of no example.", EMPTY_BATCH),
    "BN-INPUT-1": "forward with eps = 0 returns a result, and so does a negative eps (z = [[1.1], [-1.1]], "
                  "eps = -1e-3: 1.0004134794 = 1.1 / sqrt(1.21 - 0.001)): flax.nnx.BatchNorm checks no epsilon "
                  "and adds it to the variance as given (rsqrt(var + epsilon) in _normalize).",
}
#: clause ID -> why flax.nnx.BatchNorm with its default use_fast_variance=True (profile ``flax``) breaks it
#: (the evidence: ``bnspec check flax-fast-variance``, seed 0, 40 examples, channels_last z).
FAST_VARIANCE_FINDINGS: dict[str, str] = {
    **COMMON_FINDINGS,
    "BN-F32-1": Deviation("In float32 the one-pass variance is wrong beyond float32's tolerance (-0.167298 for an "
                          "exact -0.201725, 29 x the tolerance).", ONE_PASS),
    "BN-F32-2": Deviation("In float32 dz goes wrong the same way (2.55202 for an exact 0.000269, 25 x the "
                          "tolerance).", ONE_PASS),
    "BN-VAR-1": Deviation("On nearly constant units far from 0, E[x^2] - E[x]^2 cancels to rounding noise: float16 "
                          "output 0.93066 for 0.92460, 1.3 x the tolerance.", ONE_PASS),
    "BN-VAR-2": Deviation("On the same units dz is off (-488.917421 for -488.917768 in float64, 40 x the "
                          "tolerance).", ONE_PASS),
    "BN-NORM-1": Deviation("The output's mean per unit is not 0 within rounding (-6.2e-06 against a 1.9e-07 "
                           "tolerance): the mean is subtracted, but the variance it is divided by is wrong.", ONE_PASS),
    "BN-NORM-2": Deviation("The output's variance is not sigma^2 / (sigma^2 + eps) (0.99975 for 0.9999976, 2.1e4 x the "
                           "tolerance): the layer divides by the square root of a wrong variance.", ONE_PASS),
    "BN-AFFINE-2": Deviation("forward(z, sqrt(sigma^2 + eps), mu, eps) does not give back z (-121193.397868 for "
                             "-121193.397876, 1.5e4 x the tolerance).", ONE_PASS),
    "BN-AFFINE-3": Deviation("The output's spread is not gamma's: a variance of 70068.5 where 0.99999 is required (11 "
                             "x the tolerance), z divided by the root of a one-pass variance far below the "
                             "batch's.", ONE_PASS),
    "BN-FWD-REF": Deviation("forward differs from the reference (2.8723580 for 2.8725913, 1.5e4 x the "
                            "tolerance).", ONE_PASS),
    "BN-INV-1": Deviation("Adding b to every example changes the one-pass variance's rounding error, so forward(z + b) "
                          "!= forward(z) beyond rounding (1.2 x the pair tolerance).", ONE_PASS),
    "BN-INV-2": Deviation("Adding b changes dz (3.99600e-09 for 3.98480e-09, 2.2 x the tolerance).", ONE_PASS),
    "BN-LOC-2": Deviation("Permuting the examples reorders the sums of E[x] and E[x^2], and the one-pass formula "
                          "amplifies that reordering's rounding by mu^2 / sigma^2 (1.1 x the pair "
                          "tolerance).", ONE_PASS),
    "BN-LOC-5": Deviation("Permuting the examples changes dz the same way (1.90077e-09 for 1.87873e-09, 1.6 x the "
                          "tolerance).", ONE_PASS),
    "BN-GRAD-7": Deviation("The variance's term of dz, sum(dz * z_norm), is off (-0.0935864 for -0.0935884, 38 x the "
                           "tolerance).", ONE_PASS),
    "BN-GRAD-REF": Deviation("dz differs from the reference (0.0468237 for 0.0468247, 54 x the tolerance).", ONE_PASS),
    "BN-DEG-3": Deviation("For a constant unit E[x^2] - E[x]^2 is a rounding residue of size u mu^2 instead of 0; "
                          "beside a small eps it changes dz (-0.0765661 for -0.0765669, 25 x the "
                          "tolerance).", ONE_PASS),
    "BN-RUN-1": Deviation("The running variance is updated with the one-pass batch variance (1.2133571508638852 for "
                          "1.2133571508631278, 2.5 x the tolerance).", ONE_PASS),
    "BN-RUN-2": Deviation("The running variance converges to the one-pass batch variance, not the batch's own "
                          "(0.0017275895372677 for 0.0017275895372024, 3.2 x the tolerance).", ONE_PASS),
}


class _Layer:
    """One ``nnx.BatchNorm`` for n units in one dtype, split for ``jax.jit``, and
    its compiled programs."""

    def __init__(self, n: int, dtype: np.dtype, use_fast_variance: bool) -> None:
        layer = nnx.BatchNorm(n, param_dtype=dtype, use_fast_variance=use_fast_variance, rngs=nnx.Rngs(0))
        # The batch statistics start as float32 whatever the param_dtype: give float64
        # layers float64 ones, so that setting them below does not round them
        # (float16 and bfloat16 layers keep Flax's float32).
        layer.mean.set_value(jnp.zeros((n,), stats_dtype(dtype)))
        layer.var.set_value(jnp.ones((n,), stats_dtype(dtype)))
        self.graphdef, self.state = nnx.split(layer)
        self.dtype = dtype
        # Compiled per shape: one program for training mode, one for inference.
        self.train = jax.jit(self._train)
        self.eval = jax.jit(self._apply(use_running_average=True))

    def _apply(self, use_running_average: bool) -> Callable[..., tuple[Any, Any, Any]]:
        def apply(x, scale, bias, mean, var, eps, momentum):
            # copy=True: fresh Variables of this trace, which the calls below may set.
            layer = nnx.merge(self.graphdef, self.state, copy=True)
            assert layer.scale is not None and layer.bias is not None  # use_scale, use_bias: the defaults
            # The given arrays become the Variables' values (set_value, not [...] =, which would
            # broadcast a gamma of the wrong shape): Flax itself then meets them as a user's.
            layer.scale.set_value(scale)
            layer.bias.set_value(bias)
            layer.mean.set_value(mean)
            layer.var.set_value(var)
            layer.epsilon = nnx.data(eps)
            layer.momentum = nnx.data(momentum)
            y = layer(x, use_running_average=use_running_average)
            return y, layer.mean[...], layer.var[...]

        return apply

    def _train(self, x, scale, bias, mean, var, eps, momentum, grad):
        """Training mode: the output, the updated running statistics and the
        gradients of ``sum(grad * output)`` with respect to x, scale and bias."""
        apply = self._apply(use_running_average=False)

        def objective(x, scale, bias):
            y, new_mean, new_var = apply(x, scale, bias, mean, var, eps, momentum)
            return jnp.sum(grad * y), (y, new_mean, new_var)

        (_, (y, new_mean, new_var)), (dx, dscale, dbias) = jax.value_and_grad(
            objective, argnums=(0, 1, 2), has_aux=True)(x, scale, bias)
        return y, new_mean, new_var, dx, dscale, dbias


class FlaxBN(CompiledLayerBN):
    """The protocol on ``flax.nnx.BatchNorm(use_fast_variance=False)`` (layout
    ``channels_last``, spatial ranks 0 to 3, profile ``flax``): Flax's two-pass variance."""

    profile = "flax"
    update_eps = 1e-5  # flax.nnx.BatchNorm's default epsilon
    #: float16 and bfloat16 layers: Flax computes their statistics in float32.
    dtypes = ("float64", "float32", "float16", "bfloat16")
    use_fast_variance = False
    #: One compiled program per (m, spatial rank), not per drawn factorization (see the module's docstring).
    fold_examples = True
    #: clause ID -> why this configuration breaks it: the edge cases alone (evidence: ``bnspec check flax``).
    FINDINGS: dict[str, str] = COMMON_FINDINGS

    def new_layer(self, n: int, dtype: np.dtype) -> _Layer:
        return _Layer(n, dtype, use_fast_variance=self.use_fast_variance)


class FlaxFastVarianceBN(FlaxBN):
    """The protocol on ``flax.nnx.BatchNorm`` as shipped, ``use_fast_variance=True``:
    the one-pass variance ``E[x^2] - E[x]^2``, rejected (see ``FINDINGS``)."""

    use_fast_variance = True
    FINDINGS = FAST_VARIANCE_FINDINGS
