"""Bundled adapters: each maps the protocol onto one framework's *own* BN.

An adapter is a class with a no-argument constructor, ``layout`` and ``profile``
attributes and the protocol's functions, living in its own module that imports
its framework (an optional extra: ``pip install bnspec[torch]``).  Adapter
names are valid ``bnspec check`` targets.
"""

from __future__ import annotations

#: adapter name -> "module:class" (modules are imported only when asked for).
ADAPTERS: dict[str, str] = {
    "torch": "bnspec.spec.adapters.torch_bn:TorchBN",
    "flax": "bnspec.spec.adapters.flax_bn:FlaxBN",
    "keras": "bnspec.spec.adapters.keras_bn:KerasBN",
    "onnxruntime": "bnspec.spec.adapters.onnxruntime_bn:OnnxRuntimeBN",
    "tinygrad": "bnspec.spec.adapters.tinygrad_bn:TinygradBN",
}

#: adapter name -> the pip extra that installs its framework.
EXTRAS: dict[str, str] = {name: name for name in ADAPTERS}
