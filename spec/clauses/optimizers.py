"""Clauses on the optimizers that learn W, gamma and beta (L3, L4, L11): the optimizer protocol.

A target of kind ``optimizer`` has any of ``gd``, ``momentum``, ``rmsprop`` and
``adam`` (:data:`bnspec.spec.protocol.OPTIMIZER`).  The one-step and trajectory
clauses hold it to its profile's form of each optimizer (the lecture's by default,
:mod:`bnspec.spec.optimizer_forms`); the other clauses hold in every form.
"""

from . import clause

_OPT = "bnspec.reference.optimizers."
_FORMS = "bnspec.spec.optimizer_forms."


def _optimizer(id: str, level: str, title: str, statement: str, formula: str, sources: tuple[str, ...],
               implements: tuple[str, ...], subject: str = "optimizer") -> None:
    clause(id, level, title, statement, formula, sources, subject=subject, implements=implements, kind="optimizer")


_optimizer("OPT-GD-1", "MUST", "One step of gradient descent",
           "gd(p, dp, lr) returns p - lr dp, elementwise, for p of any shape.",
           r"p_{\text{new}} = p - \alpha\, dp", ("L4", "L11"), (_OPT + "gd",))
_optimizer("OPT-MOM-1", "MUST", "One step of momentum",
           "momentum(p, dp, v, lr, momentum) returns the new p and v of the profile's form: the lecture's "
           "average v_new = momentum v + (1 - momentum) dp, p_new = p - lr v_new; PyTorch's and optax's heavy "
           "ball v_new = momentum v + dp; Keras' velocity v_new = momentum v - lr dp, p_new = p + v_new.  At "
           "momentum = 0 v_new is not judged: no step then reads v, and PyTorch and MLX keep no buffer.",
           r"v_{\text{new}} = \mu v + (1-\mu)\, dp,\quad p_{\text{new}} = p - \alpha v_{\text{new}}",
           ("L3", "L4", "convention"), (_OPT + "momentum", _FORMS + "momentum"))
_optimizer("OPT-MOM-2", "MUST", "Momentum over several steps",
           "k steps of momentum from a drawn p and v, each fed the p and v the previous step returned, end where "
           "k steps of the profile's form do.",
           r"(p_k, v_k) = \mathrm{momentum}^{\circ k}(p_0, v_0)", ("L4", "L11"),
           (_OPT + "Momentum", _FORMS + "momentum"))
_optimizer("OPT-MOM-3", "MUST", "Averaged momentum is heavy ball with a smaller step",
           "From v = 0, k steps of the averaged form with learning rate lr take p where k steps of the heavy-ball "
           "form take it with learning rate lr (1 - momentum), and the converse: the target's k steps match the "
           "other form's with the learning rate converted.",
           r"v^{\text{avg}}_k = (1-\mu)\, v^{\text{hb}}_k \Rightarrow p_k(\alpha) = p^{\text{hb}}_k((1-\mu)\alpha)",
           ("L3", "L4", "convention"), (_FORMS + "momentum",))
_optimizer("OPT-RMS-1", "MUST", "One step of RMSprop",
           "rmsprop(p, dp, s, lr, rho, eps) returns s_new = rho s + (1 - rho) dp^2 and p_new = p - lr dp / "
           "(sqrt(s_new) + eps) (eps outside the root: the lecture, PyTorch), or p - lr dp / sqrt(s_new + eps) "
           "under a profile that puts eps inside (Keras, optax).",
           r"s_{\text{new}} = \rho s + (1-\rho)\, dp^2,\quad p_{\text{new}} = p - \alpha\,"
           r"\frac{dp}{\sqrt{s_{\text{new}}} + \varepsilon}", ("L3", "L4", "convention"),
           (_OPT + "rmsprop", _FORMS + "rmsprop"))
_optimizer("OPT-RMS-2", "MUST", "RMSprop over several steps",
           "k steps of RMSprop from a drawn p and s, each fed the p and s the previous step returned, end where "
           "k steps of the profile's form do.",
           r"(p_k, s_k) = \mathrm{rmsprop}^{\circ k}(p_0, s_0)", ("L4", "L11"),
           (_OPT + "RMSprop", _FORMS + "rmsprop"))
_optimizer("OPT-RMS-3", "MUST", "RMSprop does not see the gradient's scale",
           "Multiplying dp by c > 0, s by c^2 and eps by c (by c^2 where eps is inside the root) leaves p_new "
           "unchanged and multiplies s_new by c^2: the step is lr dp / |dp| in scale.",
           r"\mathrm{rmsprop}(p, c\,dp, c^2 s, \alpha, \rho, c\,\varepsilon) = (p_{\text{new}}, c^2 s_{\text{new}})",
           ("L4", "Tieleman & Hinton 2012"), (_OPT + "rmsprop",))
_optimizer("OPT-ADAM-1", "MUST", "One step of Adam",
           "adam(p, dp, v, s, t, lr, beta1, beta2, eps) returns v_new = beta1 v + (1 - beta1) dp, s_new = beta2 s "
           "+ (1 - beta2) dp^2 and p_new = p - lr v_hat / (sqrt(s_hat) + eps) with v_hat = v_new / (1 - beta1^t), "
           "s_hat = s_new / (1 - beta2^t); under a profile that folds the correction into lr (Keras), p_new = p - "
           "lr sqrt(1 - beta2^t) / (1 - beta1^t) v_new / (sqrt(s_new) + eps).",
           r"p_{\text{new}} = p - \alpha\,\frac{\hat v}{\sqrt{\hat s} + \varepsilon},\ "
           r"\hat v = \frac{v_{\text{new}}}{1-\beta_1^t},\ \hat s = \frac{s_{\text{new}}}{1-\beta_2^t}",
           ("L3", "L4", "Kingma & Ba 2015 Alg. 1", "convention"), (_OPT + "adam", _FORMS + "adam"))
_optimizer("OPT-ADAM-2", "MUST", "Adam over several steps",
           "k steps of Adam from t = 1 and a drawn p, v and s, each fed the p, v and s the previous step returned "
           "and the next t, end where k steps of the profile's form do.",
           r"(p_k, v_k, s_k) = \mathrm{adam}^{\circ k}(p_0, v_0, s_0),\ t = 1, \dots, k", ("L4", "L11"),
           (_OPT + "Adam", _FORMS + "adam"))
_optimizer("OPT-ADAM-3", "MUST", "Adam's first step is lr, whatever the gradient's scale",
           "From v = s = 0 at t = 1, each coordinate with |dp| far above eps moves by lr, within lr times a "
           "thousandth, for gradients from 1e-2 to 1e3: the bias correction undoes the averages' start at 0.",
           r"|p_1 - p_0| = \alpha\,\frac{|dp|}{|dp| + \varepsilon'} \approx \alpha",
           ("Kingma & Ba 2015 §2.1, §3",), (_OPT + "adam",))
_optimizer("OPT-ADAM-4", "MUST", "Adam does not see the gradient's scale",
           "Multiplying dp and v by c > 0, s by c^2 and eps by c leaves p_new unchanged and multiplies v_new by c "
           "and s_new by c^2.",
           r"\mathrm{adam}(p, c\,dp, c v, c^2 s, t, \dots, c\,\varepsilon) = (p_{\text{new}}, c\, v_{\text{new}}, "
           r"c^2 s_{\text{new}})", ("Kingma & Ba 2015 §2.1",), (_OPT + "adam",))
_optimizer("OPT-ZERO-1", "MUST", "No gradient, no step",
           "From zero state (v = s = 0), a zero gradient leaves p unchanged and the state zero, with every "
           "optimizer the target has, at any t.",
           r"dp = 0,\ v = s = 0 \Rightarrow p_{\text{new}} = p,\ v_{\text{new}} = s_{\text{new}} = 0", ("L4",),
           (_OPT + "gd", _OPT + "momentum", _OPT + "rmsprop", _OPT + "adam"))
_optimizer("OPT-DTYPE-1", "MUST", "The parameter's shape and dtype are kept",
           "Every result of every optimizer the target has is a new array of p's shape (0-d included) and p's "
           "dtype: float32 in, float32 out; float64 in, float64 out.",
           r"\mathrm{dtype}(p_{\text{new}}) = \mathrm{dtype}(p)", ("L10", "convention"),
           (_OPT + "gd", _OPT + "adam"))
_optimizer("OPT-PURE-1", "MUST", "Optimizer steps are pure",
           "No optimizer function modifies its arguments: p, dp and the state hold the same values after the "
           "call, and calling it again on the same inputs gives the same results.",
           r"f(x) \text{ leaves } x \text{ unchanged}", ("convention",), (_OPT + "gd", _OPT + "adam"))
_optimizer("OPT-INPUT-1", "SHOULD", "Bad hyperparameters are refused",
           "Each optimizer function raises an exception, rather than returning a result, for lr < 0, a decay "
           "(momentum, rho, beta1, beta2) outside [0, 1), eps < 0, or t < 1.",
           r"\alpha \ge 0,\ \mu, \rho, \beta_1, \beta_2 \in [0, 1),\ t \ge 1", ("convention",),
           (_OPT + "_decay", "bnspec.reference.arguments.positive"))
_optimizer("OPT-NET-1", "MUST", "Training the BN network with the target's optimizer",
           "k training steps of the lecture's network with BN, every parameter -- W[l], b[l], gamma[l] and "
           "beta[l] -- updated by the target's optimizer with its own state, give the parameters k steps of the "
           "profile's form give from the same initial parameters and gradients.",
           r"\theta_k = \mathrm{opt}^{\circ k}(\theta_0),\ \theta \ni W^{[l]}, b^{[l]}, \gamma^{[l]}, \beta^{[l]}",
           ("L2", "L4", "L11"), ("bnspec.reference.training.train", _OPT + "Adam"), subject="network")
