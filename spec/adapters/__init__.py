"""Bundled adapters: each maps the protocol onto one framework's *own* BN.

An adapter is a class with a no-argument constructor, ``layout`` and ``profile``
attributes and the protocol's functions, living in its own module that imports
its framework (an optional extra: ``pip install bnspec[torch]``).  Adapter
names are valid ``bnspec check`` targets.  An adapter maps the framework's BN
as shipped, with its defaults, except where a name says otherwise.

An adapter class may carry ``FINDINGS`` (else its module's): clause ID -> why
the framework, not the adapter, breaks that clause under its own profile.
A root cause that several findings share is written once, as a module-level
constant (a sentence without its final period), and each of them quotes it:
``Deviation(detail, CAUSE)`` (:class:`bnspec.spec.matrix.Deviation`, the str
``"{detail} {CAUSE}."``); a finding of its own is a plain str.
``bnspec matrix`` shows them beside the FAILs, each cause once per adapter with
the clauses it explains, and the tests require that the failing clauses and the
findings are the same set.
"""

from __future__ import annotations

#: adapter name -> "module:class" (modules are imported only when asked for): the layer protocol's, then
#: the optimizer protocol's (:data:`OPTIMIZER_ADAPTERS`).
LAYER_ADAPTERS: dict[str, str] = {
    "torch": "bnspec.spec.adapters.torch_bn:TorchBN",
    "torch-batch-statistics": "bnspec.spec.adapters.torch_bn:TorchBatchStatisticsBN",
    "torch-cumulative": "bnspec.spec.adapters.torch_bn:TorchCumulativeBN",
    "flax": "bnspec.spec.adapters.flax_bn:FlaxBN",
    "flax-fast-variance": "bnspec.spec.adapters.flax_bn:FlaxFastVarianceBN",
    "keras": "bnspec.spec.adapters.keras_bn:KerasBN",
    "onnxruntime": "bnspec.spec.adapters.onnxruntime_bn:OnnxRuntimeBN",
    "tinygrad": "bnspec.spec.adapters.tinygrad_bn:TinygradBN",
    "mlx": "bnspec.spec.adapters.mlx_bn:MlxBN",
    "onnx-reference": "bnspec.spec.adapters.onnx_reference_bn:OnnxReferenceBN",
    "tensorflow": "bnspec.spec.adapters.tensorflow_bn:TensorFlowBN",
    "keras-torch": "bnspec.spec.adapters.keras_torch_bn:KerasTorchBN",
}
#: The optimizer protocol's: each framework's own optimizers.
OPTIMIZER_ADAPTERS: dict[str, str] = {
    "torch-optim": "bnspec.spec.adapters.torch_optim:TorchOptimizer",
    "optax": "bnspec.spec.adapters.optax_optim:OptaxOptimizer",
    "keras-optim": "bnspec.spec.adapters.keras_optim:KerasOptimizer",
    "mlx-optim": "bnspec.spec.adapters.mlx_optim:MlxOptimizer",
}
ADAPTERS: dict[str, str] = {**LAYER_ADAPTERS, **OPTIMIZER_ADAPTERS}

#: adapter name -> the pip extra that installs its framework.
EXTRAS: dict[str, str] = {name: name.partition("-")[0] for name in ADAPTERS}
