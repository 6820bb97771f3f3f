"""The diagnoses' stable vocabulary: each id, what it means and what to change.

An id names a known bug or a convention (the JSON report's ``diagnoses`` and
``root_causes`` carry these strings; ``docs/diagnosis.md`` lists them).  Ids
are never renamed or reused: a new bug gets a new id.
"""

from __future__ import annotations

from enum import StrEnum


class BugId(StrEnum):
    """A known bug or convention of a batch-norm implementation."""

    EPS_OUTSIDE_SQRT = "eps-outside-sqrt"
    EPS_IGNORED = "eps-ignored"
    UNBIASED_VARIANCE = "unbiased-variance"
    ONE_PASS_VARIANCE = "one-pass-variance"
    LOW_PRECISION_ACCUMULATION = "low-precision-accumulation"
    WRONG_AXIS = "wrong-axis"
    PER_POSITION_STATISTICS = "per-position-statistics"
    PER_SAMPLE_STATISTICS = "per-sample-statistics"
    NO_CENTERING = "no-centering"
    GAMMA_BETA_MISUSED = "gamma-beta-misused"
    NAN_ON_DEGENERATE_INPUT = "nan-on-degenerate-input"
    TRAINING_USES_RUNNING_STATISTICS = "training-uses-running-statistics"
    DZ_MISSING_MEAN_TERM = "dz-missing-mean-term"
    DZ_MISSING_VARIANCE_TERM = "dz-missing-variance-term"
    DZ_STATISTICS_DETACHED = "dz-statistics-detached"
    PARAMETER_GRADIENTS_WRONG = "parameter-gradients-wrong"
    BACKWARD_NOT_GRADIENT_OF_FORWARD = "backward-not-gradient-of-forward"
    MOMENTUM_WEIGHS_NEW = "momentum-weighs-new"
    MOMENTUM_WEIGHS_OLD = "momentum-weighs-old"
    RUNNING_VAR_UNBIASED = "running-var-unbiased"
    RUNNING_VAR_BIASED = "running-var-biased"
    RUNNING_STD_NOT_VAR = "running-std-not-var"
    RUNNING_VAR_NOT_UPDATED = "running-var-not-updated"
    SINGLE_EXAMPLE_RETURNS_BETA = "single-example-returns-beta"
    SINGLE_EXAMPLE_RAISES = "single-example-raises"
    EVAL_USES_BATCH_STATISTICS = "eval-uses-batch-statistics"
    EVAL_FORMULA_WRONG = "eval-formula-wrong"
    FORWARD_NOT_BATCH_NORM = "forward-not-batch-norm"
    RUNNING_UPDATE_WRONG = "running-update-wrong"
    BREAKS_PROTOCOL = "breaks-protocol"
    WRONG_DTYPE = "wrong-dtype"
    MUTATES_INPUT = "mutates-input"
    NONDETERMINISTIC = "nondeterministic"


#: one line each: what the implementation does, and the change that fixes it.
EXPLANATIONS: dict[BugId, str] = {
    BugId.EPS_OUTSIDE_SQRT: "eps is added to the standard deviation, (z - mu) / (sqrt(var) + eps); "
                            "put it inside the root: (z - mu) / sqrt(var + eps)",
    BugId.EPS_IGNORED: "the eps argument is ignored and a fixed value is used; use the eps passed",
    BugId.UNBIASED_VARIANCE: "the training-mode variance divides by m - 1; batch norm divides by m "
                             "(np.var's default, not torch.var's)",
    BugId.ONE_PASS_VARIANCE: "the variance is computed in one pass, mean(z^2) - mean(z)^2, which loses "
                             "every digit when |mu| >> sigma; subtract the mean first (two passes)",
    BugId.LOW_PRECISION_ACCUMULATION: "sums are accumulated in a narrower dtype than the input's "
                                      "(or float16/bfloat16 in itself); accumulate in at least float32, "
                                      "float64 for float64 input",
    BugId.WRONG_AXIS: "the statistics are taken over the units (a layer norm) instead of over the examples "
                      "of the mini-batch; take the mean and variance of each unit over the m examples",
    BugId.PER_POSITION_STATISTICS: "the statistics are taken over the samples alone, one per channel and spatial "
                                   "position; a channel's mean and variance run over N and every spatial "
                                   "position (reduce over every axis but the channel's)",
    BugId.PER_SAMPLE_STATISTICS: "the statistics are taken over the spatial positions of each sample (an "
                                 "instance norm); a channel's mean and variance run over N and every spatial "
                                 "position (reduce over every axis but the channel's)",
    BugId.NO_CENTERING: "the mean is not subtracted; z_norm = (z - mu) / sqrt(var + eps)",
    BugId.GAMMA_BETA_MISUSED: "gamma and beta are not applied as gamma * z_norm + beta",
    BugId.NAN_ON_DEGENERATE_INPUT: "a unit constant over the mini-batch gives NaN or inf; with eps > 0 inside "
                                   "the root it must give z_norm = 0 and the output beta",
    BugId.TRAINING_USES_RUNNING_STATISTICS: "training-mode forward normalizes with statistics other than "
                                            "this mini-batch's (running or earlier batches'); use this batch's",
    BugId.DZ_MISSING_MEAN_TERM: "dz lacks the path through the mean: subtract mean(dz_norm) over the examples",
    BugId.DZ_MISSING_VARIANCE_TERM: "dz lacks the path through the variance: subtract z_norm * "
                                    "mean(dz_norm * z_norm) over the examples",
    BugId.DZ_STATISTICS_DETACHED: "dz treats the mean and variance as constants (dz = gamma * grad / sqrt(var "
                                  "+ eps)); both depend on every example: add both terms",
    BugId.PARAMETER_GRADIENTS_WRONG: "dgamma or dbeta is wrong: dgamma = sum(grad * z_norm), dbeta = sum(grad) "
                                     "over the examples, one per unit",
    BugId.BACKWARD_NOT_GRADIENT_OF_FORWARD: "backward is not the gradient of forward (no known bug fits); "
                                            "check dz against finite differences of your own forward",
    BugId.MOMENTUM_WEIGHS_NEW: "the momentum weighs the batch statistic (new = (1 - momentum) * old + momentum "
                               "* batch, PyTorch's convention); the profile in effect weighs the old value",
    BugId.MOMENTUM_WEIGHS_OLD: "the momentum weighs the old value (new = momentum * old + (1 - momentum) * "
                               "batch, the lecture's); the profile in effect weighs the batch statistic",
    BugId.RUNNING_VAR_UNBIASED: "the running variance is fed the unbiased (m - 1) batch variance; the profile "
                                "in effect feeds the biased one",
    BugId.RUNNING_VAR_BIASED: "the running variance is fed the biased (m) batch variance; the profile in "
                              "effect feeds the unbiased one",
    BugId.RUNNING_STD_NOT_VAR: "the running variance is fed the standard deviation instead of the variance",
    BugId.RUNNING_VAR_NOT_UPDATED: "the running variance is not updated",
    BugId.SINGLE_EXAMPLE_RETURNS_BETA: "training mode at m = 1 returns beta (the lecture's formulas); the "
                                       "profile in effect requires an exception",
    BugId.SINGLE_EXAMPLE_RAISES: "training mode at m = 1 raises; the profile in effect requires the output "
                                 "beta (sigma^2 = 0, z_norm = 0)",
    BugId.EVAL_USES_BATCH_STATISTICS: "inference normalizes with the mini-batch's statistics; it must use the "
                                      "running mean and variance",
    BugId.EVAL_FORMULA_WRONG: "inference does not compute gamma * (z - running_mean) / sqrt(running_var + eps) "
                              "+ beta",
    BugId.FORWARD_NOT_BATCH_NORM: "training-mode forward is not gamma * (z - mu) / sqrt(var + eps) + beta with "
                                  "this mini-batch's statistics, and no known bug fits; compare it step by step "
                                  "with the lecture's formulas",
    BugId.RUNNING_UPDATE_WRONG: "the running update is no exponentially weighted average of the batch's mean "
                                "and variance under any known convention",
    BugId.BREAKS_PROTOCOL: "a result has the wrong type or shape for the protocol (see the clause's message: "
                           "shapes are n[l] x m and n[l] x 1 in the declared layout, (C,) per channel)",
    BugId.WRONG_DTYPE: "results do not have the input's dtype (float32 in, float32 out)",
    BugId.MUTATES_INPUT: "a function modifies an array it was given; work on a copy",
    BugId.NONDETERMINISTIC: "two calls with the same inputs give different results",
}
