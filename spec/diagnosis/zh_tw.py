"""The diagnoses' explanations in Traditional Chinese (zh-TW), for the documentation site.

The one place for the translations: :class:`~bnspec.spec.diagnosis.vocabulary.BugId`
-> explanation.  The English :data:`~bnspec.spec.diagnosis.vocabulary.EXPLANATIONS`
stay the source of truth (the CLI and the JSON report print them); each
translation says the same two things, what the implementation does and the
change that fixes it, with the terms of :mod:`bnspec.spec.clauses.zh_tw`.
tests/test_translations.py checks that every id has one.
"""

from __future__ import annotations

from .vocabulary import BugId

EXPLANATIONS: dict[BugId, str] = {
    BugId.EPS_OUTSIDE_SQRT: "eps 被加在標準差上，(z - mu) / (sqrt(var) + eps)；應把它放進平方根內："
                            "(z - mu) / sqrt(var + eps)",
    BugId.EPS_IGNORED: "忽略傳入的 eps 引數，改用一個固定的值；應使用傳入的 eps",
    BugId.UNBIASED_VARIANCE: "訓練模式的變異數除以 m - 1；批次標準化除以 m（np.var 的預設，而不是 torch.var 的）",
    BugId.ONE_PASS_VARIANCE: "變異數以一遍式計算，mean(z^2) - mean(z)^2，在 |mu| >> sigma 時會損失所有的有效位數；"
                             "應先減掉平均（兩遍式）",
    BugId.LOW_PRECISION_ACCUMULATION: "總和以比輸入更窄的型別累加（或直接以 float16/bfloat16 累加）；應至少以 "
                                      "float32 累加，float64 輸入則以 float64 累加",
    BugId.WRONG_AXIS: "統計量是跨隱藏單元取的（這是 layer norm），而不是在這一小批的各筆資料上取的；"
                      "應對每個隱藏單元，在 m 筆資料上取平均與變異數",
    BugId.PER_POSITION_STATISTICS: "統計量只在各樣本之間取，每個通道的每個空間位置各一組；一個通道的平均與變異數"
                                   "應涵蓋 N 與所有空間位置（對通道軸以外的每個軸求統計量）",
    BugId.PER_SAMPLE_STATISTICS: "統計量是在每個樣本的各空間位置上取的（這是 instance norm）；一個通道的平均與"
                                 "變異數應涵蓋 N 與所有空間位置（對通道軸以外的每個軸求統計量）",
    BugId.NO_CENTERING: "沒有減掉平均；應為 z_norm = (z - mu) / sqrt(var + eps)",
    BugId.GAMMA_BETA_MISUSED: "gamma 與 beta 沒有照 gamma * z_norm + beta 的方式套用",
    BugId.NAN_ON_DEGENERATE_INPUT: "在這一小批上為常數的隱藏單元得到 NaN 或 inf；eps > 0 在平方根內時，它必須得到 "
                                   "z_norm = 0，輸出為 beta",
    BugId.TRAINING_USES_RUNNING_STATISTICS: "訓練模式的 forward 以這一小批以外的統計量（移動統計量或先前小批次的"
                                            "統計量）標準化；應使用這一小批的統計量",
    BugId.DZ_MISSING_MEAN_TERM: "dz 少了經過平均的那條路徑：應減掉 mean(dz_norm)（在各筆資料上取平均）",
    BugId.DZ_MISSING_VARIANCE_TERM: "dz 少了經過變異數的那條路徑：應減掉 z_norm * mean(dz_norm * z_norm)"
                                    "（在各筆資料上取平均）",
    BugId.DZ_STATISTICS_DETACHED: "dz 把平均與變異數當成常數（dz = gamma * grad / sqrt(var + eps)）；兩者都取決於"
                                  "每一筆資料：應把這兩項都加上",
    BugId.PARAMETER_GRADIENTS_WRONG: "dgamma 或 dbeta 有誤：dgamma = sum(grad * z_norm)、dbeta = sum(grad)，"
                                     "都是在各筆資料上加總，每個隱藏單元一個",
    BugId.BACKWARD_NOT_GRADIENT_OF_FORWARD: "backward 不是 forward 的梯度（沒有吻合的已知錯誤）；應以你自己的 "
                                            "forward 的有限差分來檢查 dz",
    BugId.MOMENTUM_WEIGHS_NEW: "momentum 加權於這一小批的統計量（新值 = (1 - momentum) * 舊值 + momentum * "
                               "這一小批，PyTorch 的慣例）；生效的設定檔則把它加權於舊值",
    BugId.MOMENTUM_WEIGHS_OLD: "momentum 加權於舊值（新值 = momentum * 舊值 + (1 - momentum) * 這一小批，"
                               "講座的慣例）；生效的設定檔則把它加權於這一小批的統計量",
    BugId.RUNNING_VAR_UNBIASED: "移動變異數接收的是這一小批的無偏（m - 1）變異數；生效的設定檔則用有偏的變異數",
    BugId.RUNNING_VAR_BIASED: "移動變異數接收的是這一小批的有偏（m）變異數；生效的設定檔則用無偏的變異數",
    BugId.RUNNING_STD_NOT_VAR: "移動變異數接收的是標準差，而不是變異數",
    BugId.RUNNING_VAR_NOT_UPDATED: "移動變異數沒有更新",
    BugId.SINGLE_EXAMPLE_RETURNS_BETA: "訓練模式在 m = 1 時回傳 beta（講座的公式）；生效的設定檔則要求拋出例外",
    BugId.SINGLE_EXAMPLE_RAISES: "訓練模式在 m = 1 時拋出例外；生效的設定檔則要求輸出 beta"
                                 "（sigma^2 = 0，z_norm = 0）",
    BugId.EVAL_USES_BATCH_STATISTICS: "推論時以這一小批的統計量標準化；推論必須使用移動平均與移動變異數",
    BugId.EVAL_FORMULA_WRONG: "推論時算出的結果不是 gamma * (z - running_mean) / sqrt(running_var + eps) + beta",
    BugId.FORWARD_NOT_BATCH_NORM: "訓練模式的 forward 不是以這一小批的統計量計算的 gamma * (z - mu) / "
                                  "sqrt(var + eps) + beta，也沒有吻合的已知錯誤；應與講座的公式逐步比對",
    BugId.RUNNING_UPDATE_WRONG: "在任何已知的慣例下，移動統計量的更新都不是這一小批平均與變異數的指數加權平均",
    BugId.BREAKS_PROTOCOL: "某個結果的型別或形狀不符合協定（見該條款的訊息：在宣告的排列中形狀為 n[l] x m 與 "
                           "n[l] x 1，逐通道的陣列為 (C,)）",
    BugId.WRONG_DTYPE: "結果沒有保有輸入的型別（輸入 float32 就應輸出 float32）",
    BugId.MUTATES_INPUT: "某個函式修改了傳給它的陣列；應在副本上運算",
    BugId.NONDETERMINISTIC: "以相同的輸入呼叫兩次，得到不同的結果",
}
