"""Clauses on low-precision inputs: float32, float16 and bfloat16 (for targets that
declare them in ``dtypes``), overflow of float16 sums and negative variances.

They judge accuracy alone (MUST): the values returned, read at their own precision,
against the tolerance of the input's dtype.  The dtype a result comes in is
BN-DTYPE-1's and BN-DTYPE-2's (SHOULDs, in :mod:`.layer`), so a wider, more accurate
result breaks those clauses only, and a narrower one fails these because its values
are not accurate enough.  Each claim comes in two clauses: one on forward's output, one
on backward's gradients (a target with forward alone, an inference engine, is checked
on the first)."""

from . import clause

_BN = "bnspec.reference.batchnorm."
FWD = (_BN + "forward",)
BWD = (_BN + "backward",)

clause("BN-F32-1", "MUST", "float32 within float32's tolerance",
       "With float32 inputs, forward returns values within float32's condition-scaled tolerance of the "
       "exact results for those inputs, in whatever dtype it returns them (a wider one is read at its own "
       "precision; the dtype itself is BN-DTYPE-1's).",
       r"|\tilde z - \tilde z_{\mathrm{exact}}| \le K(m)\, u_{32}\, \kappa\, s",
       ("convention",), implements=FWD)
clause("BN-F32-2", "MUST", "float32 gradients within float32's tolerance",
       "With float32 inputs, backward returns dz, dgamma and dbeta within float32's condition-scaled "
       "tolerance of the exact gradients for those inputs, in whatever dtype it returns them (as BN-F32-1; "
       "the dtype itself is BN-DTYPE-2's).",
       r"|dz - dz_{\mathrm{exact}}| \le K(m)\, u_{32}\, \kappa\, s",
       ("convention",), implements=BWD)
clause("BN-F16-1", "MUST", "float16 accumulated in float32",
       "With float16 inputs (for targets that declare float16), forward returns values within float32's "
       "condition-scaled tolerance plus a few float16 roundings of the exact results: the sums run in "
       "float32. Values only, in whatever dtype (as BN-F32-1).",
       r"|\tilde z - \tilde z_{\mathrm{exact}}| \le K(m)\, u_{32}\, \kappa\, s + 4\, u_{16}\, |\tilde z|",
       ("convention",), implements=FWD + (_BN + "_layer_arguments",))
clause("BN-F16-3", "MUST", "float16 gradients accumulated in float32",
       "With float16 inputs (for targets that declare float16), backward returns dz, dgamma and dbeta "
       "within float32's condition-scaled tolerance plus a few float16 roundings of the exact gradients: "
       "the sums run in float32. Values only, in whatever dtype (as BN-F32-2).",
       r"|dz - dz_{\mathrm{exact}}| \le K(m)\, u_{32}\, \kappa\, s + 4\, u_{16}\, (|dz| + s / m)",
       ("convention",), implements=BWD + (_BN + "_layer_arguments",))
clause("BN-BF16-1", "MUST", "bfloat16 accumulated in float32",
       "With bfloat16 inputs (for targets that declare bfloat16), forward returns values within float32's "
       "condition-scaled tolerance plus a few bfloat16 roundings of the exact results: the sums run in "
       "float32. Values only, in whatever dtype (as BN-F32-1).",
       r"|\tilde z - \tilde z_{\mathrm{exact}}| \le K(m)\, u_{32}\, \kappa\, s + 4\, u_{\mathrm{bf16}}\, |\tilde z|",
       ("convention",), implements=FWD + (_BN + "_layer_arguments",))
clause("BN-BF16-2", "MUST", "bfloat16 gradients accumulated in float32",
       "With bfloat16 inputs (for targets that declare bfloat16), backward returns dz, dgamma and dbeta "
       "within float32's condition-scaled tolerance plus a few bfloat16 roundings of the exact gradients: "
       "the sums run in float32. Values only, in whatever dtype (as BN-F32-2).",
       r"|dz - dz_{\mathrm{exact}}| \le K(m)\, u_{32}\, \kappa\, s + 4\, u_{\mathrm{bf16}}\, (|dz| + s / m)",
       ("convention",), implements=BWD + (_BN + "_layer_arguments",))
clause("BN-F16-2", "MUST", "No float16 overflow in the sums",
       "With float16 inputs whose sum exceeds float16's largest value 65504 (m of 256 to 512 values "
       "near 300 or more), forward still returns finite results within BN-F16-1's tolerance.",
       r"\textstyle\sum_i |z^{(i)}| > 65504 \Rightarrow \tilde z \text{ finite and accurate}",
       ("convention",), implements=FWD)
clause("BN-F16-4", "MUST", "No float16 overflow in the gradients' sums",
       "With the float16 inputs of BN-F16-2 (sums beyond 65504), backward still returns finite dz, dgamma "
       "and dbeta within BN-F16-3's tolerance.",
       r"\textstyle\sum_i |z^{(i)}| > 65504 \Rightarrow dZ, d\gamma, d\beta \text{ finite and accurate}",
       ("convention",), implements=BWD)
clause("BN-VAR-1", "MUST", "The variance is never negative",
       "For units nearly constant far from 0, in every dtype the target declares, forward returns finite "
       "values within the input dtype's tolerance (in whatever dtype, as BN-F32-1): the variance never "
       "comes out negative.",
       r"\sigma^2 \ge 0 \;\Rightarrow\; \sqrt{\sigma^2 + \varepsilon} \in \mathbb{R}", ("convention",),
       implements=(_BN + "_statistics",))
clause("BN-VAR-2", "MUST", "The gradients' variance is never negative",
       "For the units of BN-VAR-1 (nearly constant far from 0), in every dtype the target declares, "
       "backward returns finite dz, dgamma and dbeta within the input dtype's tolerance (in whatever "
       "dtype, as BN-F32-2): the variance it uses never comes out negative.",
       r"\sigma^2 \ge 0 \;\Rightarrow\; dZ, d\gamma, d\beta \text{ finite and accurate}",
       ("convention",), implements=(_BN + "_statistics",))
