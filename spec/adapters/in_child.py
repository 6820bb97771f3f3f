"""Adapters whose framework needs a process of its own, and the base that gives them one.

Keras picks its backend once per process, at its first import (``KERAS_BACKEND``),
and importing TensorFlow imports Keras on the TensorFlow backend: Keras on JAX,
Keras on torch and TensorFlow cannot share a process, in ``bnspec matrix``, in a
test session or in a user's program.  A :class:`ChildProcessBN` runs its
adapter's in-process class, ``LAYER`` (a ``module:Class`` target), in a child
process started with ``ENV``, through bnspec's own process protocol:
:class:`~bnspec.spec.process.proxy.ProcessImpl` starts ``python -m
bnspec.spec.process.serve LAYER --memory-limit 0`` (what ``--isolate`` runs) and
sends it each call, arrays encoded exactly; arguments the child modifies are
modified here too (BN-PURE-1 sees them); a crashed child is started again.  The
declaration (layout, spatial ranks, profile, dtypes) is the one ``LAYER``
makes, as the handshake reports it.  Where the calling process already runs the
right backend, ``bnspec check LAYER`` checks the layer in process.
"""

from __future__ import annotations

import os
import sys
from typing import ClassVar

from ..process.proxy import ProcessImpl


class ChildProcessBN(ProcessImpl):
    """The protocol on ``LAYER`` in a child process whose environment adds ``ENV``; ``close()`` ends it."""

    #: The ``module:Class`` target the child serves, and what its environment adds.
    LAYER: ClassVar[str]
    ENV: ClassVar[dict[str, str]]

    def __init__(self) -> None:
        argv = [sys.executable, "-m", "bnspec.spec.process.serve", self.LAYER, "--memory-limit", "0"]
        env = {**os.environ, **self.ENV, "PYTHONPATH": os.pathsep.join(sys.path)}
        settings = " ".join(f"{k}={v}" for k, v in self.ENV.items())
        super().__init__(argv, f"{type(self).__name__} ({self.LAYER} with {settings})", None, env)

    # The declaration, read as an in-process adapter's attributes are.
    @property
    def layout(self) -> str:
        return self.declaration.layout.value

    @property
    def spatial_dims(self) -> tuple[int, ...]:
        return self.declaration.spatial_dims

    @property
    def profile(self) -> object:
        return self.declaration.profile

    @property
    def dtypes(self) -> tuple[str, ...]:
        return self.declaration.dtypes
