"""Properties of the variants frameworks ship, and of the inputs a batch norm must refuse.

The variants (:class:`bnspec.spec.protocol.Declaration`) change which clauses apply: a
declaration takes some clauses out (their statement needs what the target declares it does not
have) and brings its own in.  :func:`declared_not_applicable` is the one place that decides it,
from the tables below, and the runner asks it for every clause
(:func:`bnspec.spec.runner.not_applicable`), so that every such "n/a" gives its reason:

- ``affine = False``: the runner marks each example's draw (``Draw.unit_affine``) so that the
  shared layer draw (:func:`bnspec.spec.strategies.layer`) gives gamma = 1 and beta = 0; every
  clause whose property draws its layer there is then checked at gamma = 1, beta = 0, and the
  clauses of :data:`WITHOUT_AFFINE` -- their statement is about other gamma and beta, they judge
  dgamma or dbeta, or their property draws gamma or beta of its own -- are n/a.
- ``eval_statistics = "batch"``: the clauses of the running statistics (:data:`BATCH_STATISTICS`)
  are n/a; BN-NORUN-1 and -2 apply instead.
- ``cumulative_average = True``: BN-RUN-1 (:data:`CUMULATIVE`) is n/a; BN-CUM-2 applies.
- ``mixed_precision``: BN-MIXED-1 and -2 apply.

The refusals (BN-INPUT-*, BN-EMPTY-*) accept any ``Exception`` the implementation raises
(``sys.exit`` and ``KeyboardInterrupt`` are no refusal); the bad arguments are built by bnspec
before the call, so that an error of bnspec's own is an error, never a verdict.
"""

from __future__ import annotations

import operator
from collections.abc import Callable

import numpy as np
from hypothesis import strategies as st

from bnspec.reference import batchnorm as ref

from .. import bfloat16
from .. import strategies as draws
from ..errors import ImplementationRaised
from ..layouts import SPATIAL_RANKS, Arrangement
from ..protocol import Declaration, Role
from ..target import Subject, Target
from ..tolerances import low_precision_tolerance, offset_ratio, tolerance
from ..trial import Trial
from . import proves, scales
from .dtypes import _flush, _forward_exact, _numpy_dtype
from .gradients import _direction, _directional, _fd_check
from .running import _momentum, _running

# -- which clauses a declaration takes out, and which need one --------------------------------------

_ABOUT_AFFINE = "its statement is about gamma and beta other than 1 and 0"
_JUDGES_PARAMETER_GRADIENTS = "it judges dgamma or dbeta, which such a target does not compute"
_OWN_AFFINE = "its property draws a gamma or beta of its own"
_NETWORK_AFFINE = "the reference network learns each BN layer's gamma and beta"

#: The clauses n/a for a target that declares ``affine = False``, each with why.
WITHOUT_AFFINE: dict[str, str] = {
    **dict.fromkeys(("BN-AFFINE-1", "BN-AFFINE-2", "BN-AFFINE-3"), _ABOUT_AFFINE),
    "BN-INPUT-2": "its statement is about the shapes of gamma and beta",
    **dict.fromkeys(("BN-GRAD-2", "BN-GRAD-3", "BN-GRAD-4", "BN-GRAD-5", "BN-GRAD-REF", "BN-INV-2", "BN-INV-4",
                     "BN-LOC-5", "BN-DEG-3", "BN-DEG-4", "BN-F32-2", "BN-F16-3", "BN-BF16-2", "BN-F16-4",
                     "BN-VAR-2"), _JUDGES_PARAMETER_GRADIENTS),
    **dict.fromkeys(("BN-F16-2", "BN-VAR-1"), _OWN_AFFINE),
    **dict.fromkeys(("NET-SHAPE-1", "NET-FWD-1", "NET-BIAS-1", "NET-SCALE-1", "NET-GRAD-1", "NET-EVAL-1",
                     "TRAIN-1"), _NETWORK_AFFINE),
}
_NO_RUNNING = "it keeps no running statistics"
#: The clauses n/a for a target that declares ``eval_statistics = "batch"``, each with why.
BATCH_STATISTICS: dict[str, str] = {
    **dict.fromkeys(("BN-SHAPE-3", "BN-RUN-1", "BN-RUN-2", "BN-CUM-1", "BN-CUM-2"), _NO_RUNNING),
    **dict.fromkeys(("BN-EVAL-1", "BN-EVAL-2", "BN-EVAL-3", "BN-MIXED-2", "NET-EVAL-1", "BN-FROZEN-1",
                     "BN-FROZEN-2"), "its statement is about inference with the running statistics"),
    "BN-SHAPE-4": "its property draws m = 1, where inference with the batch's statistics is training "
                  "mode's degenerate case (BN-DEG-2's)",
}
#: The clauses n/a for a target that declares ``cumulative_average = True``, each with why.
CUMULATIVE: dict[str, str] = {"BN-RUN-1": "it passes a momentum, which such an update_running ignores"}

#: A declared ``fixed_eps`` (an implementation that computes with one eps whatever it is passed): every
#: draw labelled ``eps`` is that eps (the runner pins it, :class:`bnspec.spec.strategies.Draw`), and the
#: clauses whose statement passes other eps values cannot hold of it.
FIXED_EPS: dict[str, str] = {
    "BN-INV-3": "its statement passes eps / c^2, which such an implementation ignores",
    "BN-INV-4": "its statement passes c^2 eps, which such an implementation ignores",
    "NET-SCALE-1": "its statement scales eps by c^2, which such an implementation ignores",
    "BN-INPUT-1": "it passes eps <= 0, which such an implementation ignores by declaration",
}

#: What each declaration takes out: (the declaration's name, whether the target makes it, its clauses).
TAKEN_OUT: tuple[tuple[str, Callable[[Declaration], bool], dict[str, str]], ...] = (
    ("affine = False", lambda d: not d.affine, WITHOUT_AFFINE),
    ("eval_statistics = 'batch'", lambda d: d.eval_statistics == "batch", BATCH_STATISTICS),
    ("cumulative_average = True", lambda d: d.cumulative_average, CUMULATIVE),
    ("fixed_eps", lambda d: d.fixed_eps is not None, FIXED_EPS),
)
#: The clauses that apply only to a target that makes a declaration: clause -> (test, why not otherwise).
NEEDS_DECLARATION: dict[str, tuple[Callable[[Declaration], bool], str]] = {
    "BN-NOAFFINE-1": (lambda d: not d.affine, "the target has gamma and beta (it does not declare affine = "
                                              "False): BN-GRAD-REF judges its dz"),
    **dict.fromkeys(("BN-NORUN-1", "BN-NORUN-2"), (
        lambda d: d.eval_statistics == "batch",
        "the target's inference uses the running statistics (it does not declare eval_statistics = 'batch')")),
    "BN-CUM-2": (lambda d: d.cumulative_average, "the target does not declare cumulative_average = True"),
    **dict.fromkeys(("BN-MIXED-1", "BN-MIXED-2"), (
        lambda d: bool(d.mixed_precision), "the target declares no mixed_precision")),
}


def _mixed_dtypes(declaration: Declaration) -> list[str]:
    """The mixed-precision dtypes declared that numpy can build (bfloat16 only with ml_dtypes)."""
    return [name for name in declaration.mixed_precision if name != bfloat16.NAME or bfloat16.dtype() is not None]


def declared_not_applicable(clause_id: str, subject: Subject) -> str:
    """Why the subject's declaration makes ``clause_id`` n/a ('' if it does not)."""
    declaration = subject.declaration
    for name, declared, clauses in TAKEN_OUT:
        if declared(declaration) and clause_id in clauses:
            return f"the target declares {name}: {clauses[clause_id]}"
    if clause_id in NEEDS_DECLARATION:
        needed, why = NEEDS_DECLARATION[clause_id]
        if not needed(declaration):
            return why
        if clause_id.startswith("BN-MIXED") and not _mixed_dtypes(declaration):
            return bfloat16.MISSING
    return ""


def _affine(target: Target) -> bool:
    """Whether the target has gamma and beta (it does not declare ``affine = False``)."""
    return target.subject.declaration.affine


def _upstream(draw: draws.Draw, n: int, m: int) -> np.ndarray:
    """An upstream gradient for any m (m = 1 included: frozen BN has no degenerate batch)."""
    return draw(draws.matrix(n, m, -2.0, 2.0), "grad")


# -- backward_eval: frozen BN ----------------------------------------------------------------------

FROZEN = ("backward_eval",)


def _frozen_case(draw: draws.Draw) -> tuple[draws.Layer, np.ndarray, np.ndarray, np.ndarray]:
    """A layer (m = 1 included), running statistics and an upstream gradient.  Frozen BN is elementwise
    but for dgamma's and dbeta's sums: a large example of ORACLE_ELEMENTS shows what a larger one would."""
    x = draws.layer(draw, min_m=1, max_offset_ratio=1e4, max_elements=draws.ORACLE_ELEMENTS)
    mean, var = _running(draw, x.n)
    return x, mean, var, _upstream(draw, x.n, x.m)


@proves("BN-FROZEN-1", needs=FROZEN)
def frozen_gradients(target: Target, trial: Trial) -> None:
    x, mean, var, grad = _frozen_case(trial.draw)
    dz, dgamma, dbeta = target.backward_eval(x.z, x.gamma, x.beta, mean, var, x.eps, grad)
    ref_dz, ref_dgamma, ref_dbeta = ref.backward_eval(x.z, x.gamma, x.beta, mean, var, x.eps, grad)
    inv_std = 1.0 / np.sqrt(var + x.eps)
    trial.close("backward_eval's dz against gamma / sqrt(running_var + eps) * grad", dz, ref_dz,
                tolerance("value", np.float64, 1, np.abs(x.gamma) * inv_std * np.abs(grad)),
                observed_src="result1[0]", required_src="gamma / np.sqrt(running_var + eps) * grad")
    if not _affine(target):
        return
    # z - running_mean errs by u (|z| + |running_mean|): the condition of inference's normalization
    trial.close("backward_eval's dgamma against sum(grad * (z - running_mean) / sqrt(running_var + eps))",
                dgamma, ref_dgamma,
                tolerance("gradient", np.float64, x.m,
                          (np.abs(grad) * (np.abs(x.z) + np.abs(mean)) * inv_std).sum(axis=1, keepdims=True)),
                observed_src="result1[1]",
                required_src="(grad * (z - running_mean) / np.sqrt(running_var + eps)).sum(axis=1, keepdims=True)")
    trial.close("backward_eval's dbeta against sum(grad)", dbeta, ref_dbeta,
                tolerance("gradient", np.float64, x.m, scales.dbeta(grad)),
                observed_src="result1[2]", required_src="grad.sum(axis=1, keepdims=True)")


@proves("BN-FROZEN-2", needs=FROZEN + ("forward_eval",))
def frozen_gradients_are_forward_evals(target: Target, trial: Trial) -> None:
    x, mean, var, grad = _frozen_case(trial.draw)
    dz, dgamma, dbeta = target.backward_eval(x.z, x.gamma, x.beta, mean, var, x.eps, grad)
    eps = target.eps_in_effect(x.eps)  # the statement holds for any eps: sized at the one computed with

    Path = Callable[[float], np.ndarray]  # an argument as a function of the step t

    def objective(z: Path, gamma: Path, beta: Path) -> Callable[[float], float]:
        return lambda t: float((grad * target.forward_eval(z(t), gamma(t), beta(t), mean, var, x.eps)).sum())

    def f_scale(gamma: np.ndarray, beta: np.ndarray) -> float:
        layer = draws.Layer(x.z, gamma, beta, eps)
        return float((np.abs(grad) * scales.inference_output(layer, mean, var)).sum())

    def fixed(a: np.ndarray) -> Path:
        return lambda t: a

    # forward_eval is affine in z, gamma and beta alike: the steps move each by its own size
    v = _direction(trial.draw, x.z.shape, "direction") * np.sqrt(var + eps)
    fd = _directional(objective(lambda t: x.z + t * v, fixed(x.gamma), fixed(x.beta)), 1.0)
    _fd_check(trial, "<dz, V> against the directional finite difference of sum(grad * forward_eval)",
              float((dz * v).sum()), fd, dz * v, f_scale(x.gamma, x.beta), 1.0)
    if not _affine(target):
        return
    w = _direction(trial.draw, (x.n, 1), "gamma_direction")
    fd = _directional(objective(fixed(x.z), lambda t: x.gamma + t * w, fixed(x.beta)), 1.0)
    _fd_check(trial, "<dgamma, w> against the directional finite difference of sum(grad * forward_eval)",
              float((dgamma * w).sum()), fd, dgamma * w, f_scale(np.abs(x.gamma) + 1, x.beta), 1.0)
    w = _direction(trial.draw, (x.n, 1), "beta_direction")
    fd = _directional(objective(fixed(x.z), fixed(x.gamma), lambda t: x.beta + t * w), 1.0)
    _fd_check(trial, "<dbeta, w> against the directional finite difference of sum(grad * forward_eval)",
              float((dbeta * w).sum()), fd, dbeta * w, f_scale(x.gamma, np.abs(x.beta) + 1), 1.0)


# -- affine = False ----------------------------------------------------------------------------------


@proves("BN-NOAFFINE-1", needs=("backward",))
def dz_without_affine(target: Target, trial: Trial) -> None:
    x = draws.layer(trial.draw)  # gamma = 1, beta = 0: the runner marks the draw of such a target
    ones, zeros = np.ones((x.n, 1)), np.zeros((x.n, 1))
    grad = trial.draw(draws.upstream(x.n, x.m), "grad")
    dz = target.backward(x.z, ones, zeros, x.eps, grad)[0]
    trial.close("dz against the reference's at gamma = 1, beta = 0", dz, ref.backward(x.z, ones, zeros, x.eps, grad)[0],
                tolerance("gradient", np.float64, x.m, scales.dz(x.z, ones, x.eps, grad)), observed_src="result1[0]",
                required_src="1 / np.sqrt(var(z) + eps) * (grad - mean(grad) - z_norm(z, eps) * "
                             "mean(grad * z_norm(z, eps)))")


# -- eval_statistics = "batch" ---------------------------------------------------------------------------


def _two_running(draw: draws.Draw, n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    return [_running(draw, n), _running(draw, n)]


@proves("BN-NORUN-1", needs=("forward", "forward_eval"))
def eval_is_forward(target: Target, trial: Trial) -> None:
    x = draws.layer(trial.draw)
    out = target.forward(x.z, x.gamma, x.beta, x.eps)
    scale = scales.output(x.z, x.gamma, x.beta, target.eps_in_effect(x.eps))
    for k, (mean, var) in enumerate(_two_running(trial.draw, x.n), 1):
        trial.close(f"forward_eval with running statistics {k} against forward",
                    target.forward_eval(x.z, x.gamma, x.beta, mean, var, x.eps), out,
                    tolerance("pair", np.float64, x.m, scale))


@proves("BN-NORUN-2", needs=("backward", "backward_eval"))
def frozen_gradients_are_backwards(target: Target, trial: Trial) -> None:
    x = draws.layer(trial.draw)
    grad = trial.draw(draws.upstream(x.n, x.m), "grad")
    base = target.backward(x.z, x.gamma, x.beta, x.eps, grad)
    eps = target.eps_in_effect(x.eps)
    gradient_scales = (scales.dz(x.z, x.gamma, eps, grad), scales.dgamma(x.z, eps, grad), scales.dbeta(grad))
    judged = 3 if _affine(target) else 1  # dz alone under affine = False
    for k, (mean, var) in enumerate(_two_running(trial.draw, x.n), 1):
        frozen = target.backward_eval(x.z, x.gamma, x.beta, mean, var, x.eps, grad)
        for name, a, b, scale in list(zip(("dz", "dgamma", "dbeta"), frozen, base, gradient_scales,
                                          strict=True))[:judged]:
            trial.close(f"backward_eval's {name} with running statistics {k} against backward's", a, b,
                        tolerance("pair", np.float64, x.m, 2 * scale))


# -- the cumulative average -------------------------------------------------------------------------------


def _batch_statistics(target: Target, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The mini-batch's mean and its variance by the profile's estimator."""
    return target.profile.converged(z)


#: The counts of batches already averaged that BN-CUM-1's last update is passed: small ones favoured.
COUNTS = st.one_of(st.integers(0, 10), st.integers(0, 10**6))


@proves("BN-CUM-1", needs=("update_cumulative",))
def cumulative_average(target: Target, trial: Trial) -> None:
    k = trial.draw(st.integers(1, 5), "k")
    n = trial.draw(st.integers(1, 4), "n")
    mean, var = _running(trial.draw, n)  # discarded by the first update (num_batches = 0), up to its rounding
    statistics, magnitude = [], np.maximum(np.abs(mean), var)
    for i in range(k):
        z = trial.draw(draws.batches(n, trial.draw(st.integers(2, 8), f"m{i}"), 1e4), f"z{i}")
        mean, var = target.update_cumulative(mean, var, z, i)
        statistics.append(_batch_statistics(target, z))
        magnitude = np.maximum(magnitude, scales.batch_mean(z) + scales.batch_var(z, 0.0))
    # each update errs by one 'running' error of the statistics so far, k of them at most
    trial.close(f"running mean after {k} updates from num_batches = 0 against the mean of the {k} batch means",
                mean, np.mean([s[0] for s in statistics], axis=0),
                tolerance("running", np.float64, 8, 2 * k * magnitude))
    trial.close(f"running variance after {k} updates from num_batches = 0 against the mean of the {k} batch "
                f"variances", var, np.mean([s[1] for s in statistics], axis=0),
                tolerance("running", np.float64, 8, 2 * k * magnitude))
    # one more update, at any count, from any running statistics
    count = trial.draw(COUNTS, "num_batches")
    old_mean, old_var = _running(trial.draw, n)
    new_mean, new_var = target.update_cumulative(old_mean, old_var, z, count)
    want_mean, want_var = target.profile.expected_running(old_mean, old_var, z, target.profile.momentum_for(
        count / (count + 1)))
    m = z.shape[1]
    trial.close(f"running mean after an update at num_batches = {count}", new_mean, want_mean,
                tolerance("running", np.float64, m, np.abs(old_mean) + scales.batch_mean(z)))
    trial.close(f"running variance after an update at num_batches = {count}", new_var, want_var,
                tolerance("running", np.float64, m, old_var + scales.batch_var(z, 0.0)))


@proves("BN-CUM-2", needs=("update_running",))
def cumulative_first_step(target: Target, trial: Trial) -> None:
    x = draws.layer(trial.draw)
    mean, var = _running(trial.draw, x.n)
    new_mean, new_var = target.update_running(mean, var, x.z, _momentum(trial.draw))
    want_mean, want_var = _batch_statistics(target, x.z)
    trial.close("update_running's running mean against the mini-batch's mean", new_mean, want_mean,
                tolerance("running", np.float64, x.m, scales.batch_mean(x.z)))
    trial.close("update_running's running variance against the mini-batch's variance", new_var, want_var,
                tolerance("running", np.float64, x.m, scales.batch_var(x.z, x.eps)))


# -- mixed precision --------------------------------------------------------------------------------------

#: At most this many elements in a mixed-precision example: BN-MIXED-1's exact oracle is pure Python.
MIXED_ELEMENTS = 1024


def _mixed_case(target: Target, draw: draws.Draw, min_m: int) -> tuple[draws.Layer, np.dtype]:
    """A layer with z in one of the declared mixed-precision dtypes, gamma and beta in float32."""
    dtype = _numpy_dtype(draw(st.sampled_from(_mixed_dtypes(target.subject.declaration)), "dtype"))
    x = draws.layer(draw, min_m=min_m, max_offset_ratio=offset_ratio(dtype), max_elements=MIXED_ELEMENTS)
    z = _flush(x.z, dtype)
    draw.assume(bool(np.isfinite(z.astype(np.float64)).all()), "z overflows its dtype")
    if min_m > 1:
        draw.assume(draws.legal(z), "the cast's flush to 0 made a unit constant (BN-DEG-1's input)")
    f32 = np.dtype(np.float32)
    return draws.Layer(z, _flush(x.gamma, f32), _flush(x.beta, f32), x.eps), dtype


@proves("BN-MIXED-1")
def mixed_precision_forward(target: Target, trial: Trial) -> None:
    x, dtype = _mixed_case(target, trial.draw, 2)
    _forward_exact(target, trial, x, dtype, f"{dtype} z with float32 gamma, beta:")


@proves("BN-MIXED-2", needs=("forward_eval",))
def mixed_precision_inference(target: Target, trial: Trial) -> None:
    x, dtype = _mixed_case(target, trial.draw, 1)
    z, gamma, beta = (a.astype(np.float64) for a in (x.z, x.gamma, x.beta))
    # running statistics near the batch's (a shift of up to 3 spreads, a variance 0.1 to 10 times), so that
    # the output is representable in z's dtype: the running statistics of a trained network
    mu, var = ref.batch_statistics(z)
    shift = trial.draw(draws.column(x.n, -3.0, 3.0, special=(0.0,)), "mean_shift")
    ratio = trial.draw(draws.column(x.n, 0.1, 10.0, special=(1.0,)), "var_ratio")
    f32 = np.dtype(np.float32)
    running_mean = _flush(mu + shift * np.sqrt(var + x.eps), f32)
    running_var = (ratio * (var + x.eps)).astype(f32)
    out = target.forward_eval(x.z, x.gamma, x.beta, running_mean, running_var, x.eps)
    mean64, var64 = running_mean.astype(np.float64), running_var.astype(np.float64)
    scale, shift64 = ref.eval_affine(gamma, beta, mean64, var64, x.eps)
    exact = scale * z + shift64  # float64, whose error is far below float32's
    bound = scales.inference_output(draws.Layer(z, gamma, beta, x.eps), mean64, var64)
    trial.close(f"forward_eval({dtype} z with float32 gamma, beta and running statistics) against its exact "
                f"result" + ("" if out.dtype == dtype else f" (returned as {out.dtype})"), out, exact,
                low_precision_tolerance("value", dtype, 1, bound, np.abs(exact) + np.abs(gamma)))


# -- refusals: an empty mini-batch, invalid input -----------------------------------------------------------

#: Examples of the refusal clauses: each is one call on a simple input, which a few examples settle.
REFUSAL_EXAMPLES = 20
#: A small layer is all they need (the large draws cost time, and prove nothing more here).
SMALL = 64


def _refused(trial: Trial, raised: ImplementationRaised, what: str) -> None:
    """A refusal is an ``Exception``: ``sys.exit`` or a ``KeyboardInterrupt`` is none."""
    cause = raised.__cause__
    trial.holds(isinstance(cause, Exception), f"{what} raised {type(cause).__name__} ({raised}); a refusal is an "
                                              f"Exception, never the end of the program")


def _must_refuse(target: Target, trial: Trial, function: str, args: list[object], what: str) -> None:
    """``function`` on ``args`` (already in the implementation's layout) raises an exception; whatever it
    returns instead is a failure, read or not."""
    try:
        target.invoke(function, args)
    except ImplementationRaised as raised:
        _refused(trial, raised, f"{function} with {what}")
        return
    trial.holds(False, f"{function} with {what} returned a result; it should raise an exception")


def _empty(x: draws.Layer) -> np.ndarray:
    return np.zeros((x.n, 0))


@proves("BN-EMPTY-1", max_examples=REFUSAL_EXAMPLES)
def empty_forward(target: Target, trial: Trial) -> None:
    x = draws.layer(trial.draw, max_elements=SMALL)
    z = _empty(x)
    try:
        out = target.forward(z, x.gamma, x.beta, x.eps)
    except ImplementationRaised as raised:
        _refused(trial, raised, "forward with m = 0")
        return
    trial.equal("shape of forward's output with m = 0", out.shape, z.shape)


@proves("BN-EMPTY-2", needs=("backward",), max_examples=REFUSAL_EXAMPLES)
def empty_backward(target: Target, trial: Trial) -> None:
    x = draws.layer(trial.draw, max_elements=SMALL)
    z = _empty(x)
    try:
        dz, dgamma, dbeta = target.backward(z, x.gamma, x.beta, x.eps, _empty(x))
    except ImplementationRaised as raised:
        _refused(trial, raised, "backward with m = 0")
        return
    trial.equal("shape of backward's dz with m = 0", dz.shape, z.shape)
    if _affine(target):
        for name, value in (("dgamma", dgamma), ("dbeta", dbeta)):
            trial.holds(bool((value == 0).all()), f"backward with m = 0 returned {name} = {value.ravel()!r:.200}; "
                                                  f"the sum over no example is 0")


@proves("BN-EMPTY-3", needs=("update_running",), max_examples=REFUSAL_EXAMPLES)
def empty_update(target: Target, trial: Trial) -> None:
    x = draws.layer(trial.draw, max_elements=SMALL)
    mean, var = _running(trial.draw, x.n)
    try:
        new_mean, new_var = target.update_running(mean, var, _empty(x), _momentum(trial.draw))
    except ImplementationRaised as raised:
        _refused(trial, raised, "update_running with m = 0")
        return
    for name, new, old in (("running_mean", new_mean, mean), ("running_var", new_var, var)):
        trial.holds(bool((new.astype(np.float64) == old).all()),
                    f"update_running with m = 0 returned {name} = {new.ravel()!r:.200} for {old.ravel()!r:.200}; "
                    f"it should return it unchanged (or raise an exception)")


#: eps <= 0: zero, and the negatives of the eps the layers draw.
BAD_EPS = st.one_of(st.just(0.0), draws.eps_values().map(operator.neg))


def _impl_args(target: Target, x: draws.Layer, z: np.ndarray | None = None, gamma: np.ndarray | None = None,
               beta: np.ndarray | None = None, eps: float | None = None) -> list[object]:
    """forward's arguments in the implementation's layout: ``x``'s, each given one instead (z already in
    the implementation's layout; gamma and beta in the lecture's)."""
    return [target.to_impl_layout(x.z, Role.BATCH) if z is None else z,
            target.to_impl_layout(x.gamma if gamma is None else gamma, Role.PER_UNIT),
            target.to_impl_layout(x.beta if beta is None else beta, Role.PER_UNIT),
            x.eps if eps is None else eps]


@proves("BN-INPUT-1", max_examples=REFUSAL_EXAMPLES)
def bad_eps(target: Target, trial: Trial) -> None:
    x = draws.layer(trial.draw, max_elements=SMALL)
    eps = trial.draw(BAD_EPS, "bad_eps")
    _must_refuse(target, trial, "forward", _impl_args(target, x, eps=eps), f"eps = {eps!r}")


@proves("BN-INPUT-2", max_examples=REFUSAL_EXAMPLES)
def bad_affine_shapes(target: Target, trial: Trial) -> None:
    x = draws.layer(trial.draw, max_elements=SMALL)
    def longer(value: np.ndarray) -> np.ndarray:
        return np.vstack([value, value[:1]])

    for name, args in (("gamma", _impl_args(target, x, gamma=longer(x.gamma))),
                       ("beta", _impl_args(target, x, beta=longer(x.beta)))):
        _must_refuse(target, trial, "forward", args, f"{name} of {x.n + 1} entries for z of {x.n} units")


def _wrong_ranks(target: Target, x: draws.Layer) -> list[np.ndarray]:
    """z (in the implementation's layout) at each rank BN-INPUT-3 names."""
    layout, arranged = target.layout, target.to_impl_layout(x.z, Role.BATCH)
    wrong = [np.ascontiguousarray(arranged).reshape(-1)]
    if not layout.spatial:
        return [*wrong, arranged[np.newaxis]]
    declared = target.subject.declaration.spatial_dims
    return wrong + [layout.to_impl(x.z, Role.BATCH, Arrangement(spatial_rank=k))
                    for k in SPATIAL_RANKS if k not in declared]


@proves("BN-INPUT-3", max_examples=REFUSAL_EXAMPLES)
def bad_rank(target: Target, trial: Trial) -> None:
    x = draws.layer(trial.draw, max_elements=SMALL)
    for z in _wrong_ranks(target, x):
        _must_refuse(target, trial, "forward", _impl_args(target, x, z=z),
                     f"z of shape {z.shape} ({z.ndim}-D) in the {target.layout.value} layout")


@proves("BN-INPUT-4", max_examples=REFUSAL_EXAMPLES)
def non_finite(target: Target, trial: Trial) -> None:
    x = draws.layer(trial.draw, max_elements=SMALL)
    unit = trial.draw(st.integers(0, x.n - 1), "unit")
    example = trial.draw(st.integers(0, x.m - 1), "example")
    value = trial.draw(st.sampled_from([np.nan, np.inf, -np.inf]), "non_finite")
    z = x.z.copy()
    z[unit, example] = value
    try:
        out = target.forward(z, x.gamma, x.beta, x.eps)
    except ImplementationRaised as raised:
        _refused(trial, raised, f"forward with z[{unit}, {example}] = {value}")
        return
    finite = np.isfinite(out[unit].astype(np.float64))
    trial.holds(not finite.any(), f"forward with z[{unit}, {example}] = {value} returned {int(finite.sum())} finite "
                                  f"values of {x.m} for unit {unit} (e.g. {out[unit][finite][:3]!r}); a value made "
                                  f"from a NaN or an infinity is wrong: raise, or let it propagate")
