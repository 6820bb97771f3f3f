"""Clauses on the variants frameworks ship, and on the inputs a batch norm must refuse.

The variants are optional protocol functions and declarations
(:class:`bnspec.spec.protocol.Declaration`): frozen BN's gradients
(``backward_eval``), no gamma and beta (``affine = False``), inference with the
batch's statistics (``eval_statistics = "batch"``), the cumulative average of
the batch statistics (``update_cumulative``, ``cumulative_average = True``) and
mixed precision (``mixed_precision``).  A clause about a declaration is n/a for
a target that does not make it; which clauses a declaration takes out, and why,
is :mod:`bnspec.spec.properties.variants`' table.

The edge cases are SHOULDs: what forward, backward and update_running do with
an empty mini-batch (m = 0), and the invalid inputs forward must refuse with an
exception rather than return a result (eps <= 0, a gamma or beta of the wrong
shape, z of the wrong rank, a NaN or an infinity in z)."""

from . import clause

_BN = "bnspec.reference.batchnorm."
_ARG = "bnspec.reference.arguments."
FROZEN = (_BN + "backward_eval",)

clause("BN-FROZEN-1", "MUST", "Frozen BN's gradients",
       "backward_eval returns dz = gamma / sqrt(running_var + eps) * grad, dgamma = the sum over the examples "
       "of grad * (z - running_mean) / sqrt(running_var + eps) and dbeta = the sum of grad, within the "
       "condition-scaled tolerance (m = 1 included); for a target that declares affine = False, dz alone.",
       r"dz = \frac{\gamma}{\sqrt{\sigma^2_{\mathrm{run}}+\varepsilon}}\, g,\ "
       r"d\gamma = \sum_i g^{(i)} \frac{z^{(i)} - \mu_{\mathrm{run}}}{\sqrt{\sigma^2_{\mathrm{run}}+\varepsilon}},\ "
       r"d\beta = \sum_i g^{(i)}", ("L12", "paper Alg. 2"), implements=FROZEN)
clause("BN-FROZEN-2", "MUST", "Frozen BN's gradients are forward_eval's",
       "backward_eval's dz, dgamma and dbeta agree with central finite differences of sum(grad * forward_eval) "
       "along random directions in z, gamma and beta (in z alone for a target that declares affine = False).",
       r"\langle dZ, V\rangle = \tfrac{d}{dt} \textstyle\sum G \odot \mathrm{BN}_{\mathrm{eval}}(Z + tV)",
       ("L11", "L12"), implements=FROZEN + (_BN + "_normalize_eval_backward",))
clause("BN-NOAFFINE-1", "MUST", "Without gamma and beta, dz is still the reference's",
       "For a target that declares affine = False (bnspec passes it gamma = 1 and beta = 0), backward's dz agrees "
       "with the reference's at gamma = 1, beta = 0 within the condition-scaled tolerance; dgamma and dbeta "
       "are not judged.",
       r"dZ = dZ_{\mathrm{ref}}\big|_{\gamma = 1,\ \beta = 0}", ("convention",), implements=(_BN + "backward",))
clause("BN-NORUN-1", "MUST", "Inference with the batch's statistics",
       "For a target that declares eval_statistics = 'batch', forward_eval(z, gamma, beta, running_mean, "
       "running_var, eps) equals forward(z, gamma, beta, eps) within the pair tolerance, for two different "
       "running statistics passed (m >= 2).",
       r"\mathrm{BN}_{\mathrm{eval}}(Z; \mu_{\mathrm{run}}, \sigma^2_{\mathrm{run}}) = \mathrm{BN}(Z)",
       ("convention",), implements=(_BN + "forward",))
clause("BN-NORUN-2", "MUST", "Frozen gradients with the batch's statistics",
       "For a target that declares eval_statistics = 'batch', backward_eval returns backward's dz, dgamma and "
       "dbeta (dz alone under affine = False) within the pair tolerance, for two different running statistics "
       "passed (m >= 2).",
       r"\nabla \mathrm{BN}_{\mathrm{eval}}(Z; \mu_{\mathrm{run}}, \sigma^2_{\mathrm{run}}) = \nabla \mathrm{BN}(Z)",
       ("convention",), implements=(_BN + "backward",))
clause("BN-CUM-1", "MUST", "The cumulative average",
       "update_cumulative(running_mean, running_var, z, num_batches) gives old + (batch statistic - old) / "
       "(num_batches + 1) for the mean and the variance (the profile's estimator): from num_batches = 0, k "
       "updates (k up to 5) give the mean of the k mini-batches' statistics, and one update at a num_batches "
       "up to 10^6 weighs its mini-batch by 1 / (num_batches + 1).",
       r"\mu_{\mathrm{run}} \leftarrow \mu_{\mathrm{run}} + \frac{\mu_{\mathcal B} - \mu_{\mathrm{run}}}{k + 1}",
       ("convention",), implements=(_BN + "update_cumulative",))
clause("BN-CUM-2", "MUST", "update_running without a momentum",
       "For a target that declares cumulative_average = True, update_running returns the mini-batch's mean "
       "and variance (the profile's estimator) whatever running statistics and momentum it is passed: the "
       "cumulative average's first step, the only one a call that carries no count of batches can make (the "
       "average itself is update_cumulative's, BN-CUM-1).",
       r"\mu_{\mathrm{run}} \leftarrow \mu_{\mathcal B},\ \sigma^2_{\mathrm{run}} \leftarrow \sigma^2_{\mathcal B}",
       ("convention",), implements=(_BN + "update_cumulative",))
clause("BN-MIXED-1", "MUST", "Mixed precision: forward",
       "With z in a dtype the target declares in mixed_precision (float16, bfloat16) and gamma, beta in "
       "float32, forward returns values within float32's condition-scaled tolerance plus a few roundings of "
       "z's dtype of the exact results for those values (BN-F16-1's tolerance), in whatever dtype.",
       r"|\tilde z - \tilde z_{\mathrm{exact}}| \le K(m)\, u_{32}\, \kappa\, s + 4\, u_{z}\, (|\tilde z| + |\gamma|)",
       ("convention",), implements=(_BN + "_layer_arguments",))
clause("BN-MIXED-2", "MUST", "Mixed precision: inference",
       "With z in a dtype the target declares in mixed_precision and gamma, beta, running_mean, running_var in "
       "float32, forward_eval returns values within float32's tolerance plus a few roundings of z's dtype of "
       "gamma * (z - running_mean) / sqrt(running_var + eps) + beta for those values (m = 1 included), in "
       "whatever dtype.",
       r"|\tilde z - \tilde z_{\mathrm{exact}}| \le K\, u_{32}\, s + 4\, u_{z}\, (|\tilde z| + |\gamma|)",
       ("convention",), implements=(_BN + "forward_eval",))
clause("BN-EMPTY-1", "SHOULD", "An empty mini-batch: forward",
       "With m = 0 (z with no example: n x 0, N = 0 in a channel layout), forward raises an exception or "
       "returns an empty array of z's shape, as PyTorch does.",
       r"m = 0 \Rightarrow \tilde Z \in \mathbb{R}^{n \times 0} \text{ or an exception}", ("convention",),
       implements=(_ARG + "matrix",))
clause("BN-EMPTY-2", "SHOULD", "An empty mini-batch: backward",
       "With m = 0, backward raises an exception or returns dz of z's shape and dgamma = dbeta = 0, the sums "
       "over no example, as PyTorch does (dz alone for a target that declares affine = False).",
       r"m = 0 \Rightarrow d\gamma = d\beta = 0 \text{ or an exception}", ("convention",),
       implements=(_ARG + "matrix",))
clause("BN-EMPTY-3", "SHOULD", "An empty mini-batch leaves the running statistics",
       "With m = 0, update_running raises an exception or returns the running mean and variance it was given, "
       "unchanged (as PyTorch does): the mean of no value is undefined, and a NaN must never reach the running "
       "statistics.",
       r"m = 0 \Rightarrow \mu_{\mathrm{run}}, \sigma^2_{\mathrm{run}} \text{ unchanged or an exception}",
       ("convention",), implements=(_ARG + "matrix",))
clause("BN-INPUT-1", "SHOULD", "eps <= 0 is refused",
       "forward with eps = 0 or a negative eps raises an exception rather than returning a result: eps > 0 is "
       "what keeps sigma^2 + eps positive.",
       r"\varepsilon \le 0 \Rightarrow \text{an exception}", ("paper Alg. 1", "convention"),
       implements=(_ARG + "positive",))
clause("BN-INPUT-2", "SHOULD", "gamma or beta of the wrong shape is refused",
       "forward with a gamma, or a beta, of n + 1 entries for z of n units raises an exception rather than "
       "returning a result (broadcasting would make one up); n/a for a target that declares affine = False.",
       r"\gamma \in \mathbb{R}^{(n+1)\times 1} \Rightarrow \text{an exception}", ("L10", "convention"),
       implements=(_ARG + "column",))
clause("BN-INPUT-3", "SHOULD", "z of the wrong rank is refused",
       "forward with z of a rank its layout and spatial_dims do not accept raises an exception rather than "
       "returning a result: a 1-D z; in the two-dimensional layouts, z with a leading axis of one (3-D); in "
       "the channel layouts, z of each rank 2 + k for a spatial rank k (0 to 3) not declared in spatial_dims.",
       r"\operatorname{rank}(Z) \notin \text{the declared ranks} \Rightarrow \text{an exception}",
       ("L10", "convention"), implements=(_ARG + "matrix",))
clause("BN-INPUT-4", "SHOULD", "A NaN or an infinity in z",
       "forward with a NaN or an infinity in z raises an exception, or returns an output in which the unit "
       "holding it has no finite entry: a NaN may propagate, but a finite number made from it is wrong (the "
       "other units are not judged).",
       r"z^{(i)}_j \notin \mathbb{R} \Rightarrow \tilde z_j \notin \mathbb{R} \text{ or an exception}",
       ("convention",), implements=(_ARG + "matrix",))
