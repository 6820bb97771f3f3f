"""Clauses on the running statistics and inference mode (L12, paper Alg. 2)."""

from . import clause

_BN = "bnspec.reference.batchnorm."
RUN = (_BN + "update_running",)
EVAL = (_BN + "forward_eval", _BN + "eval_affine")

clause("BN-SHAPE-3", "MUST", "Running statistics' shapes",
       "update_running returns a running mean and variance of shape n[l] x 1.",
       r"\mu_{\mathrm{run}}, \sigma^2_{\mathrm{run}} \in \mathbb{R}^{n \times 1}", ("L10", "L12"),
       implements=RUN)
clause("BN-SHAPE-4", "MUST", "Inference output shape",
       "forward_eval returns an array of z's shape n[l] x m.",
       r"\tilde Z \in \mathbb{R}^{n \times m}", ("L12",), implements=EVAL)
clause("BN-RUN-1", "MUST", "Exponentially weighted averages",
       "One update gives momentum * old + (1 - momentum) * the mini-batch's mean and variance "
       "(as the profile fixes the momentum's meaning and the variance's estimator).",
       r"\mu_{\mathrm{run}} \leftarrow \rho\,\mu_{\mathrm{run}} + (1-\rho)\,\mu_{\mathcal B},\ "
       r"\sigma^2_{\mathrm{run}} \leftarrow \rho\,\sigma^2_{\mathrm{run}} + (1-\rho)\,\sigma^2_{\mathcal B}",
       ("L12", "paper Alg. 2"), implements=RUN)
clause("BN-RUN-2", "MUST", "Running statistics converge",
       "Feeding one mini-batch repeatedly drives the running statistics to its own, after which "
       "inference on it equals training mode.",
       r"\lim_{k\to\infty} \mu_{\mathrm{run}} = \mu_{\mathcal B} \;\Rightarrow\; "
       r"\mathrm{BN}_{\mathrm{eval}}(Z) = \mathrm{BN}(Z)", ("L12", "paper Alg. 2"),
       implements=RUN + EVAL)
clause("BN-EVAL-1", "MUST", "Inference uses the running estimates",
       "forward_eval gives gamma * (z - running_mean) / sqrt(running_var + eps) + beta.",
       r"\tilde z = \gamma\,\frac{z - \mu_{\mathrm{run}}}{\sqrt{\sigma^2_{\mathrm{run}} + \varepsilon}} + \beta",
       ("L12", "paper Alg. 2"), implements=EVAL)
clause("BN-EVAL-2", "MUST", "Inference is per example",
       "In inference each example's output depends on that example alone (m = 1 included).",
       r"\mathrm{BN}_{\mathrm{eval}}(Z)_{:,i} = \mathrm{BN}_{\mathrm{eval}}(Z_{:,i})", ("L12",),
       implements=EVAL)
clause("BN-EVAL-3", "MUST", "Inference folds into W",
       "Inference BN after Z = W A equals the dense layer W' = diag(gamma / sqrt(var + eps)) W, "
       "b' = beta - gamma * mean / sqrt(var + eps).",
       r"\mathrm{BN}_{\mathrm{eval}}(WA) = W'A + b'", ("paper Alg. 2", "convention"),
       implements=(_BN + "fold_into_dense",))
