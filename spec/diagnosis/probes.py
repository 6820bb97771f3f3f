"""Fitting known bugs to an implementation: bnspec's own inputs, each model's answer, the verdict.

The probes are small fixed inputs chosen to tell the bugs apart (``n[l] = 3``
units, ``m = 6`` examples, eps = 0.1 so that where eps goes shows in the
second digit).  A model *fits* when the implementation agrees with it far
better than with the correct model of the profile on every probe where the
two models differ:

- an exact bug (a formula changed): within :data:`EXACT` of the model, relative
  to the output's scale, while the correct model is at least ten times farther;
- a rounding bug (one-pass variance, low-precision sums): the implementation's
  error on the revealing probe is of the model's order (a factor
  :data:`ROUNDING_BAND` either way) and far above float64's, while on the
  probe that does not reveal it the implementation is accurate.

Every call goes through :class:`bnspec.spec.target.Target` (layouts, result
checks); a call that raises or breaks the protocol is no evidence.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .. import bfloat16
from ..errors import Finding, ProtocolBreach
from ..profiles import PROFILES, Profile
from ..properties.purity import IN_PLACE
from ..protocol import FUNCTIONS
from ..target import Target
from .models import Model, RunningVar, SingleExample, Weighs
from .spatial import GROUPINGS, Regrouped
from .vocabulary import BugId

#: an exact bug's model agrees with the implementation to this relative error.
EXACT = 1e-9
#: a rounding bug's error is within this factor of its model's.
ROUNDING_BAND = 100.0
#: relative error a correct float64 implementation stays under on the probes (a few hundred ulps).
ACCURATE = 1e-12

Z = np.array([[0.3, -1.2, 2.5, 0.7, -0.4, 1.9],
              [10.0, 12.0, 9.0, 11.0, 13.0, 8.0],
              [-3.0, -2.5, -4.0, -1.0, -2.0, -3.5]])
GAMMA = np.array([[1.5], [-0.5], [2.0]])
BETA = np.array([[0.25], [-1.0], [0.5]])
EPS = 0.1
GRAD = np.array([[0.5, -1.0, 0.25, 2.0, -0.75, 1.0],
                 [1.0, 0.5, -0.5, -1.5, 0.25, 0.75],
                 [-2.0, 1.0, 0.5, 0.5, -1.0, 0.0]])
RUNNING_MEAN = np.array([[0.5], [10.0], [-2.0]])
RUNNING_VAR = np.array([[2.0], [1.0], [0.5]])
MOMENTUM = 0.8
#: an offset that leaves two-pass statistics exact to float64 and one-pass ones some 1e-4 off.
OFFSET = 1e6


@dataclass(frozen=True)
class Probe:
    """One call made on bnspec's inputs (units first), in a dtype the target must declare."""

    name: str
    function: str
    args: tuple[Any, ...]
    dtype: str = "float64"

    def run(self, impl: Any) -> tuple[np.ndarray, ...]:
        out = getattr(impl, self.function)(*(a.copy() if isinstance(a, np.ndarray) else a for a in self.args))
        return tuple(out) if isinstance(out, tuple) else (out,)


GENERAL = Probe("forward(z, gamma, beta, eps=0.1) on a 3 x 6 batch", "forward", (Z, GAMMA, BETA, EPS))
SMALL_EPS = Probe("forward(z, gamma, beta, eps=0.001)", "forward", (Z, GAMMA, BETA, 0.001))
OFFSET_PROBE = Probe(f"forward(z + {OFFSET:g}, gamma, beta, eps=0.1)", "forward", (Z + OFFSET, GAMMA, BETA, EPS))
BACKWARD = Probe("backward(z, gamma, beta, eps=0.1, grad)", "backward", (Z, GAMMA, BETA, EPS, GRAD))
RUNNING = Probe("update_running(running_mean, running_var, z, momentum=0.8)", "update_running",
                (RUNNING_MEAN, RUNNING_VAR, Z, MOMENTUM))
EVAL = Probe("forward_eval(z, gamma, beta, running_mean, running_var, eps=0.1)", "forward_eval",
             (Z, GAMMA, BETA, RUNNING_MEAN, RUNNING_VAR, EPS))
CONSTANT = np.vstack([Z[:1], np.full((1, 6), 5.0), Z[2:]])
DEGENERATE = Probe("forward on a batch whose second unit is constant (eps=0.1)", "forward",
                   (CONSTANT, GAMMA, BETA, EPS))
SINGLE = Probe("forward on a mini-batch of m = 1", "forward", (Z[:, :1], GAMMA, BETA, EPS))


def _long_batch(dtype: np.dtype) -> Probe:
    """forward on 2 units of m = 512 values near 300 in ``dtype``: a float16 sum of them overflows
    65504, a bfloat16 one keeps almost no digit of the spread (eps = 0.01)."""
    spread = np.linspace(-1.0, 1.0, 512)
    z = np.vstack([300.0 + 4.0 * spread, -2.0 + np.sin(7.0 * spread)]).astype(dtype)
    ones, zeros = np.ones((2, 1), dtype), np.zeros((2, 1), dtype)
    return Probe(f"forward on {dtype.name} input, 2 units of m = 512 near 300 (eps=0.01)", "forward",
                 (z, ones, zeros, 0.01), dtype.name)


HALF = tuple(_long_batch(np.dtype(name)) for name in ("float16",)) + (
    (_long_batch(bfloat16.required()),) if bfloat16.dtype() is not None else ())


@dataclass(frozen=True)
class Candidate:
    """A known bug: its id, its model's change, and the probes that reveal it (the first reveals it;
    for a rounding bug the second must not)."""

    bug: BugId
    change: dict[str, Any]
    probes: tuple[Probe, ...]
    rounding: bool = False


CANDIDATES: tuple[Candidate, ...] = (
    Candidate(BugId.EPS_OUTSIDE_SQRT, {"eps_outside": True}, (GENERAL, SMALL_EPS)),
    Candidate(BugId.UNBIASED_VARIANCE, {"variance": "unbiased"}, (GENERAL, SMALL_EPS)),
    Candidate(BugId.ONE_PASS_VARIANCE, {"variance": "one_pass"}, (OFFSET_PROBE, GENERAL), rounding=True),
    Candidate(BugId.LOW_PRECISION_ACCUMULATION, {"low_precision": True}, (GENERAL,), rounding=True),
    Candidate(BugId.WRONG_AXIS, {"axis": "units"}, (GENERAL,)),
    Candidate(BugId.NO_CENTERING, {"center": False}, (GENERAL,)),
    Candidate(BugId.GAMMA_BETA_MISUSED, {"affine": "beta, gamma"}, (GENERAL,)),
    Candidate(BugId.GAMMA_BETA_MISUSED, {"affine": "beta only"}, (GENERAL,)),
    Candidate(BugId.DZ_STATISTICS_DETACHED, {"dz_mean_term": False, "dz_variance_term": False}, (BACKWARD,)),
    Candidate(BugId.DZ_MISSING_MEAN_TERM, {"dz_mean_term": False}, (BACKWARD,)),
    Candidate(BugId.DZ_MISSING_VARIANCE_TERM, {"dz_variance_term": False}, (BACKWARD,)),
    Candidate(BugId.PARAMETER_GRADIENTS_WRONG, {"dgamma_without_z_norm": True}, (BACKWARD,)),
    Candidate(BugId.EVAL_USES_BATCH_STATISTICS, {"eval_batch_statistics": True}, (EVAL,)),
    Candidate(BugId.EVAL_FORMULA_WRONG, {"eval_without_eps": True}, (EVAL,)),
)


def _relative(a: tuple[np.ndarray, ...], b: tuple[np.ndarray, ...]) -> float:
    """The largest ``|a - b| / scale`` over the outputs, scale the larger magnitude (at least 1)."""
    worst = 0.0
    for x, y in zip(a, b, strict=True):
        x64, y64 = np.asarray(x, np.float64), np.asarray(y, np.float64)
        if x64.shape != y64.shape:
            return np.inf
        with np.errstate(invalid="ignore"):
            error = np.abs(x64 - y64) / max(1.0, float(np.nanmax(np.abs(y64), initial=0.0)))
        worst = max(worst, float(np.nanmax(np.where(np.isfinite(error), error, np.inf), initial=0.0)))
    return worst


def _outputs(target: Target, probe: Probe) -> tuple[np.ndarray, ...] | None:
    """The implementation's results on ``probe``, or None if it cannot answer (no function, raises)."""
    if not target.has(probe.function) or (probe.dtype != "float64" and probe.dtype not in target.dtypes):
        return None
    try:
        return probe.run(target)
    except Finding:
        return None


@dataclass(frozen=True)
class Fit:
    """A candidate that fits, its model, the evidence in words, and the protocol function whose results
    it accounts for ('' for a bug that is no formula of one function)."""

    bug: BugId
    model: Model | Regrouped  # a Regrouped model takes the implementation's layout
    evidence: str
    function: str = ""


def _fits(candidate: Candidate, model: Any, correct: Model, observed: Callable[[Probe], Any]) -> str | None:
    reveal = candidate.probes[0]
    impl = observed(reveal)
    if impl is None:
        return None
    wanted, right = reveal.run(model), reveal.run(correct)
    gap, to_model, to_right = _relative(wanted, right), _relative(impl, wanted), _relative(impl, right)
    if candidate.rounding:
        if not (gap > 1e3 * ACCURATE and gap / ROUNDING_BAND <= to_right <= gap * ROUNDING_BAND):
            return None
        for other in candidate.probes[1:]:  # accurate where the bug does not show
            clean = observed(other)
            if clean is None or _relative(clean, other.run(correct)) > ACCURATE:
                return None
        return (f"{reveal.name}: off by {to_right:.2g} (relative), of the order of the model's "
                f"{gap:.2g}; accurate to {ACCURATE:g} where the bug cannot show")
    if not (gap > 1e3 * EXACT and to_model <= EXACT and to_right >= 10 * to_model):
        return None
    for other in candidate.probes[1:]:
        seen = observed(other)
        if seen is None or _relative(seen, other.run(model)) > EXACT:
            return None
    return f"{reveal.name} matches the model to {to_model:.2g} (relative); the correct result differs by {gap:.2g}"


def _observer(target: Target) -> Callable[[Probe], Any]:
    """The implementation's results on a probe (:func:`_outputs`), each probe called once."""
    cache: dict[str, Any] = {}

    def observed(probe: Probe) -> Any:
        if probe.name not in cache:
            cache[probe.name] = _outputs(target, probe)
        return cache[probe.name]

    return observed


def fit(target: Target) -> list[Fit]:
    """Every known bug that fits the implementation, in :data:`CANDIDATES` order (one per bug id)."""
    # a declared fixed eps is a convention, not a bug: the correct model computes with it too
    correct = Model(target.profile, fixed_eps=target.subject.declaration.fixed_eps)
    observed = _observer(target)
    found: dict[BugId, Fit] = {}
    eps = target.subject.fixed_eps  # declared, else detected (bnspec.spec.eps)
    if eps is not None and target.subject.declaration.fixed_eps is None:
        found[BugId.EPS_IGNORED] = Fit(BugId.EPS_IGNORED, replace(correct, fixed_eps=eps),
                                       f"forward ignores the eps passed: it behaves as if given fixed_eps = "
                                       f"{eps:.3g}", "forward")
    for candidate in CANDIDATES:
        if candidate.bug in found:
            continue
        model = replace(correct, **candidate.change)
        evidence = _fits(candidate, model, correct, observed)
        if evidence:
            found[candidate.bug] = Fit(candidate.bug, model, evidence, candidate.probes[0].function)
    if BugId.LOW_PRECISION_ACCUMULATION not in found:
        found.update({f.bug: f for f in _narrow_sums(correct, observed)})
    found = {bug: replace(f, model=_eval_scope(f.model, observed)) for bug, f in found.items()
             if isinstance(f.model, Model)}
    fitted: list[Any] = [f.model for f in found.values() if f.function]
    for spatial in _spatial(target, correct, observed):
        found[spatial.bug] = spatial
        fitted.append(_in_lecture_layout(target, spatial.model))
    conventions = [*_running(correct, observed), *_single_example(target, correct)]
    for found_fit in [*conventions, *_observations(target, correct, observed)]:
        found.setdefault(found_fit.bug, found_fit)
    for found_fit in _no_known_bug(target, correct, {f.function for f in found.values()}, fitted):
        found.setdefault(found_fit.bug, found_fit)
    return list(found.values())


#: the bug of each grouping of a channel layout's examples (:mod:`.spatial`).
SPATIAL_BUGS = {"per_position": BugId.PER_POSITION_STATISTICS, "per_sample": BugId.PER_SAMPLE_STATISTICS}


def _in_lecture_layout(target: Target, model: Any) -> Target:
    """``model`` (in the implementation's layout) called as the implementation is: through a
    :class:`Target` with the probes' arrangement, in the lecture's layout."""
    return Target(replace(target.subject, impl=model, spec=f"the model {model!r:.60}"), arrangement=target.arrangement)


def _spatial(target: Target, correct: Model, observed: Callable[[Probe], Any]) -> list[Fit]:
    """A channel layout's statistics over part of the examples (per position, per sample), fitted on
    the general probe laid out with samples and positions (the probes' arrangement)."""
    if not target.layout.spatial or not target.arrangement or target.arrangement.spatial_rank == 0:
        return []
    fits = []
    for grouping in GROUPINGS:
        model = Regrouped(correct, grouping, target.layout)
        candidate = Candidate(SPATIAL_BUGS[grouping], {}, (GENERAL,))
        evidence = _fits(candidate, _in_lecture_layout(target, model), correct, observed)
        if evidence:
            shape = target.arrangement.examples_shape(Z.shape[1])
            fits.append(Fit(candidate.bug, model, f"{evidence}, with (N, *S) = {shape}", "forward"))
    return fits


#: each function's probe, and the id of a difference no known bug explains.
UNKNOWN = {"forward": (GENERAL, BugId.FORWARD_NOT_BATCH_NORM),
           "backward": (BACKWARD, BugId.BACKWARD_NOT_GRADIENT_OF_FORWARD),
           "update_running": (RUNNING, BugId.RUNNING_UPDATE_WRONG),
           "forward_eval": (EVAL, BugId.EVAL_FORMULA_WRONG)}


def _reproduces(seen: tuple[np.ndarray, ...], model: tuple[np.ndarray, ...], right: tuple[np.ndarray, ...]) -> bool:
    """Whether a model's results account for the implementation's: as close as the model's rounding allows."""
    return _relative(seen, model) <= max(EXACT, ROUNDING_BAND * _relative(model, right))


def _affine_per_unit(z: np.ndarray, out: np.ndarray) -> bool:
    """Whether each unit's output is ``a z + b`` for some a, b (what normalizing with *any* mean and
    variance gives), to :data:`EXACT`."""
    for row, y in zip(z, np.asarray(out, np.float64), strict=True):
        design = np.stack([row, np.ones_like(row)], axis=1)
        coefficients, *_ = np.linalg.lstsq(design, y, rcond=None)
        if np.abs(design @ coefficients - y).max() > EXACT * max(1.0, float(np.abs(y).max())):
            return False
    return True


def _no_known_bug(target: Target, correct: Model, covered: set[str], fitted: list[Any]) -> list[Fit]:
    """For each function no fit accounts for whose results differ from the correct ones (or break the
    protocol): a fit whose model is the correct batch norm with that function answered by the
    implementation itself -- the clauses it fails are the ones that function's bug explains.  A
    function whose results a fitted model reproduces (a step shared with the function the bug was
    found in, to within that model's own distance from the correct results) is accounted for."""
    fits = []
    for function, (probe, bug) in UNKNOWN.items():
        if function in covered or not target.has(function):
            continue
        model = replace(correct, delegate=(function,), implementation=target)
        try:
            seen = probe.run(target)
        except ProtocolBreach as breach:
            fits.append(Fit(BugId.BREAKS_PROTOCOL, model, f"{probe.name}: {breach}", function))
            continue
        except Finding:
            continue
        right = probe.run(correct)
        gap = _relative(seen, right)
        if gap <= EXACT or any(_reproduces(seen, probe.run(m), right) for m in fitted):
            continue
        if function == "forward" and _affine_per_unit(Z, seen[0]):  # normalized, not with this batch's statistics
            bug = BugId.TRAINING_USES_RUNNING_STATISTICS
        fits.append(Fit(bug, model, f"{probe.name} differs from the correct result by {gap:.2g} (relative), "
                                    f"and no known bug fits it", function))
    return fits


def _narrow_sums(correct: Model, observed: Callable[[Probe], Any]) -> list[Fit]:
    """float16 or bfloat16 input summed in itself: each declared half-precision dtype whose long batch
    the implementation gets wrong as that model does (a rounding fit, accurate in float64)."""
    narrow, evidence = [], []
    for probe in HALF:
        candidate = Candidate(BugId.LOW_PRECISION_ACCUMULATION, {"narrow": (probe.dtype,)}, (probe, GENERAL),
                              rounding=True)
        found = _fits(candidate, replace(correct, narrow=(probe.dtype,)), correct, observed)
        if found:
            narrow.append(probe.dtype)
            evidence.append(found)
    if not narrow:
        return []
    return [Fit(BugId.LOW_PRECISION_ACCUMULATION, replace(correct, narrow=tuple(narrow)), "; ".join(evidence),
                "forward")]


def _eval_scope(model: Model, observed: Callable[[Probe], Any]) -> Model:
    """The model whose inference matches the implementation's: sharing the training step's bug or not."""
    seen = observed(EVAL)
    if seen is None:
        return model
    apart = replace(model, eval_as_training=False)
    return apart if _relative(seen, EVAL.run(apart)) < _relative(seen, EVAL.run(model)) else model


#: the running variance's conventions and their ids, when they differ from the profile's.
RUNNING_VAR_IDS = {"unbiased": BugId.RUNNING_VAR_UNBIASED, "biased": BugId.RUNNING_VAR_BIASED,
                   "std": BugId.RUNNING_STD_NOT_VAR, "frozen": BugId.RUNNING_VAR_NOT_UPDATED}
MOMENTUM_IDS = {"new": BugId.MOMENTUM_WEIGHS_NEW, "old": BugId.MOMENTUM_WEIGHS_OLD}


WEIGHS: tuple[Weighs, ...] = ("old", "new")
KINDS: tuple[RunningVar, ...] = ("biased", "unbiased", "std", "frozen")


def running_conventions(observed: Callable[[Probe], Any], correct: Model) -> tuple[Weighs, RunningVar] | None:
    """``(momentum_weighs, running_var)`` of the implementation's running update, or None if none fits."""
    seen = observed(RUNNING)
    if seen is None:
        return None
    for weighs in WEIGHS:
        for kind in KINDS:
            model = replace(correct, momentum_weighs=weighs, running_var=kind)
            if _relative(seen, RUNNING.run(model)) <= EXACT:
                return weighs, kind
    return None


def _running(correct: Model, observed: Callable[[Probe], Any]) -> list[Fit]:
    """Each of the running update's conventions that differs from the profile's, with the model of all."""
    found = running_conventions(observed, correct)
    if found is None:
        return []
    weighs, kind = found
    model = replace(correct, momentum_weighs=weighs, running_var=kind)
    evidence = f"{RUNNING.name} matches momentum weighing the {weighs} value and a {kind} running variance"
    fits = [Fit(MOMENTUM_IDS[weighs], model, evidence, "update_running")] \
        if weighs != correct.profile.momentum_weighs else []
    if kind != correct.profile.running_var:
        fits.append(Fit(RUNNING_VAR_IDS[kind], model, evidence, "update_running"))
    return fits


def single_example(target: Target) -> SingleExample | None:
    """``"raises"`` or ``"beta"``: what training-mode forward does at m = 1 (None: no forward)."""
    if not target.has("forward"):
        return None
    try:
        SINGLE.run(target)
    except Finding:
        return "raises"
    return "beta"


def _single_example(target: Target, correct: Model) -> list[Fit]:
    seen = single_example(target)
    if seen is None or seen == correct.profile.single_example:
        return []
    bug = BugId.SINGLE_EXAMPLE_RAISES if seen == "raises" else BugId.SINGLE_EXAMPLE_RETURNS_BETA
    verb = "raises" if seen == "raises" else "returns"
    return [Fit(bug, replace(correct, single_example=seen), f"{SINGLE.name} {verb}")]


def _observations(target: Target, correct: Model, observed: Callable[[Probe], Any]) -> list[Fit]:
    """Bugs seen directly rather than fitted: NaN on a constant unit, a wrong dtype, a mutated input,
    different results for the same inputs."""
    fits = []
    degenerate = observed(DEGENERATE)
    general = observed(GENERAL)
    if degenerate is not None and not all(np.isfinite(np.asarray(a, np.float64)).all() for a in degenerate) \
            and general is not None and all(np.isfinite(np.asarray(a, np.float64)).all() for a in general):
        fits.append(Fit(BugId.NAN_ON_DEGENERATE_INPUT, replace(correct, nan_on_constant=True),
                        f"{DEGENERATE.name} returns non-finite values; the same call without a constant unit "
                        f"does not"))
    if "float32" in target.dtypes:
        single = _outputs(target, Probe("float32", "forward", (Z.astype(np.float32), GAMMA.astype(np.float32),
                                                                BETA.astype(np.float32), EPS)))
        if single is not None and single[0].dtype != np.float32:
            fits.append(Fit(BugId.WRONG_DTYPE, replace(correct, result_dtype="float64"),
                            f"forward on float32 input returns {single[0].dtype}"))
    again = _outputs(target, GENERAL)
    if general is not None and again is not None and \
            not all(np.array_equal(a, b, equal_nan=True) for a, b in zip(general, again, strict=True)):
        fits.append(Fit(BugId.NONDETERMINISTIC, replace(correct, jitter=True),
                        f"{GENERAL.name} twice gives different results"))
    return fits + _mutations(target, correct)


def _mutations(target: Target, correct: Model) -> list[Fit]:
    """forward, backward, update_running, forward_eval called on arrays in the implementation's layout:
    any argument changed afterwards is a mutated input."""
    for probe in (GENERAL, BACKWARD, RUNNING, EVAL):
        if not target.has(probe.function):
            continue
        roles = [slot.role for slot in FUNCTIONS[probe.function].arguments]
        given = [target.to_impl_layout(a, role) if isinstance(a, np.ndarray) else a
                 for a, role in zip(probe.args, roles, strict=True)]
        before = [a.copy() if isinstance(a, np.ndarray) else a for a in given]
        try:
            target.invoke(probe.function, given)
        except Finding:
            continue
        names = FUNCTIONS[probe.function].argument_names
        # a declared in-place update writes its running statistics: BN-PURE-1 checks what it writes
        writable = IN_PLACE.get(probe.function, ()) if target.subject.declaration.running_update == "in_place" else ()
        for name, was, now in zip(names, before, given, strict=True):
            if name in writable:
                continue
            if isinstance(was, np.ndarray) and not np.array_equal(was, now, equal_nan=True):
                return [Fit(BugId.MUTATES_INPUT, replace(correct, mutates_input=True),
                            f"{probe.function} changed its argument {name}")]
    return []


def suggested_profile(target: Target) -> tuple[str, str] | None:
    """The profile whose conventions the implementation follows, when the one in effect is not:
    ``(name, evidence)``, from the running update and the m = 1 behaviour."""
    running = running_conventions(_observer(target), Model(target.profile))
    single = single_example(target)
    if running is None or single is None:
        return None

    def follows(profile: Profile) -> bool:
        return (profile.momentum_weighs, profile.running_var, profile.single_example) == (*running, single)

    if follows(target.profile):
        return None
    for profile in PROFILES.values():
        if follows(profile):
            return profile.name, (f"momentum weighs the {running[0]} value, {running[1]} running variance, "
                                  f"at m = 1 it {'raises' if single == 'raises' else 'returns beta'}")
    return None
