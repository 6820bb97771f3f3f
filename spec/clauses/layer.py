"""Clauses on the BN layer in training mode: shapes, normalization, invariances,
locality, gradients, degenerate inputs and purity."""

from . import clause

_BN = "bnspec.reference.batchnorm."
FWD = (_BN + "forward",)
BWD = (_BN + "backward",)
STATS = (_BN + "batch_statistics",)

clause("BN-SHAPE-1", "MUST", "Output shape",
       "forward returns an array of z's shape n[l] x m.",
       r"\tilde Z^{[l]} \in \mathbb{R}^{n^{[l]} \times m}", ("L1", "L10"), implements=FWD)
clause("BN-SHAPE-2", "MUST", "Gradient shapes",
       "backward returns dz of z's shape and dgamma, dbeta of gamma's shape n[l] x 1.",
       r"dZ \in \mathbb{R}^{n \times m},\; d\gamma, d\beta \in \mathbb{R}^{n \times 1}",
       ("L10", "L11"), implements=BWD)
clause("BN-DTYPE-1", "SHOULD", "Dtype preserved",
       "In every dtype the target declares (default float64 and float32), forward returns its output "
       "in the input's dtype: float32 in, float32 out. With BN-DTYPE-2 (backward's), the only clauses "
       "on the dtype, and a SHOULD: a wider result (float64 for float32 input) is not less accurate, and "
       "the accuracy clauses (BN-F32-1, BN-F16-1, BN-BF16-1, BN-VAR-1) judge its values alone.",
       r"\mathrm{dtype}(\tilde Z) = \mathrm{dtype}(Z)", ("convention",),
       implements=FWD)
clause("BN-DTYPE-2", "SHOULD", "Gradients' dtype preserved",
       "In every dtype the target declares (default float64 and float32), backward returns dz, dgamma "
       "and dbeta in the input's dtype. A SHOULD, as BN-DTYPE-1: the accuracy clauses of the gradients "
       "(BN-F32-2, BN-F16-3, BN-BF16-2, BN-VAR-2) judge their values alone.",
       r"\mathrm{dtype}(dZ) = \mathrm{dtype}(d\gamma) = \mathrm{dtype}(d\beta) = \mathrm{dtype}(Z)",
       ("convention",), implements=BWD)
clause("BN-NORM-1", "MUST", "Zero mean",
       "With gamma = 1 and beta = 0, each unit's output has mean 0 over the mini-batch.",
       r"\frac{1}{m}\sum_{i=1}^{m} z_{\mathrm{norm}}^{(i)} = 0", ("L9", "L6"), implements=FWD + STATS)
clause("BN-NORM-2", "MUST", "Unit variance, eps inside the root",
       "With gamma = 1 and beta = 0, each unit's output has (biased) variance "
       "sigma^2 / (sigma^2 + eps) over the mini-batch.",
       r"\frac{1}{m}\sum_{i} \big(z_{\mathrm{norm}}^{(i)}\big)^2 = \frac{\sigma^2}{\sigma^2+\varepsilon}",
       ("L9", "paper Alg. 1"), implements=FWD + STATS)
clause("BN-AFFINE-1", "MUST", "Scale and shift",
       "The output is gamma * z_norm + beta, where z_norm is the output with gamma = 1, beta = 0.",
       r"\tilde z^{(i)} = \gamma\, z_{\mathrm{norm}}^{(i)} + \beta", ("L8", "paper Alg. 1"),
       implements=(_BN + "_affine",))
clause("BN-AFFINE-2", "MUST", "BN can be the identity",
       "With gamma = sqrt(sigma^2 + eps) and beta = mu, the output equals z.",
       r"\gamma = \sqrt{\sigma^2+\varepsilon},\ \beta = \mu \;\Rightarrow\; \tilde z = z",
       ("L9", "paper §3"), implements=FWD)
clause("BN-AFFINE-3", "MUST", "beta sets the mean, gamma the spread",
       "Each unit's output has mean beta and standard deviation |gamma| sqrt(sigma^2 / (sigma^2 + eps)) "
       "over the mini-batch.",
       r"\operatorname{mean}(\tilde z) = \beta,\ \operatorname{std}(\tilde z) = "
       r"|\gamma|\sqrt{\sigma^2/(\sigma^2+\varepsilon)}", ("L8", "L9"), implements=FWD)
clause("BN-FWD-REF", "MUST", "Forward agrees with the reference",
       "forward agrees with the reference's forward within the condition-scaled tolerance, at "
       "offsets far from 0, tiny and large eps, and negative or zero gamma.",
       r"|\tilde z - \mathrm{BN}_{\mathrm{ref}}(z)| \le K u\, \kappa", ("paper Alg. 1",),
       implements=FWD)
clause("BN-INV-1", "MUST", "The bias cancels",
       "Adding any b[l] to every example of the mini-batch leaves the output unchanged.",
       r"\mathrm{BN}(Z + b\,\mathbf{1}^\top) = \mathrm{BN}(Z)", ("L7",), implements=FWD)
clause("BN-INV-2", "MUST", "The bias cancels in the gradients",
       "Adding any b[l] to every example leaves dz, dgamma and dbeta unchanged.",
       r"\nabla \mathrm{BN}(Z + b\,\mathbf{1}^\top) = \nabla \mathrm{BN}(Z)", ("L7",), implements=BWD)
clause("BN-INV-3", "MUST", "Scale invariance",
       "For c > 0, BN with eps of c Z equals BN with eps / c^2 of Z.",
       r"\mathrm{BN}_{\varepsilon}(cZ) = \mathrm{BN}_{\varepsilon/c^2}(Z)", ("paper §3.3",),
       implements=FWD)
clause("BN-INV-4", "MUST", "Gradient scales by 1/c",
       "For c > 0, dz at (c Z, c^2 eps) equals dz at (Z, eps) divided by c; dgamma and dbeta are equal.",
       r"\frac{\partial\, \mathrm{BN}_{c^2\varepsilon}(cZ)}{\partial (cZ)} = "
       r"\frac{1}{c}\frac{\partial\, \mathrm{BN}_{\varepsilon}(Z)}{\partial Z}",
       ("paper §3.3",), implements=BWD)
clause("BN-LOC-1", "MUST", "Units are independent",
       "Changing the values of one unit leaves the output of every other unit unchanged.",
       r"\partial \tilde z_j / \partial z_k = 0 \quad (j \ne k)", ("L10", "L6"), implements=FWD)
clause("BN-LOC-4", "MUST", "Units are independent in the gradients",
       "Changing the values of one unit leaves dz of every other unit unchanged (the same upstream "
       "gradient).",
       r"\partial\, dz_j / \partial z_k = 0 \quad (j \ne k)", ("L10", "L6"), implements=BWD)
clause("BN-LOC-2", "MUST", "Examples are exchangeable",
       "Permuting the examples of the mini-batch permutes the output the same way.",
       r"\mathrm{BN}(Z P) = \mathrm{BN}(Z)\,P", ("L6",), implements=FWD)
clause("BN-LOC-5", "MUST", "Examples are exchangeable in the gradients",
       "Permuting the examples of the mini-batch and of the upstream gradient alike permutes dz the "
       "same way and leaves dgamma and dbeta unchanged.",
       r"dZ(Z P;\, G P) = dZ(Z;\, G)\,P,\ \ d\gamma, d\beta \text{ unchanged}",
       ("L6",), implements=BWD)
clause("BN-LOC-3", "MUST", "This mini-batch alone",
       "The output for a mini-batch depends on that mini-batch alone: not on earlier calls, other "
       "mini-batches or running statistics.",
       r"\tilde Z\{t\} = \mathrm{BN}(Z\{t\};\, \mu\{t\}, \sigma^2\{t\})", ("L6",),
       implements=FWD)
clause("BN-GRAD-1", "MUST", "dz is the gradient",
       "dz agrees with central finite differences of sum(grad * forward) along random directions, "
       "under a random upstream gradient.",
       r"\langle dZ, V\rangle = \tfrac{d}{dt}\textstyle\sum G \odot \mathrm{BN}(Z + tV)\big|_{t=0}",
       ("paper §3",), implements=BWD + (_BN + "_normalize_backward",))
clause("BN-GRAD-2", "MUST", "dgamma is the gradient",
       "dgamma agrees with finite differences of sum(grad * forward) in gamma.",
       r"\langle d\gamma, w\rangle = \tfrac{d}{dt}\textstyle\sum G \odot \mathrm{BN}(Z; \gamma + tw)",
       ("paper §3",), implements=BWD + (_BN + "_affine_backward",))
clause("BN-GRAD-3", "MUST", "dbeta is the gradient",
       "dbeta agrees with finite differences of sum(grad * forward) in beta.",
       r"\langle d\beta, w\rangle = \tfrac{d}{dt}\textstyle\sum G \odot \mathrm{BN}(Z; \beta + tw)",
       ("paper §3",), implements=BWD + (_BN + "_affine_backward",))
clause("BN-GRAD-4", "MUST", "dbeta sums the upstream gradient",
       "dbeta equals the sum of grad over the examples of each unit.",
       r"d\beta = \textstyle\sum_{i=1}^{m} g^{(i)}", ("paper §3",), implements=(_BN + "_affine_backward",))
clause("BN-GRAD-5", "MUST", "dgamma weighs it by z_norm",
       "dgamma equals the sum of grad * z_norm over the examples of each unit.",
       r"d\gamma = \textstyle\sum_{i=1}^{m} g^{(i)} z_{\mathrm{norm}}^{(i)}", ("paper §3",),
       implements=(_BN + "_affine_backward",))
clause("BN-GRAD-6", "MUST", "dz sums to zero",
       "For each unit, dz sums to 0 over the mini-batch (the mean's term).",
       r"\textstyle\sum_{i=1}^{m} dz^{(i)} = 0", ("L7", "paper §3"),
       implements=(_BN + "_normalize_backward",))
clause("BN-GRAD-7", "MUST", "dz against z_norm (the variance's term)",
       "For each unit, the sum of dz * z_norm over the mini-batch equals "
       "gamma * eps / (sigma^2 + eps)^(3/2) * sum(grad * z_norm), which is 0 when eps = 0.",
       r"\textstyle\sum_{i} dz^{(i)} z_{\mathrm{norm}}^{(i)} = "
       r"\frac{\gamma\,\varepsilon}{(\sigma^2+\varepsilon)^{3/2}} \sum_{i} g^{(i)} z_{\mathrm{norm}}^{(i)}",
       ("paper §3",), implements=(_BN + "_normalize_backward",))
clause("BN-GRAD-REF", "MUST", "Backward agrees with the reference",
       "dz, dgamma and dbeta agree with the reference's backward within the condition-scaled "
       "tolerance, at offsets far from 0.",
       r"|dZ - dZ_{\mathrm{ref}}| \le K u\, \kappa\, |\gamma| \|G\| / \sigma", ("paper §3",),
       implements=BWD)
clause("BN-DEG-1", "MUST", "A constant unit",
       "A unit constant over the mini-batch gives z_norm = 0: its output is beta.",
       r"\sigma^2 = 0 \Rightarrow \tilde z = \beta", ("convention",), implements=FWD)
clause("BN-DEG-3", "MUST", "The gradients of a constant unit",
       "With a unit constant over the mini-batch, backward returns finite dz, dgamma and dbeta equal to "
       "the reference's: for that unit dz = gamma (grad - mean(grad)) / sqrt(eps) and dgamma = 0.",
       r"\sigma^2 = 0 \Rightarrow dz^{(i)} = \frac{\gamma}{\sqrt{\varepsilon}}\big(g^{(i)} - \bar g\big),\ "
       r"d\gamma = 0", ("convention",), implements=BWD)
clause("BN-DEG-2", "MUST", "One example (m = 1)",
       "With m = 1 the lecture's formulas give sigma^2 = 0: the output is beta (profiles may require "
       "a ValueError instead).",
       r"m = 1 \Rightarrow \tilde z = \beta", ("L6", "convention"), implements=FWD)
clause("BN-DEG-4", "MUST", "The gradients at one example (m = 1)",
       "With m = 1 the lecture's formulas give sigma^2 = 0: backward returns dz = 0, dgamma = 0 and "
       "dbeta = grad (profiles may require a ValueError instead).",
       r"m = 1 \Rightarrow dz = 0,\ d\gamma = 0,\ d\beta = g", ("L6", "convention"), implements=BWD)
clause("BN-PURE-1", "MUST", "Inputs untouched",
       "No protocol function modifies any of its input arrays, with one exception: an implementation that declares "
       "running_update = 'in_place' may have update_running write the running mean and variance it returns, bit for "
       "bit, into the running_mean and running_var it was given.",
       r"Z, \gamma, \beta, G, \mu_{\mathrm{run}}, \sigma^2_{\mathrm{run}} \text{ unchanged}",
       ("convention",), implements=FWD + BWD)
clause("BN-PURE-2", "SHOULD", "Deterministic",
       "Calling a protocol function twice with the same inputs gives bit-identical results.",
       r"f(x) \equiv f(x)", ("convention",), implements=FWD + BWD)
