"""Keras 3 on JAX in *this* process: the set-up the Keras adapters' in-process halves share.

Keras reads ``KERAS_BACKEND`` when it is first imported, so importing this module sets it to ``jax``
unless it is already set, turns on ``jax_enable_x64`` (float64 arrays), imports Keras, and raises
ImportError if Keras runs another backend (TensorFlow's import sets it up on TensorFlow): the adapters
then run their in-process half in a process of their own
(:class:`~bnspec.spec.adapters.in_child.ChildProcessBN`).
"""

from __future__ import annotations

import os

# before any import below: hence E402
os.environ.setdefault("KERAS_BACKEND", "jax")

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)

import keras  # noqa: E402

if keras.backend.backend() != "jax":
    raise ImportError(f"the Keras adapters' in-process halves need Keras' JAX backend; Keras runs on "
                      f"{keras.backend.backend()!r} (the adapters run them in a process of their own)")

__all__ = ["jax", "keras"]
