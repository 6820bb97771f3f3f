"""Profiles: named sets of conventions that change what a clause expects.

A profile never changes a tolerance.  ``lecture`` is the canonical profile and
the default; the conformance kit adds the frameworks' profiles.  A target may
also declare its conventions field by field, a mapping read by :func:`resolve`
(:data:`CONVENTIONS` lists the fields and the values each allows).
"""

from __future__ import annotations

import ast
import builtins
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal, get_args

import numpy as np

from bnspec.reference import batchnorm

from .optimizer_forms import AdamEps, EpsPlace, MomentumForm

#: What ``update_running``'s momentum weighs: the old running value, or the new batch statistic.
MomentumWeighs = Literal["old", "new"]
#: The batch variance fed to the running variance: divided by m, or by m - 1.
RunningVar = Literal["biased", "unbiased"]
#: What training mode does at m = 1: return beta (z_norm = 0), or raise the profile's refusal.
SingleExample = Literal["beta", "raises"]


@dataclass(frozen=True)
class Profile:
    """The conventions a BN implementation follows, each with its source.

    - ``momentum_weighs``: ``"old"`` when ``new = momentum * old + (1 - momentum)
      * batch`` (the course, ONNX, Keras, Flax), ``"new"`` when the momentum is
      the weight of the batch statistic (PyTorch, MLX, tinygrad).
    - ``running_var``: ``"biased"`` (divide by m) or ``"unbiased"`` (by m - 1,
      the paper's Algorithm 2).
    - ``single_example``: what training-mode BN does at m = 1: ``"beta"``
      (z_norm = 0, the output is beta) or ``"raises"``.
    - ``refusal``: with ``"raises"``, the exception the framework raises at
      m = 1 (a builtin exception's name; any other exception fails BN-DEG-2).
    - ``feature_axis``: where the framework keeps the units (documentation; the
      adapter maps it onto the protocol's layout).
    - ``momentum_form``, ``rmsprop_eps``, ``adam_eps``: the framework's form of momentum, RMSprop and
      Adam (:mod:`bnspec.spec.optimizer_forms`); the lecture's by default.
    - ``sources``: where each value comes from.
    """

    name: str
    eps: float
    momentum_weighs: MomentumWeighs
    running_var: RunningVar
    single_example: SingleExample
    feature_axis: str = "rows (n x m, units first)"
    sources: dict[str, str] = field(default_factory=dict)
    refusal: str = "ValueError"
    momentum_form: MomentumForm = "average"
    rmsprop_eps: EpsPlace = "outside"
    adam_eps: AdamEps = "corrected"

    def expected_running(
        self, running_mean: np.ndarray, running_var: np.ndarray, z: np.ndarray, momentum: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """The running statistics this profile requires after one update.

        The lecture's formula lives in :func:`bnspec.reference.batchnorm.update_running`;
        a profile maps its conventions onto it: a momentum that weighs the new
        value becomes ``1 - momentum``, and an unbiased estimator scales the
        batch variance by ``m / (m - 1)``, which by linearity equals updating
        ``running_var * (m - 1) / m`` and scaling the result back.
        """
        weight_old = momentum if self.momentum_weighs == "old" else 1.0 - momentum
        if self.running_var == "biased":
            return batchnorm.update_running(running_mean, running_var, z, weight_old)
        m = z.shape[1]
        k = m / (m - 1)
        new_mean, scaled_var = batchnorm.update_running(running_mean, running_var / k, z, weight_old)
        return new_mean, scaled_var * k

    def momentum_for(self, weight_old: float) -> float:
        """The momentum argument that gives the old value the weight ``weight_old``."""
        return weight_old if self.momentum_weighs == "old" else 1.0 - weight_old

    def converged(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The running statistics after feeding ``z`` forever: its mean and the
        profile's estimate of its variance."""
        n = z.shape[0]
        forget = 0.0 if self.momentum_weighs == "old" else 1.0
        return self.expected_running(np.zeros((n, 1)), np.ones((n, 1)), z, forget)


LECTURE = Profile(
    name="lecture",
    eps=batchnorm.DEFAULT_EPS,
    momentum_weighs="old",
    running_var="biased",
    single_example="beta",
    feature_axis="rows (n x m, units first)",
    sources={
        "momentum_weighs": "the course's exponentially weighted averages (L12): v = momentum * v + (1 - momentum) x",
        "running_var": "the mini-batch's variance as the lecture computes it, divided by m (L6)",
        "single_example": "the lecture's formulas at m = 1: sigma^2 = 0, z_norm = 0, output beta",
        "eps": "any eps > 0 is passed explicitly; 1e-5 when none is given",
        "momentum_form": "the course's momentum: v = momentum v + (1 - momentum) dW, W = W - lr v (L3, L4; the "
                         "decay the course writes beta is `momentum` here, apart from BN's beta)",
        "rmsprop_eps": "the course's RMSprop: W = W - alpha dW / (sqrt(s) + epsilon) (L4)",
        "adam_eps": "the course's Adam: W = W - alpha v_corrected / (sqrt(s_corrected) + epsilon) (L4)",
    },
)

PAPER = Profile(
    name="paper",
    eps=batchnorm.DEFAULT_EPS,
    momentum_weighs="old",
    running_var="unbiased",
    single_example="beta",
    feature_axis="rows (n x m, units first)",
    sources={
        "running_var": "Ioffe & Szegedy 2015, Algorithm 2: Var[x] = m / (m - 1) E_B[sigma_B^2]",
        "momentum_weighs": "Algorithm 2 averages over mini-batches; as a moving average, the lecture's form",
        "single_example": "Algorithm 1 at m = 1: sigma_B^2 = 0, the output is beta",
        "eps": "the paper leaves eps to the implementation; 1e-5",
    },
)


def _framework(
    name: str, eps_default: float, weighs: MomentumWeighs, var: RunningVar, single: SingleExample, axis: str,
    refusal: str = "ValueError",
    **sources: str,
) -> Profile:
    return Profile(name, eps_default, weighs, var, single, axis, sources, refusal)


TORCH = _framework(
    "torch", 1e-5, "new", "unbiased", "raises", "1 (N, C)",
    eps="torch.nn.BatchNorm1d(eps=1e-05)",
    momentum_weighs="BatchNorm1d docs: x_new = (1 - momentum) x_old + momentum x_t, momentum=0.1",
    running_var="BatchNorm1d docs: the running variance is updated with the unbiased estimator",
    single_example="F.batch_norm raises ValueError 'Expected more than 1 value per channel when training'",
)
KERAS = _framework(
    "keras", 1e-3, "old", "biased", "beta", "-1 (N, C)",
    eps="keras.layers.BatchNormalization(epsilon=0.001)",
    momentum_weighs="moving_mean = moving_mean * momentum + mean(batch) * (1 - momentum), momentum=0.99",
    running_var="moving_var updated with the batch's variance (ops.moments: divide by m)",
    single_example="a batch of one normalizes to 0: the output is beta",
)
FLAX = _framework(
    "flax", 1e-5, "old", "biased", "beta", "-1 (N, C)",
    eps="flax.nnx.BatchNorm(epsilon=1e-5)",
    momentum_weighs="ra_mean = momentum * ra_mean + (1 - momentum) * mean, momentum=0.99",
    running_var="flax.nnx.BatchNorm: var = E[x^2] - E[x]^2 over the batch (divide by m)",
    single_example="a batch of one normalizes to 0: the output is beta",
)
ONNX = _framework(
    "onnx", 1e-5, "old", "biased", "beta", "1 (N, C)",
    eps="ONNX BatchNormalization: epsilon default 1e-5",
    momentum_weighs="ONNX BatchNormalization-15: running_mean = input_mean * momentum + current_mean * (1 - momentum)",
    running_var="ONNX BatchNormalization-15: current_var = ReduceVar(X) (population variance)",
    single_example="the operator's formulas at m = 1: the output is beta",
)
MLX = _framework(
    "mlx", 1e-5, "new", "unbiased", "raises", "-1 (N, C)",
    eps="mlx.nn.BatchNorm(eps=1e-5)",
    momentum_weighs="mlx.nn.BatchNorm: running = (1 - momentum) running + momentum batch, momentum=0.1",
    running_var="follows PyTorch's convention (unbiased running variance)",
    single_example="mlx.nn.BatchNorm raises ValueError('BatchNorm training requires more than one value per "
    "channel.') in training mode at m = 1 (BatchNorm.__call__, mlx 0.32.4)",
)
TINYGRAD = _framework(
    "tinygrad", 1e-5, "new", "unbiased", "raises", "1 (N, C)", "ZeroDivisionError",
    eps="tinygrad.nn.BatchNorm(eps=1e-5)",
    momentum_weighs="tinygrad.nn.BatchNorm: running = (1 - momentum) running + momentum batch, momentum=0.1",
    running_var="follows PyTorch's convention (unbiased running variance)",
    single_example="nn.BatchNorm with track_running_stats=True (the default) raises ZeroDivisionError in training "
    "mode at m = 1: its running-variance update multiplies by the Bessel factor x.numel() / (x.numel() - "
    "x.shape[1]) = m / (m - 1) (tinygrad/nn/__init__.py, BatchNorm.__call__, tinygrad 0.14.0)",
)
TF = _framework(
    "tf", 1e-3, "new", "unbiased", "beta", "-1 (N, H, W, C: data_format NHWC, the default; 1 with NCHW)",
    eps="tf.compat.v1.nn.fused_batch_norm(epsilon=0.001) (tensorflow/python/ops/nn_impl.py, fused_batch_norm, "
    "TF 2.21.0, which passes eps to the kernel unchanged; the raw op FusedBatchNormV3 defaults to 1e-4); "
    "tf_keras.layers.BatchNormalization(epsilon=1e-3) (tf-keras 2.21.0)",
    momentum_weighs="the protocol's momentum is fused_batch_norm's exponential_avg_factor, the weight of the "
    "batch: running = (1 - factor) running + factor batch (tensorflow/core/kernels/fused_batch_norm_op.cc at "
    "057091d, the CPU FusedBatchNorm functor with is_training = true; so computes tensorflow-cpu 2.21.0). The "
    "tf_keras 2.21.0 layer passes factor = 1 - momentum (tf_keras/layers/normalization/batch_normalization.py, "
    "_fused_batch_norm): as a layer its momentum weighs the old value (declare base tf with momentum_weighs old)",
    running_var="the running variance is fed the batch variance times rest_size_adjust = m / (m - 1), Bessel's "
    "correction (fused_batch_norm_op.cc at 057091d, the CPU FusedBatchNorm functor with is_training = true; so "
    "computes tensorflow-cpu 2.21.0); the tf_keras 2.21.0 layer keeps it (_bessels_correction_test_only = True) "
    "on its fused path, 4-D and 5-D inputs only: 2-D inputs take tf.nn.moments, biased (batch_normalization.py, "
    "_calculate_mean_and_var), the keras profile's conventions",
    single_example="at m = 1 the CPU kernel outputs offset (beta) and divides by rest_size_minus_one = max(m - 1, "
    "1): the batch adds variance 0, nothing raises (fused_batch_norm_op.cc at 057091d, the CPU FusedBatchNorm "
    "functor with is_training = true; so computes tensorflow-cpu 2.21.0; the GPU's cuDNN kernel is not covered)",
)



def _optimizers(profile: Profile, form: tuple[MomentumForm, EpsPlace, AdamEps], **sources: str) -> Profile:
    """``profile`` with its framework's forms of the optimizers (:mod:`bnspec.spec.optimizer_forms`):
    ``form`` is (momentum_form, rmsprop_eps, adam_eps), ``sources`` where each comes from."""
    momentum_form, rmsprop_eps, adam_eps = form
    return replace(profile, momentum_form=momentum_form, rmsprop_eps=rmsprop_eps, adam_eps=adam_eps,
                   sources={**profile.sources, **sources})


TORCH = _optimizers(
    TORCH, ("heavy_ball", "outside", "corrected"),
    momentum_form="torch/optim/sgd.py, _single_tensor_sgd (torch 2.13.0): buf.mul_(momentum).add_(grad, alpha=1 - "
    "dampening), param.add_(buf, alpha=-lr), dampening=0: v = momentum v + dp, p -= lr v",
    rmsprop_eps="torch/optim/rmsprop.py, _single_tensor_rmsprop (torch 2.13.0): avg = square_avg.sqrt(), "
    "avg = avg.add_(eps), param.addcdiv_(grad, avg, value=-lr)",
    adam_eps="torch/optim/adam.py, _single_tensor_adam (torch 2.13.0): denom = (exp_avg_sq.sqrt() / "
    "bias_correction2_sqrt).add_(eps), param.addcdiv_(exp_avg, denom, value=-lr / bias_correction1)",
)
_KERAS_OPTIMIZERS = dict(
    momentum_form="keras/src/optimizers/sgd.py, SGD.update_step (keras 3.15.1): m = m * momentum - gradient * "
    "learning_rate, variable += m: v = momentum v - lr dp, p += v",
    rmsprop_eps="keras/src/optimizers/rmsprop.py, update_step (keras 3.15.1): lr * gradient / sqrt(velocity + "
    "epsilon)",
    adam_eps="keras/src/optimizers/adam.py, update_step (keras 3.15.1): alpha = lr * sqrt(1 - beta_2_power) / "
    "(1 - beta_1_power), variable -= m * alpha / (sqrt(v) + epsilon)",
)
KERAS = _optimizers(KERAS, ("velocity", "inside", "uncorrected"), **_KERAS_OPTIMIZERS)
TF = _optimizers(TF, ("velocity", "inside", "uncorrected"),
                 **{k: f"{v}; TensorFlow 2.16+ trains with Keras 3's optimizers (tf.keras)"
                    for k, v in _KERAS_OPTIMIZERS.items()})
MLX = _optimizers(
    MLX, ("heavy_ball", "outside", "corrected"),
    momentum_form="mlx/optimizers/optimizers.py, SGD.apply_single (mlx 0.32.4): v = momentum * v + gradient, "
    "parameter - learning_rate * v (dampening 0)",
    rmsprop_eps="mlx/optimizers/optimizers.py, RMSprop.apply_single (mlx 0.32.4): parameter - lr * gradient / "
    "(mx.sqrt(v) + eps)",
    adam_eps="mlx/optimizers/optimizers.py, Adam.apply_single with bias_correction=True (mlx 0.32.4; its "
    "default is False): denominator = mx.sqrt(v) * mx.rsqrt(1 - b2**step) + eps",
)
#: Optax has no BN: its layer conventions are Flax's (Flax's layers train with optax).
OPTAX = _optimizers(
    replace(FLAX, name="optax"), ("heavy_ball", "inside", "corrected"),
    momentum_form="optax/transforms/_accumulation.py, trace (optax 0.2.8): g + decay * t; optax.sgd chains it "
    "before scale_by_learning_rate (optax/_src/alias.py)",
    rmsprop_eps="optax/_src/alias.py, rmsprop: eps_in_sqrt=True by default; optax/_src/transform.py, "
    "scale_by_rms: jax.lax.rsqrt(n + eps) (optax 0.2.8)",
    adam_eps="optax/_src/transform.py, scale_by_adam (optax 0.2.8): m / (jnp.sqrt(v + eps_root) + eps), eps_root "
    "0 by default, m and v bias-corrected by 1 - decay**count",
)
FLAX = _optimizers(FLAX, (OPTAX.momentum_form, OPTAX.rmsprop_eps, OPTAX.adam_eps),
                   **{k: f"Flax trains with optax: {OPTAX.sources[k]}" for k in ("momentum_form", "rmsprop_eps",
                                                                                  "adam_eps")})

PROFILES: dict[str, Profile] = {p.name: p for p in (LECTURE, PAPER, TORCH, KERAS, FLAX, ONNX, MLX, TINYGRAD, TF,
                                                    OPTAX)}


def get(name: str) -> Profile:
    """The profile called ``name``; ValueError naming the known ones otherwise."""
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"profile: unknown profile {name!r}; known: {', '.join(PROFILES)}") from None


# -- a profile declared field by field ---------------------------------------------


@dataclass(frozen=True)
class Convention:
    """A field of :class:`Profile` that a target may declare: the values it allows and what it means."""

    name: str
    meaning: str
    choices: tuple[str, ...] = ()  # a closed set (read from the field's Literal type), else ``allowed_text``
    allowed_text: str = ""

    @property
    def allowed(self) -> str:
        """The allowed values as messages and ``bnspec profiles`` show them."""
        return " | ".join(self.choices) if self.choices else self.allowed_text

    def checked(self, value: Any) -> Any:
        """``value`` as the profile holds it (eps a float), or None when it is not allowed.  Types are
        compared exactly, so that a declared object's own ``__eq__`` or ``__float__`` never runs."""
        if self.choices:
            return value if type(value) is str and value in self.choices else None
        if self.name == "eps":
            if type(value) in (int, float) or type(value) in (np.float64, np.float32, np.float16):
                number = float(value)
                return number if 0 < number < math.inf else None
            return None
        if self.name == "refusal":
            raised = getattr(builtins, value, None) if type(value) is str else None
            return value if isinstance(raised, type) and issubclass(raised, Exception) else None
        return value if type(value) is str and value.strip() else None  # feature_axis: documentation


#: The fields a profile mapping may declare, in order: the one home of their allowed values, read by
#: :func:`resolve` and printed by ``bnspec profiles``.  A mapping may also name its ``base`` profile.
CONVENTIONS: dict[str, Convention] = {c.name: c for c in (
    Convention("momentum_weighs", "update_running's momentum weighs the old value (momentum * old + (1 - momentum) "
               "* batch) or the new one ((1 - momentum) * old + momentum * batch)", get_args(MomentumWeighs)),
    Convention("running_var", "the batch variance fed to the running variance: divided by m (biased) or by m - 1 "
               "(unbiased)", get_args(RunningVar)),
    Convention("single_example", "training mode at m = 1: the output is beta (z_norm = 0), or it raises the refusal",
               get_args(SingleExample)),
    Convention("refusal", "with single_example = raises, the exception required at m = 1",
               allowed_text="a builtin exception's name (ValueError, ZeroDivisionError, ...)"),
    Convention("eps", "the framework's default eps (documentation: every call passes its eps)",
               allowed_text="a number > 0"),
    Convention("feature_axis", "where the framework keeps the units (documentation)", allowed_text="any text"),
    Convention("momentum_form", "momentum averages the gradient (v = mu v + (1 - mu) dp, p -= lr v), accumulates "
               "it (heavy_ball: v = mu v + dp, p -= lr v) or keeps the step (velocity: v = mu v - lr dp, p += v)",
               get_args(MomentumForm)),
    Convention("rmsprop_eps", "RMSprop divides by sqrt(s) + eps (outside) or by sqrt(s + eps) (inside)",
               get_args(EpsPlace)),
    Convention("adam_eps", "Adam adds eps to the bias-corrected root sqrt(s_hat) (corrected) or folds the correction "
               "into lr and adds eps to sqrt(s) (uncorrected)", get_args(AdamEps)),
)}
#: The key of a profile mapping that names the profile its undeclared fields come from (default lecture).
BASE = "base"


def _shown(value: Any) -> str:
    """A declared value in a message: its repr when it is a plain builtin, else its type's name (a
    target's own object's ``__repr__`` never runs)."""
    if value is None or type(value) in (str, int, float, bool):
        return f"{value!r:.80}"
    return f"a {type(value).__name__}"


def _spelled(name: str, value: Any) -> str:
    """A field's value in a custom profile's name, as :func:`_parsed` reads it back."""
    return repr(value) if name == "feature_axis" or name == "eps" else str(value)


def _parsed(text: str) -> dict[str, Any] | None:
    """The fields of a custom profile's name, ``custom(momentum_weighs=new, eps=0.001)``, or None
    when ``text`` is not one.  The text is parsed, never evaluated."""
    try:
        call = ast.parse(text.strip(), mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "custom"
            and not call.args):
        return None
    fields: dict[str, Any] = {}
    for keyword in call.keywords:
        if keyword.arg is None or keyword.arg in fields:
            return None
        if isinstance(keyword.value, ast.Name):
            fields[keyword.arg] = keyword.value.id
            continue
        try:
            fields[keyword.arg] = ast.literal_eval(keyword.value)
        except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
            return None
    return fields


def resolve(value: str | Mapping[str, Any], where: str = "profile", *, by: str = "the target") -> Profile:
    """The profile ``value`` names or declares; ValueError (one line, naming the key, the value and
    the values allowed) otherwise.

    - A name: a profile of :data:`PROFILES`, or a custom profile's name as this function gives it
      (``custom(momentum_weighs=new)``), so that a saved run's profile can be given back to it.
    - A mapping of convention fields (:data:`CONVENTIONS`): each declared field takes the declared
      value, each other field the value of the ``base`` profile (a name of :data:`PROFILES`,
      default ``lecture``).  The result is named ``custom(FIELD=VALUE, ...)`` (``base=NAME`` first
      when declared), each declared field's source is "declared by" ``by``; a mapping that declares
      no field is its base profile itself.  ``refusal`` may be declared only where
      ``single_example`` is ``raises``.
    """
    if isinstance(value, str):
        value = str.__str__(value)  # a plain str: a subclass's own __eq__ or __hash__ never runs
        if value in PROFILES:
            return PROFILES[value]
        fields = _parsed(value)
        if fields is None:
            raise ValueError(f"{where}: unknown profile {value!r:.100}; known: {', '.join(PROFILES)} "
                             "(or a mapping of convention fields, see `bnspec profiles`)")
        return resolve(fields, where, by=by)
    if not isinstance(value, Mapping):
        raise ValueError(f"{where}: a profile is a profile's name or a mapping of convention fields, "
                         f"got {_shown(value)}")
    declared: dict[str, Any] = {}
    base_name: str | None = None
    for key, given in value.items():
        if type(key) is str and key == BASE:
            if not (type(given) is str and given in PROFILES):
                raise ValueError(f"{where}: {BASE} = {_shown(given)} is not allowed; {BASE} takes a profile's name: "
                                 f"{' | '.join(PROFILES)}")
            base_name = given
            continue
        if not (type(key) is str and key in CONVENTIONS):
            raise ValueError(f"{where}: {_shown(key)} is not a convention field; the fields are "
                             f"{', '.join(CONVENTIONS)} (and {BASE}, a profile's name)")
        checked = CONVENTIONS[key].checked(given)
        if checked is None:
            raise ValueError(f"{where}: {key} = {_shown(given)} is not allowed; {key} takes "
                             f"{CONVENTIONS[key].allowed}")
        declared[key] = checked
    base = PROFILES[base_name or "lecture"]
    if not declared:
        return base
    single = declared.get("single_example", base.single_example)
    if "refusal" in declared and single != "raises":
        raise ValueError(f"{where}: refusal = {declared['refusal']!r} applies only where single_example is "
                         f"'raises' (here {single!r}); declare single_example = 'raises' too, or no refusal")
    ordered = {name: declared[name] for name in CONVENTIONS if name in declared}
    spelled = [f"{BASE}={base_name}"] if base_name else []
    spelled += [f"{name}={_spelled(name, given)}" for name, given in ordered.items()]
    return replace(base, name=f"custom({', '.join(spelled)})", **ordered,
                   sources={**base.sources, **{name: f"declared by {by}" for name in ordered}})
