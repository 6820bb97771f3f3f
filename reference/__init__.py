"""The numpy reference of batch-normalized networks, in the lecture's layout.

``Z[l]``, ``A[l]`` are ``n[l] x m`` (units x examples); ``W[l]`` is
``n[l] x n[l-1]``; ``b[l]``, ``gamma[l]``, ``beta[l]`` and the running
statistics are ``n[l] x 1``.

- :mod:`bnspec.reference.batchnorm` -- the BN layer; its four functions are the
  implementation protocol.
- :mod:`bnspec.reference.layers` -- dense layers and activations.
- :mod:`bnspec.reference.losses` -- output layers with their losses.
- :mod:`bnspec.reference.network` -- an L-layer network with BN between Z and A.
- :mod:`bnspec.reference.optimizers` -- gradient descent, momentum, RMSprop, Adam.
- :mod:`bnspec.reference.training` -- mini-batch training (L6, L11).
"""

# The reference as a target of both protocols (``bnspec check reference``): the layer's functions and
# declarations, and one step of each optimizer.
from .batchnorm import (
    backward,
    backward_eval,
    dtypes,
    forward,
    forward_eval,
    layout,
    mixed_precision,
    profile,
    update_cumulative,
    update_running,
)
from .optimizers import adam, gd, momentum, rmsprop

__all__ = ["adam", "backward", "backward_eval", "dtypes", "forward", "forward_eval", "gd", "layout",
           "mixed_precision", "momentum", "profile", "rmsprop", "update_cumulative", "update_running"]
