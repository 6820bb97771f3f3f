"""Clauses on the reference's own accuracy, against exact arithmetic (the oracle of
``bnspec.spec.oracle``).  "Machine epsilon" is the spacing of float64 numbers at 1,
2^-52 -- not BN's eps, the constant added to the variance."""

from . import clause

_BN = "bnspec.reference.batchnorm."

clause("BN-ACC-1", "MUST", "Forward within one machine epsilon times the condition",
       "The reference's forward differs from the exact result by at most one float64 machine epsilon "
       "(2^-52, not BN's eps) times the condition 1 + |mu| / sqrt(sigma^2 + eps) times the output's "
       "scale |gamma| (1 + |z_norm|) + |beta|.",
       r"|\tilde z - \tilde z_{\mathrm{exact}}| \le \epsilon_{\mathrm{mach}}\,\kappa\,"
       r"(|\gamma|(1 + |z_{\mathrm{norm}}|) + |\beta|),\ \kappa = 1 + \frac{|\mu|}{\sqrt{\sigma^2+\varepsilon}}",
       ("convention",), subject="reference", implements=(_BN + "forward", _BN + "_centered"))
clause("BN-ACC-2", "MUST", "Backward within two machine epsilons times its condition",
       "The reference's dz, dgamma and dbeta differ from the exact gradients by at most two float64 "
       "machine epsilons (2^-52 each, not BN's eps) times the condition 1 + |mu| / sqrt(sigma^2 + eps) "
       "times the magnitude of the terms each gradient sums.",
       r"|dz - dz_{\mathrm{exact}}| \le 2\,\epsilon_{\mathrm{mach}}\,\kappa\,"
       r"\frac{|\gamma|}{\sqrt{\sigma^2+\varepsilon}}"
       r"\big(|g| + (1 + |z_{\mathrm{norm}}|)(\overline{|g|} + \overline{|g\,z_{\mathrm{norm}}|})\big)",
       ("convention",), subject="reference", implements=(_BN + "backward", _BN + "_normalize_backward"))
clause("BN-ACC-3", "MUST", "Running update within two machine epsilons",
       "The reference's running mean and variance after one update differ from the exact values by at "
       "most two float64 machine epsilons (2^-52 each, not BN's eps) times their condition-weighted "
       "magnitude.",
       r"|\sigma^2_{\mathrm{run}} - \sigma^2_{\mathrm{exact}}| \le 2\,\epsilon_{\mathrm{mach}}\big(|\rho\,"
       r"\sigma^2_{\mathrm{old}}| + (1-\rho)(\sigma^2 + \sigma|\mu| + \epsilon_{\mathrm{mach}}\mu^2)\big)",
       ("convention",), subject="reference", implements=(_BN + "update_running",))
