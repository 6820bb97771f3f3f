"""Every public function of the reference refuses bad input clearly.

For each public function and method of ``bnspec.reference`` (found by
introspection: a new one without a case here fails
``test_every_public_function_is_covered``), hypothesis draws a valid call --
sizes, values, where a NaN goes -- and then every argument in turn is replaced
by every bad value of its kind: wrong ranks, mismatched n or m, m = 0, NaN and
inf entries, integer, complex, boolean, object, string and longdouble arrays,
lists and other non-arrays, eps <= 0 or NaN, momentum outside [0, 1], negative
running variances, network descriptions with zero units or an unknown
activation, dicts with missing, extra or broken entries.  Each call must raise
ValueError or TypeError whose message names the replaced argument (as a whole
word: ``gamma: expected shape (3, 1), one entry per unit (to match z), ...``
names z too); returning anything is a failure (no silent NaN), and warnings are
errors.
"""

from __future__ import annotations

import inspect
import pkgutil
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bnspec.reference as reference_package
from bnspec.reference import batchnorm, layers, losses, network, optimizers, training
from bnspec.reference.network import LayerSpec, NetworkSpec

MODULES = (batchnorm, layers, losses, network, optimizers, training)
#: modules of bnspec.reference that are not public API under test, with the reason.
NOT_UNDER_TEST = {"arguments": "the checks themselves, exercised through every function below"}
#: public classes whose constructor is a plain record, checked where it is used
#: (validate_spec, train), with the functions that check it.
RECORDS = {
    "network.LayerSpec": "network.validate_spec",
    "network.NetworkSpec": "network.validate_spec",
    "training.TrainingResult": "returned by train, never an input",
    "layers.Activation": "built from the module's own table (ACTIVATIONS); activation(name) checks the name",
}


def public_callables() -> set[str]:
    """``module.function``, ``module.Class`` (its constructor) and ``module.Class.method``."""
    found = set()
    for module in MODULES:
        short = module.__name__.rsplit(".", 1)[1]
        for name, obj in vars(module).items():
            if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
                continue
            if inspect.isfunction(obj):
                found.add(f"{short}.{name}")
            elif inspect.isclass(obj):
                if f"{short}.{name}" not in RECORDS:
                    found.add(f"{short}.{name}")
                found |= {f"{short}.{name}.{attr}" for attr, member in vars(obj).items()
                          if not attr.startswith("_") and inspect.isfunction(member)}
    return found


# -- bad values by kind -------------------------------------------------------------------

NON_ARRAYS = [None, "z", 1.5, 2, {"a": 1.0}, (1.0, 2.0), object()]


def bad_arrays(value: np.ndarray, tied: str, index: tuple[int, int]) -> list[Any]:
    """Values that are wrong for an argument whose valid value is ``value``.

    ``tied`` says which dimensions other arguments fix ("rows", "cols", "both" or
    ""): only there is a different size wrong."""
    n, m = value.shape
    bad: list[Any] = [*NON_ARRAYS, value.tolist(), value.ravel(), value[None], np.array(1.0),
                      np.empty((n, 0)), np.empty((0, m)), value.astype(np.int64), value.astype(np.complex128),
                      value > 0, value.astype(object), value.astype(np.longdouble), value.astype(str)]
    index = (min(index[0], n - 1), min(index[1], m - 1))
    for entry in (np.nan, np.inf, -np.inf):
        broken = value.copy()
        broken[index] = entry
        bad.append(broken)
    if tied in ("rows", "both"):
        bad.append(np.ones((n + 1, m)))
    if tied in ("cols", "both"):
        bad.append(np.ones((n, m + 1)))
    return bad


POSITIVE = [0.0, -1e-3, -1.0, np.nan, np.inf, -np.inf, np.float64(np.nan), 10**400, "1e-5", None, True,
            1e-5j, np.array(1e-5), [1e-5]]
FRACTION = [-0.1, 1.5, -np.inf, np.nan, np.inf, "0.9", None, True, 0.5j, np.array(0.9)]
DECAY = [1.0, -0.1, 1.5, np.nan, "0.9", None, False, np.array(0.9)]
FLAGS = [1, 0, "yes", None, 1.0, np.array(True)]
RNGS = [None, 0, "rng", np.random.RandomState(0), np.random.default_rng]


def counts(minimum: int) -> list[Any]:
    return [minimum - 1, -3, 2.5, "2", None, True, np.float64(2.0), [2]]


def choices() -> list[Any]:
    return ["no such thing", "", 3, None, ["relu"]]


def bad_dicts(valid: dict, tied: str, index: tuple[int, int], negative: str = "") -> list[Any]:
    """Dicts of arrays with a missing, an extra or a broken entry (and non-dicts)."""
    first = next(iter(valid))
    bad: list[Any] = [None, "params", [], 1.0,
                      {k: v for k, v in valid.items() if k != first}, {**valid, "extra9": np.ones((1, 1))}]
    for key, value in valid.items():
        bad += [{**valid, key: wrong} for wrong in bad_arrays(value, tied, index)]
        if key.startswith(negative or "\0"):
            bad.append({**valid, key: -np.ones_like(value)})
    return bad


def bad_specs(spec: NetworkSpec) -> list[Any]:
    hidden, out = spec.layers
    return [
        None, "spec", {"n_x": spec.n_x},
        NetworkSpec(0, spec.layers), NetworkSpec(True, spec.layers), NetworkSpec(2.0, spec.layers),  # type: ignore[arg-type]
        NetworkSpec(spec.n_x, ()), NetworkSpec(spec.n_x, "layers"),  # type: ignore[arg-type]
        NetworkSpec(spec.n_x, (LayerSpec(0, "relu", True), out)),
        NetworkSpec(spec.n_x, (LayerSpec(-2, "relu"), out)),
        NetworkSpec(spec.n_x, (LayerSpec(2.5, "relu"), out)),  # type: ignore[arg-type]
        NetworkSpec(spec.n_x, (LayerSpec(hidden.units, "gelu", True), out)),
        NetworkSpec(spec.n_x, (LayerSpec(hidden.units, 3, True), out)),  # type: ignore[arg-type]
        NetworkSpec(spec.n_x, (hidden, LayerSpec(1, "relu"))),
        NetworkSpec(spec.n_x, (hidden, LayerSpec(0, "sigmoid"))),
        NetworkSpec(spec.n_x, (LayerSpec(1, "softmax"),)),
        NetworkSpec(spec.n_x, (LayerSpec(hidden.units, "relu", 1), out)),  # type: ignore[arg-type]
        NetworkSpec(spec.n_x, ("relu", out)),  # type: ignore[arg-type]
        NetworkSpec(spec.n_x, spec.layers, eps=0.0), NetworkSpec(spec.n_x, spec.layers, eps=np.nan),
        NetworkSpec(spec.n_x, spec.layers, momentum=1.5), NetworkSpec(spec.n_x, spec.layers, momentum=np.nan),
    ]


class _LacksBackward:
    def forward(self, *args):
        return args[0]


BAD_BN = [object(), "batchnorm", 1, _LacksBackward(), _LacksBackward, SimpleNamespace(forward=len)]
BAD_OPTIMIZERS = [object(), "adam", 1, None, optimizers.Adam, SimpleNamespace(init=dict)]


def bad_caches(cache: dict, index: tuple[int, int], for_backward: bool) -> list[Any]:
    entries = cache["layers"]
    bad: list[Any] = [None, "cache", {}, {"layers": "x", "training": True}, {"layers": [], "training": True},
                      {"layers": entries, "training": "yes"}, {"layers": entries[:1], "training": True},
                      {"layers": ["x", *entries[1:]], "training": True},
                      {"layers": [{"A_prev": entries[0]["A_prev"]}, *entries[1:]], "training": True}]
    if for_backward:
        bad.append({**cache, "training": False})
    for key in ("A_prev", "Z", "Z_tilde"):
        bad += [{**cache, "layers": [{**entries[0], key: wrong}, *entries[1:]]}
                for wrong in bad_arrays(entries[0][key], "both", index)]
    return bad


# -- the cases ------------------------------------------------------------------------------


@dataclass
class Valid:
    """A drawn valid call: its sizes, values and where a non-finite entry goes."""

    n: int
    m: int
    k: int
    rng: np.random.Generator
    index: tuple[int, int]

    def matrix(self, rows: int, cols: int) -> np.ndarray:
        return self.rng.standard_normal((rows, cols))

    def spec(self) -> NetworkSpec:
        return NetworkSpec(self.k, (LayerSpec(self.n, "relu", True), LayerSpec(1, "sigmoid")))

    def labels(self) -> np.ndarray:
        return (self.rng.random((1, self.m)) > 0.5).astype(np.float64)


@dataclass(frozen=True)
class Case:
    """``valid(v) -> kwargs``; ``call(**kwargs)``; ``bad[arg](v, kwargs) -> bad values``."""

    valid: Callable[[Valid], dict[str, Any]]
    call: Callable[..., Any]
    bad: dict[str, Callable[[Valid, dict], list[Any]]]
    none_ok: tuple[str, ...] = ()  # arguments for which None is valid (a default)


def arr(tied: str, key: str | None = None) -> Callable[[Valid, dict], list[Any]]:
    return lambda v, kw: bad_arrays(kw[key] if key else kw["__arg__"], tied, v.index)


def fixed(values: list[Any]) -> Callable[[Valid, dict], list[Any]]:
    return lambda v, kw: values


def _layer(v: Valid) -> dict[str, Any]:
    return {"z": v.matrix(v.n, v.m), "gamma": v.matrix(v.n, 1), "beta": v.matrix(v.n, 1), "eps": 1e-5}


def _column_args(*names: str) -> dict[str, Callable]:
    return {name: arr("both") for name in names}


def _net(v: Valid) -> dict[str, Any]:
    spec = v.spec()
    return {"spec": spec, "params": network.init_params(spec, v.rng), "X": v.matrix(v.k, v.m)}


def _with_cache(v: Valid) -> dict[str, Any]:
    kw = _net(v)
    _, cache = network.forward(kw["spec"], kw["params"], kw["X"])
    return {**kw, "cache": cache}


PARAMS = {"spec": lambda v, kw: bad_specs(kw["spec"]),
          "params": lambda v, kw: bad_dicts(kw["params"], "both", v.index)}
RUNNING = lambda v, kw: bad_dicts(kw["running"], "both", v.index, negative="running_var")  # noqa: E731
BN = fixed(BAD_BN)

CASES: dict[str, Case] = {
    "batchnorm.batch_statistics": Case(lambda v: {"z": v.matrix(v.n, v.m)}, batchnorm.batch_statistics,
                                       {"z": arr("")}),
    "batchnorm.forward": Case(_layer, batchnorm.forward,
                              {"z": arr("rows"), **_column_args("gamma", "beta"), "eps": fixed(POSITIVE)}),
    "batchnorm.backward": Case(lambda v: {**_layer(v), "grad": v.matrix(v.n, v.m)}, batchnorm.backward,
                               {"z": arr("both"), **_column_args("gamma", "beta", "grad"), "eps": fixed(POSITIVE)}),
    "batchnorm.update_running": Case(
        lambda v: {"running_mean": v.matrix(v.n, 1), "running_var": np.abs(v.matrix(v.n, 1)),
                   "z": v.matrix(v.n, v.m), "momentum": 0.9},
        batchnorm.update_running,
        {"z": arr("rows"), **_column_args("running_mean"), "momentum": fixed(FRACTION),
         "running_var": lambda v, kw: [*bad_arrays(kw["running_var"], "both", v.index), -kw["running_var"] - 1]}),
    "batchnorm.eval_affine": Case(
        lambda v: {"gamma": v.matrix(v.n, 1), "beta": v.matrix(v.n, 1), "running_mean": v.matrix(v.n, 1),
                   "running_var": np.abs(v.matrix(v.n, 1)), "eps": 1e-5},
        batchnorm.eval_affine,
        {"gamma": arr("cols"), **_column_args("beta", "running_mean"), "eps": fixed(POSITIVE),
         "running_var": lambda v, kw: [*bad_arrays(kw["running_var"], "both", v.index), -kw["running_var"] - 1]}),
    "batchnorm.forward_eval": Case(
        lambda v: {**_layer(v), "running_mean": v.matrix(v.n, 1), "running_var": np.abs(v.matrix(v.n, 1))},
        batchnorm.forward_eval,
        {"z": arr("rows"), **_column_args("gamma", "beta", "running_mean"), "eps": fixed(POSITIVE),
         "running_var": lambda v, kw: [*bad_arrays(kw["running_var"], "both", v.index), -kw["running_var"] - 1]}),
    "batchnorm.backward_eval": Case(
        lambda v: {**_layer(v), "running_mean": v.matrix(v.n, 1), "running_var": np.abs(v.matrix(v.n, 1)),
                   "grad": v.matrix(v.n, v.m)},
        batchnorm.backward_eval,
        {"z": arr("rows"), **_column_args("gamma", "beta", "running_mean", "grad"), "eps": fixed(POSITIVE),
         "running_var": lambda v, kw: [*bad_arrays(kw["running_var"], "both", v.index), -kw["running_var"] - 1]}),
    "batchnorm.update_cumulative": Case(
        lambda v: {"running_mean": v.matrix(v.n, 1), "running_var": np.abs(v.matrix(v.n, 1)),
                   "z": v.matrix(v.n, v.m), "num_batches": 3},
        batchnorm.update_cumulative,
        # a float of an integer value is a count (the process protocol carries every scalar as a float)
        {"z": arr("rows"), **_column_args("running_mean"),
         "num_batches": fixed([-1, -3, 2.5, np.nan, np.inf, "2", None, True, [2]]),
         "running_var": lambda v, kw: [*bad_arrays(kw["running_var"], "both", v.index), -kw["running_var"] - 1]}),
    "batchnorm.fold_into_dense": Case(
        lambda v: {"W": v.matrix(v.n, v.k), "gamma": v.matrix(v.n, 1), "beta": v.matrix(v.n, 1),
                   "running_mean": v.matrix(v.n, 1), "running_var": np.abs(v.matrix(v.n, 1)), "eps": 1e-5},
        batchnorm.fold_into_dense,
        {"W": arr("rows"), **_column_args("gamma", "beta", "running_mean"), "eps": fixed(POSITIVE),
         "running_var": lambda v, kw: [*bad_arrays(kw["running_var"], "both", v.index), -kw["running_var"] - 1]}),
    "layers.dense": Case(lambda v: {"W": v.matrix(v.n, v.k), "A": v.matrix(v.k, v.m), "b": v.matrix(v.n, 1)},
                         layers.dense, {"W": arr("both"), "A": arr("rows"), "b": arr("both")}, ("b",)),
    "layers.dense_backward": Case(
        lambda v: {"dZ": v.matrix(v.n, v.m), "W": v.matrix(v.n, v.k), "A": v.matrix(v.k, v.m), "with_bias": True},
        layers.dense_backward, {"dZ": arr("both"), "W": arr("both"), "A": arr("both"), "with_bias": fixed(FLAGS)}),
    "layers.sigmoid": Case(lambda v: {"Z": v.matrix(v.n, v.m)}, layers.sigmoid, {"Z": arr("")}),
    "layers.activation": Case(lambda v: {"name": "relu"}, layers.activation, {"name": fixed(choices())}),
    "layers.Activation.forward": Case(lambda v: {"Z": v.matrix(v.n, v.m)}, layers.ACTIVATIONS["tanh"].forward,
                                      {"Z": arr("")}),
    "layers.Activation.backward": Case(lambda v: {"Z": v.matrix(v.n, v.m), "dA": v.matrix(v.n, v.m)},
                                       layers.ACTIVATIONS["leaky_relu"].backward,
                                       {"Z": arr("both"), "dA": arr("both")}),
    "losses.output_activation": Case(lambda v: {"name": "softmax", "Z_L": v.matrix(v.n, v.m)},
                                     losses.output_activation, {"name": fixed(choices()), "Z_L": arr("")}),
    "losses.loss_and_grad": Case(
        lambda v: {"name": "sigmoid", "Z_L": v.matrix(1, v.m), "Y": v.labels()}, losses.loss_and_grad,
        {"name": fixed([*choices(), "tanh"]), "Z_L": arr("both"),
         "Y": lambda v, kw: [*bad_arrays(kw["Y"], "both", v.index), kw["Y"] + 2.0, kw["Y"] - 1.5]}),
    "network.validate_spec": Case(lambda v: {"spec": v.spec()}, network.validate_spec, {"spec": PARAMS["spec"]}),
    "network.validate_params": Case(lambda v: {k: w for k, w in _net(v).items() if k != "X"},
                                    network.validate_params, PARAMS),
    "network.validate_running": Case(
        lambda v: {"spec": v.spec(), "running": network.init_running(v.spec())}, network.validate_running,
        {"spec": PARAMS["spec"], "running": RUNNING}),
    "network.validate_bn": Case(lambda v: {"bn": batchnorm}, network.validate_bn, {"bn": BN}, ("bn",)),
    "network.init_params": Case(lambda v: {"spec": v.spec(), "rng": v.rng, "init": "xavier"}, network.init_params,
                                {"spec": PARAMS["spec"], "rng": fixed(RNGS), "init": fixed(choices())}),
    "network.init_running": Case(lambda v: {"spec": v.spec()}, network.init_running, {"spec": PARAMS["spec"]}),
    "network.forward": Case(
        lambda v: {**_net(v), "bn": batchnorm, "running": network.init_running(v.spec()), "training": False},
        network.forward,
        {**PARAMS, "X": arr("rows"), "bn": BN, "running": RUNNING, "training": fixed(FLAGS)}, ("bn",)),
    "network.backward": Case(
        lambda v: {k: w for k, w in {**_with_cache(v), "dZ_L": v.matrix(1, v.m), "bn": batchnorm}.items()
                   if k != "X"},
        network.backward,
        {**PARAMS, "cache": lambda v, kw: bad_caches(kw["cache"], v.index, True), "dZ_L": arr("both"), "bn": BN},
        ("bn",)),
    "network.loss_and_grads": Case(lambda v: {**_net(v), "Y": v.labels(), "bn": batchnorm}, network.loss_and_grads,
                                   {**PARAMS, "X": arr("both"), "bn": BN,
                                    "Y": lambda v, kw: [*bad_arrays(kw["Y"], "both", v.index), kw["Y"] + 2.0]},
                                   ("bn",)),
    "network.update_running_stats": Case(
        lambda v: {"spec": v.spec(), "running": network.init_running(v.spec()), "cache": _with_cache(v)["cache"],
                   "bn": batchnorm},
        network.update_running_stats,
        {"spec": PARAMS["spec"], "running": RUNNING, "bn": BN,
         "cache": lambda v, kw: bad_caches(kw["cache"], v.index, False)}, ("bn",)),
    "network.predict": Case(lambda v: {**_net(v), "running": network.init_running(v.spec()), "bn": batchnorm},
                            network.predict, {**PARAMS, "X": arr("rows"), "running": RUNNING, "bn": BN}, ("bn",)),
    "training.minibatches": Case(
        lambda v: {"X": v.matrix(v.k, v.m), "Y": v.labels(), "batch_size": 2, "rng": v.rng}, training.minibatches,
        {"X": arr("cols"), "Y": arr("cols"), "batch_size": fixed(counts(1)), "rng": fixed(RNGS)}),
    "training.train": Case(
        lambda v: {**_net(v), "Y": v.labels(), "optimizer": optimizers.Adam(0.01), "epochs": 1, "batch_size": 2,
                   "rng": v.rng, "bn": batchnorm, "running": network.init_running(v.spec())},
        lambda spec, params, X, Y, optimizer, **kw: training.train(spec, params, X, Y, optimizer, **kw),
        {**PARAMS, "X": arr("both"), "Y": lambda v, kw: [*bad_arrays(kw["Y"], "both", v.index), kw["Y"] + 2.0],
         "optimizer": fixed(BAD_OPTIMIZERS), "epochs": fixed(counts(0)), "batch_size": fixed(counts(1)),
         "rng": fixed(RNGS), "bn": BN, "running": RUNNING}, ("bn", "running")),
    "training.separable_data": Case(lambda v: {"rng": v.rng, "n_x": 2, "m": v.m, "kind": "multiclass"},
                                    training.separable_data,
                                    {"rng": fixed(RNGS), "n_x": fixed([*counts(1), 1]), "m": fixed(counts(1)),
                                     "kind": fixed(choices())}),
}

_SLOTS = {"GradientDescent": (), "Momentum": ("v",), "RMSprop": ("s",), "Adam": ("v", "s")}
_HYPER = {"lr": POSITIVE, "eps": POSITIVE, "momentum": DECAY, "rho": DECAY, "beta1": DECAY, "beta2": DECAY}


def _params(v: Valid) -> dict[str, np.ndarray]:
    return {"W1": v.matrix(v.n, v.k), "gamma1": v.matrix(v.n, 1)}


def _bad_state(kw: dict, slots: tuple[str, ...], v: Valid) -> list[Any]:
    state = kw["opt_state"]
    bad: list[Any] = [None, "state", 1.0, []]
    for slot in slots:
        bad += [{k: s for k, s in state.items() if k != slot}, {**state, slot: None}]
        bad += [{**state, slot: wrong} for wrong in bad_dicts(state[slot], "both", v.index)[4:]]
    if "t" in state:
        bad += [{**state, "t": t} for t in (-1, 1.5, None, "1", True)]
    return bad


for _name, _cls in optimizers.OPTIMIZERS.items():
    _fields = {f: 0.5 if f != "lr" and f != "eps" else 1e-3 for f in _cls.__dataclass_fields__}
    _key = f"optimizers.{_cls.__name__}"
    CASES[_key] = Case(lambda v, _f=_fields: dict(_f), _cls, {f: fixed(_HYPER[f]) for f in _fields})
    # init takes any dict of parameters: only non-dicts and broken entries are wrong.
    CASES[f"{_key}.init"] = Case(lambda v: {"params": _params(v)}, _cls(0.1).init,
                                 {"params": lambda v, kw: [*bad_dicts(kw["params"], "", v.index)[:4],
                                                           *bad_dicts(kw["params"], "", v.index)[6:]]})

    def _step_valid(v: Valid, _c=_cls) -> dict[str, Any]:
        params = _params(v)
        grads = {f"d{k}": v.matrix(*p.shape) for k, p in params.items()}
        return {"params": params, "grads": grads, "opt_state": _c(0.1).step(params, grads, _c(0.1).init(params))[1]}

    CASES[f"{_key}.step"] = Case(
        _step_valid, _cls(0.1).step,
        {"params": lambda v, kw: bad_dicts(kw["params"], "both", v.index),
         "grads": lambda v, kw: bad_dicts(kw["grads"], "both", v.index),
         "opt_state": lambda v, kw, _s=_SLOTS[_cls.__name__]: _bad_state(kw, _s, v)})


def _bad_step_arrays(v: Valid, kw: dict, key: str) -> list[Any]:
    """A parameter, gradient or state of the optimizer protocol (any shape, p's shape and dtype) gone wrong."""
    good = kw[key]
    nan, inf = good.copy(), good.copy()
    nan[v.index], inf[v.index] = np.nan, -np.inf
    bad: list[Any] = [None, 1.0, good.tolist(), good.astype(np.int64), good.astype(np.complex128), nan, inf]
    if key != "p":
        bad += [np.ones((*good.shape, 1)), good[:, :1].copy()]
    if key == "s":
        bad.append(-np.ones_like(good))
    return bad


#: t: a step number (a float of an integer value is one: the process protocol carries scalars as floats).
BAD_STEPS = [0, -3, 2.5, "2", None, True, [2], np.nan]


def _step_call(name: str) -> Case:
    """The pure function ``name`` of the optimizer protocol, with a valid call on n x m arrays."""
    function = optimizers.STEPS[name]
    arguments = list(inspect.signature(function).parameters)
    arrays = [a for a in arguments if a in ("p", "dp", "v", "s")]

    def valid(v: Valid) -> dict[str, Any]:
        kw: dict[str, Any] = {a: v.matrix(v.n, v.m) for a in arrays}
        if "s" in kw:
            kw["s"] = np.abs(kw["s"])
        kw.update({a: 1e-3 if a in ("lr", "eps") else 3 if a == "t" else 0.5 for a in arguments if a not in kw})
        return kw

    bad = {a: (lambda v, kw, _a=a: _bad_step_arrays(v, kw, _a)) for a in arrays}
    bad.update({a: fixed(BAD_STEPS if a == "t" else _HYPER[a]) for a in arguments if a not in arrays})
    return Case(valid, function, bad)


for _name in optimizers.STEPS:
    CASES[f"optimizers.{_name}"] = _step_call(_name)


# -- the tests ------------------------------------------------------------------------------


def test_every_public_function_is_covered():
    modules = {info.name for info in pkgutil.iter_modules(reference_package.__path__)}
    assert modules == {m.__name__.rsplit(".", 1)[1] for m in MODULES} | set(NOT_UNDER_TEST)
    assert public_callables() == set(CASES)


def _names(message: str, argument: str) -> bool:
    return re.search(rf"(?<![\w]){re.escape(argument)}(?![\w])", message) is not None


@st.composite
def valid_calls(draw) -> Valid:
    n, m, k = draw(st.integers(1, 3), label="n"), draw(st.integers(2, 5), label="m"), draw(st.integers(1, 3), label="k")
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1), label="seed"))
    return Valid(n, m, k, rng, (draw(st.integers(0, n - 1), label="row"), draw(st.integers(0, m - 1), label="col")))


@pytest.mark.parametrize("name", sorted(CASES))
@settings(max_examples=4, deadline=None)
@given(v=valid_calls())
def test_bad_arguments_are_refused_naming_the_argument(name, v):
    case = CASES[name]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        valid = case.valid(v)
        case.call(**valid)  # the baseline is valid
        for argument, make_bad in case.bad.items():
            for bad in make_bad(v, {**valid, "__arg__": valid[argument]}):
                if bad is None and argument in case.none_ok:
                    continue
                try:
                    result = case.call(**{**valid, argument: bad})
                except (ValueError, TypeError) as error:
                    message = str(error)
                    assert re.match(r"^[\w.\[\]'\" ]+:", message), f"{name}({argument}={bad!r:.80}): {message}"
                    assert _names(message, argument), f"{name}({argument}={bad!r:.80}): {message!r} does not name it"
                else:
                    pytest.fail(f"{name} accepted {argument}={bad!r:.200} and returned {result!r:.200}")
