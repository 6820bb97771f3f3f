"""The clauses' titles and statements in Traditional Chinese (zh-TW), for the documentation site.

The one place for the translations: clause ID -> title (:data:`TITLES`) and
clause ID -> statement (:data:`STATEMENTS`).  The English record in this
package stays the source of truth (level, formula, sources); a translation
renders the same text with the lecture's Traditional Chinese terms
(批次標準化 batch norm, 小批次 mini-batch, 隱藏單元 hidden unit, 平均 mean,
變異數 variance, 啟動函數 activation), identifiers (gamma, eps, z_norm, dz,
float32) left as they are.  tests/test_docs_site.py checks that every
registered clause has a statement, tests/test_translations.py that it has a
title.
"""

from __future__ import annotations

TITLES: dict[str, str] = {
    "BN-SHAPE-1": "輸出的形狀",
    "BN-SHAPE-2": "梯度的形狀",
    "BN-DTYPE-1": "輸出保有輸入的型別",
    "BN-DTYPE-2": "梯度保有輸入的型別",
    "BN-NORM-1": "平均為 0",
    "BN-NORM-2": "變異數為 1，eps 在平方根內",
    "BN-AFFINE-1": "縮放與平移",
    "BN-AFFINE-2": "批次標準化可以是恆等映射",
    "BN-AFFINE-3": "beta 決定平均，gamma 決定分布寬度",
    "BN-FWD-REF": "forward 與參考實作一致",
    "BN-INV-1": "偏移會被抵銷",
    "BN-INV-2": "梯度中的偏移也會被抵銷",
    "BN-INV-3": "尺度不變性",
    "BN-INV-4": "梯度變為 1/c 倍",
    "BN-LOC-1": "隱藏單元彼此獨立",
    "BN-LOC-4": "隱藏單元的梯度彼此獨立",
    "BN-LOC-2": "各筆資料可以互換",
    "BN-LOC-5": "梯度中的各筆資料也可以互換",
    "BN-LOC-3": "只取決於這一小批",
    "BN-GRAD-1": "dz 就是梯度",
    "BN-GRAD-2": "dgamma 就是梯度",
    "BN-GRAD-3": "dbeta 就是梯度",
    "BN-GRAD-4": "dbeta 是上游梯度的總和",
    "BN-GRAD-5": "dgamma 以 z_norm 加權上游梯度",
    "BN-GRAD-6": "dz 的總和為 0",
    "BN-GRAD-7": "dz 與 z_norm（變異數那一項）",
    "BN-GRAD-REF": "backward 與參考實作一致",
    "BN-DEG-1": "為常數的隱藏單元",
    "BN-DEG-3": "常數隱藏單元的梯度",
    "BN-DEG-2": "只有一筆資料（m = 1）",
    "BN-DEG-4": "只有一筆資料時的梯度（m = 1）",
    "BN-PURE-1": "不修改輸入",
    "BN-PURE-2": "結果是確定的",
    "BN-SHAPE-3": "移動統計量的形狀",
    "BN-SHAPE-4": "推論輸出的形狀",
    "BN-RUN-1": "指數加權平均",
    "BN-RUN-2": "移動統計量會收斂",
    "BN-EVAL-1": "推論使用移動估計值",
    "BN-EVAL-2": "推論時各筆資料互不影響",
    "BN-EVAL-3": "推論可以併入 W",
    "BN-F32-1": "float32 在 float32 的容許誤差內",
    "BN-F32-2": "float32 的梯度在 float32 的容許誤差內",
    "BN-F16-1": "float16 以 float32 累加",
    "BN-F16-3": "float16 的梯度以 float32 累加",
    "BN-BF16-1": "bfloat16 以 float32 累加",
    "BN-BF16-2": "bfloat16 的梯度以 float32 累加",
    "BN-F16-2": "總和不會在 float16 中溢位",
    "BN-F16-4": "梯度的總和不會在 float16 中溢位",
    "BN-VAR-1": "變異數絕不為負",
    "BN-VAR-2": "梯度所用的變異數絕不為負",
    "NET-SHAPE-1": "含批次標準化之網路的參數",
    "NET-FWD-1": "批次標準化位於 Z 與 A 之間",
    "NET-BIAS-1": "批次標準化之前的偏移毫無作用",
    "NET-SCALE-1": "網路中的尺度不變性",
    "NET-GRAD-1": "反向傳播給出的就是梯度",
    "NET-EVAL-1": "對單筆資料做推論",
    "TRAIN-1": "使用批次標準化訓練能降低損失",
    "BN-FROZEN-1": "凍結的批次標準化之梯度",
    "BN-FROZEN-2": "凍結時的梯度就是 forward_eval 的梯度",
    "BN-NOAFFINE-1": "沒有 gamma 與 beta 時，dz 仍與參考實作一致",
    "BN-NORUN-1": "以這一小批的統計量做推論",
    "BN-NORUN-2": "以這一小批的統計量計算凍結時的梯度",
    "BN-CUM-1": "累積平均",
    "BN-CUM-2": "不用 momentum 的 update_running",
    "BN-MIXED-1": "混合精度：forward",
    "BN-MIXED-2": "混合精度：推論",
    "BN-EMPTY-1": "空的小批次：forward",
    "BN-EMPTY-2": "空的小批次：backward",
    "BN-EMPTY-3": "空的小批次不改變移動統計量",
    "BN-INPUT-1": "拒絕 eps <= 0",
    "BN-INPUT-2": "拒絕形狀錯誤的 gamma 或 beta",
    "BN-INPUT-3": "拒絕維數錯誤的 z",
    "BN-INPUT-4": "z 中的 NaN 或無窮大",
    "OPT-GD-1": "梯度下降法的一步",
    "OPT-MOM-1": "動量法的一步",
    "OPT-MOM-2": "動量法連續多步",
    "OPT-MOM-3": "平均形式的動量法，就是步長較小的重球形式",
    "OPT-RMS-1": "RMSprop 的一步",
    "OPT-RMS-2": "RMSprop 連續多步",
    "OPT-RMS-3": "RMSprop 不受梯度尺度的影響",
    "OPT-ADAM-1": "Adam 的一步",
    "OPT-ADAM-2": "Adam 連續多步",
    "OPT-ADAM-3": "不論梯度的尺度，Adam 的第一步都移動 lr",
    "OPT-ADAM-4": "Adam 不受梯度尺度的影響",
    "OPT-ZERO-1": "沒有梯度，就不移動",
    "OPT-DTYPE-1": "保有參數的形狀與型別",
    "OPT-PURE-1": "最佳化器的一步沒有副作用",
    "OPT-INPUT-1": "拒絕不合理的超參數",
    "OPT-NET-1": "以受測實作的最佳化器訓練含批次標準化的網路",
}

STATEMENTS: dict[str, str] = {
    "BN-SHAPE-1": "forward 回傳與 z 同形狀 n[l] x m 的陣列。",
    "BN-SHAPE-2": "backward 回傳與 z 同形狀的 dz，以及與 gamma 同形狀 n[l] x 1 的 dgamma、dbeta。",
    "BN-DTYPE-1": "在實作宣告的每種型別中（預設為 float64 與 float32），forward 回傳的輸出保有輸入的型別："
                  "輸入 float32 就輸出 float32。它與 BN-DTYPE-2（backward 的）是僅有的判定型別的條款，且為 SHOULD："
                  "較寬的結果（float32 輸入回傳 float64）並不較不精確，精確度條款（BN-F32-1、BN-F16-1、BN-BF16-1、"
                  "BN-VAR-1）只判定其數值。",
    "BN-DTYPE-2": "在實作宣告的每種型別中（預設為 float64 與 float32），backward 回傳的 dz、dgamma 與 dbeta 都保有"
                  "輸入的型別。與 BN-DTYPE-1 同為 SHOULD：梯度的精確度條款（BN-F32-2、BN-F16-3、BN-BF16-2、"
                  "BN-VAR-2）只判定其數值。",
    "BN-NORM-1": "當 gamma = 1、beta = 0 時，每個隱藏單元的輸出在這一小批資料上的平均為 0。",
    "BN-NORM-2": "當 gamma = 1、beta = 0 時，每個隱藏單元的輸出在這一小批資料上的（有偏）變異數為 "
                 "sigma^2 / (sigma^2 + eps)。",
    "BN-AFFINE-1": "輸出為 gamma * z_norm + beta，其中 z_norm 是 gamma = 1、beta = 0 時的輸出。",
    "BN-AFFINE-2": "當 gamma = sqrt(sigma^2 + eps) 且 beta = mu 時，輸出等於 z。",
    "BN-AFFINE-3": "每個隱藏單元的輸出在這一小批資料上的平均為 beta，"
                   "標準差為 |gamma| sqrt(sigma^2 / (sigma^2 + eps))。",
    "BN-FWD-REF": "forward 與參考實作的 forward 在依條件數縮放的容許誤差內一致，包括遠離 0 的偏移、極小與極大的 eps，"
                  "以及負的或為零的 gamma。",
    "BN-INV-1": "對這一小批的每筆資料都加上任意的 b[l]，輸出不變。",
    "BN-INV-2": "對每筆資料都加上任意的 b[l]，dz、dgamma 與 dbeta 不變。",
    "BN-INV-3": "對 c > 0，以 eps 對 c Z 做批次標準化，等於以 eps / c^2 對 Z 做批次標準化。",
    "BN-INV-4": "對 c > 0，在 (c Z, c^2 eps) 的 dz 等於在 (Z, eps) 的 dz 除以 c；dgamma 與 dbeta 相等。",
    "BN-LOC-1": "改變某一個隱藏單元的值，不會改變其他任何隱藏單元的輸出。",
    "BN-LOC-4": "改變某一個隱藏單元的值（上游梯度不變），不會改變其他任何隱藏單元的 dz。",
    "BN-LOC-2": "把這一小批資料重新排列，輸出也以同樣方式重新排列。",
    "BN-LOC-5": "把這一小批資料與上游梯度以同樣方式重新排列，dz 也以同樣方式重新排列，而 dgamma 與 dbeta 不變。",
    "BN-LOC-3": "一小批資料的輸出只取決於這一小批：與先前的呼叫、其他小批資料或移動統計量都無關。",
    "BN-GRAD-1": "在隨機的上游梯度下，dz 沿隨機方向與 sum(grad * forward) 的中央有限差分一致。",
    "BN-GRAD-2": "dgamma 與 sum(grad * forward) 對 gamma 的有限差分一致。",
    "BN-GRAD-3": "dbeta 與 sum(grad * forward) 對 beta 的有限差分一致。",
    "BN-GRAD-4": "dbeta 等於每個隱藏單元在各筆資料上 grad 的總和。",
    "BN-GRAD-5": "dgamma 等於每個隱藏單元在各筆資料上 grad * z_norm 的總和。",
    "BN-GRAD-6": "對每個隱藏單元，dz 在這一小批資料上的總和為 0（平均那一項）。",
    "BN-GRAD-7": "對每個隱藏單元，dz * z_norm 在這一小批資料上的總和等於 "
                 "gamma * eps / (sigma^2 + eps)^(3/2) * sum(grad * z_norm)；當 eps = 0 時為 0。",
    "BN-GRAD-REF": "dz、dgamma 與 dbeta 與參考實作的 backward 在依條件數縮放的容許誤差內一致，包括遠離 0 的偏移。",
    "BN-DEG-1": "在這一小批資料上為常數的隱藏單元，得到 z_norm = 0：其輸出為 beta。",
    "BN-DEG-3": "當某個隱藏單元在這一小批資料上為常數時，backward 回傳與參考實作相同的有限 dz、dgamma 與 dbeta："
                "對該單元 dz = gamma (grad - mean(grad)) / sqrt(eps)，dgamma = 0。",
    "BN-DEG-2": "當 m = 1 時，講座的公式給出 sigma^2 = 0：輸出為 beta（設定檔也可以改為要求拋出 ValueError）。",
    "BN-DEG-4": "當 m = 1 時，講座的公式給出 sigma^2 = 0：backward 回傳 dz = 0、dgamma = 0 與 dbeta = grad"
                "（設定檔也可以改為要求拋出 ValueError）。",
    "BN-PURE-1": "協定中的函式都不會修改任何輸入陣列；唯一的例外是宣告 running_update = 'in_place' 的實作，"
                 "其 update_running 可以把它回傳的移動平均與移動變異數逐位元相同地寫入"
                 "傳給它的 running_mean 與 running_var。",
    "BN-PURE-2": "以相同輸入呼叫協定函式兩次，結果逐位元相同。",
    "BN-SHAPE-3": "update_running 回傳形狀為 n[l] x 1 的移動平均與移動變異數。",
    "BN-SHAPE-4": "forward_eval 回傳與 z 同形狀 n[l] x m 的陣列。",
    "BN-RUN-1": "一次更新得到 momentum * 舊值 + (1 - momentum) * 這一小批的平均與變異數"
                "（momentum 的意義與變異數的估計方式由設定檔決定）。",
    "BN-RUN-2": "反覆餵入同一小批資料，移動統計量會收斂到它自己的平均與變異數，之後對它做推論的結果等於訓練模式。",
    "BN-EVAL-1": "forward_eval 給出 gamma * (z - running_mean) / sqrt(running_var + eps) + beta。",
    "BN-EVAL-2": "推論時每筆資料的輸出只取決於該筆資料本身（包括 m = 1）。",
    "BN-EVAL-3": "在 Z = W A 之後做推論用的批次標準化，等於密集層 W' = diag(gamma / sqrt(var + eps)) W、"
                 "b' = beta - gamma * mean / sqrt(var + eps)。",
    "NET-SHAPE-1": "有批次標準化的層有 W[l]（n[l] x n[l-1]）、gamma[l] 與 beta[l]（n[l] x 1），沒有 b[l]；"
                   "沒有批次標準化的層有 W[l] 與 b[l]；每個梯度的形狀都與其參數相同。",
    "NET-FWD-1": "每個有批次標準化的層先算 Z = W A_prev，再算 Z~ = BN(Z)，然後 A = g(Z~)，下一層接收 A。",
    "NET-BIAS-1": "在批次標準化層之前加上 b[l]，不會改變網路的任何輸出或其他梯度，而 b[l] 的梯度為 0。",
    "NET-SCALE-1": "把批次標準化層的 W[l] 乘上 c > 0（eps 乘上 c^2）不會改變任何輸出，而 dW[l] 變為 1/c 倍。",
    "NET-GRAD-1": "網路的 dW、db、dgamma 與 dbeta 與損失的中央有限差分一致。",
    "NET-EVAL-1": "在推論模式下，網路對一筆資料的預測，不論單獨輸入或放在一批中都相同：它使用移動統計量。",
    "TRAIN-1": "在一個小的可分資料集上，使用批次標準化的小批次訓練，以梯度下降法、動量法、RMSprop 與 Adam "
               "都能降低損失。",
    "BN-F32-1": "輸入為 float32 時，forward 回傳的數值與這些輸入的精確結果之差在 float32 依條件數縮放的容許誤差內，"
                "不論以何種型別回傳（較寬的型別以其本身的精度讀取；型別本身由 BN-DTYPE-1 判定）。",
    "BN-F32-2": "輸入為 float32 時，backward 回傳的 dz、dgamma 與 dbeta 與這些輸入的精確梯度之差在 float32 "
                "依條件數縮放的容許誤差內，不論以何種型別回傳（同 BN-F32-1；型別本身由 BN-DTYPE-2 判定）。",
    "BN-F16-1": "輸入為 float16 時（對宣告支援 float16 的實作），forward 回傳的數值，"
                "與精確結果之差在 float32 依條件數縮放的容許誤差再加上幾次 float16 捨入之內：總和以 float32 累加。"
                "只判定數值，不論型別（同 BN-F32-1）。",
    "BN-F16-3": "輸入為 float16 時（對宣告支援 float16 的實作），backward 回傳的 dz、dgamma 與 dbeta，"
                "與精確梯度之差在 float32 依條件數縮放的容許誤差再加上幾次 float16 捨入之內：總和以 float32 累加。"
                "只判定數值，不論型別（同 BN-F32-2）。",
    "BN-BF16-1": "輸入為 bfloat16 時（對宣告支援 bfloat16 的實作），forward 回傳的數值，"
                 "與精確結果之差在 float32 依條件數縮放的容許誤差再加上幾次 bfloat16 捨入之內：總和以 float32 累加。"
                 "只判定數值，不論型別（同 BN-F32-1）。",
    "BN-BF16-2": "輸入為 bfloat16 時（對宣告支援 bfloat16 的實作），backward 回傳的 dz、dgamma 與 dbeta，"
                 "與精確梯度之差在 float32 依條件數縮放的容許誤差再加上幾次 bfloat16 捨入之內：總和以 float32 累加。"
                 "只判定數值，不論型別（同 BN-F32-2）。",
    "BN-F16-2": "當 float16 輸入的總和超過 float16 的最大值 65504（m 為 256 到 512 個接近 300 或更大的值）時，"
                "forward 仍回傳有限的結果，且在 BN-F16-1 的容許誤差內。",
    "BN-F16-4": "對 BN-F16-2 的 float16 輸入（總和超過 65504），backward 仍回傳有限的 dz、dgamma 與 dbeta，"
                "且在 BN-F16-3 的容許誤差內。",
    "BN-VAR-1": "對於遠離 0 且幾乎為常數的隱藏單元，在實作宣告的每種型別中，forward 回傳在輸入型別容許誤差內的"
                "有限數值（不論以何種型別回傳，同 BN-F32-1）：變異數絕不會算成負數。",
    "BN-VAR-2": "對於 BN-VAR-1 的隱藏單元（遠離 0 且幾乎為常數），在實作宣告的每種型別中，"
                "backward 回傳在輸入型別容許誤差內的有限 dz、dgamma 與 dbeta（不論以何種型別回傳，同 BN-F32-2）："
                "它所用的變異數絕不會算成負數。",
    "BN-FROZEN-1": "backward_eval 回傳 dz = gamma / sqrt(running_var + eps) * grad、dgamma = 各筆資料上 grad * (z - "
                   "running_mean) / sqrt(running_var + eps) 的總和，以及 dbeta = grad 的總和，且在依條件數縮放的容許"
                   "誤差內（包括 m = 1）；對宣告 affine = False 的實作只判定 dz。",
    "BN-FROZEN-2": "backward_eval 的 dz、dgamma 與 dbeta，沿 z、gamma 與 beta 的隨機方向，與 sum(grad * forward_eval)"
                   " 的中央有限差分一致（對宣告 affine = False 的實作只沿 z 的方向）。",
    "BN-NOAFFINE-1": "對宣告 affine = False 的實作（bnspec 傳給它 gamma = 1、beta = 0），backward 的 dz 與參考實作在 "
                     "gamma = 1、beta = 0 時的 dz 在依條件數縮放的容許誤差內一致；dgamma 與 dbeta 不予判定。",
    "BN-NORUN-1": "對宣告 eval_statistics = 'batch' 的實作，forward_eval(z, gamma, beta, running_mean, "
                      "running_var, eps) 在成對比較的容許誤差內等於 forward(z, gamma, beta, eps)，對傳入的兩組不同移"
                      "動統計量皆然（m >= 2）。",
    "BN-NORUN-2": "對宣告 eval_statistics = 'batch' 的實作，backward_eval 回傳的 dz、dgamma 與 dbeta 在成對比較的"
                      "容許誤差內等於 backward 的（affine = False 時只判定 dz），對傳入的兩組不同移動統計量皆然（m >="
                      " 2）。",
    "BN-CUM-1": "update_cumulative(running_mean, running_var, z, num_batches) 對平均與變異數給出 舊值 + (這一小批的統"
                "計量 - 舊值) / (num_batches + 1)（變異數的估計方式由設定檔決定）：從 num_batches = 0 起更新 k 次（k "
                "至多 5）得到這 k 個小批次統計量的平均，而在至多 10^6 的 num_batches 下更新一次，這一小批的權重為 1 /"
                " (num_batches + 1)。",
    "BN-CUM-2": "對宣告 cumulative_average = True 的實作，不論傳入何種移動統計量與 momentum，update_running 都回傳這"
                "一小批的平均與變異數（估計方式由設定檔決定）：這是累積平均的第一步，也是不帶小批次計數的呼叫唯一能做"
                "的一步（累積平均本身由 update_cumulative 負責，見 BN-CUM-1）。",
    "BN-MIXED-1": "當 z 的型別是實作在 mixed_precision 中宣告的型別（float16、bfloat16），而 gamma、beta 為 float32 "
                  "時，forward 回傳的數值與這些數值的精確結果之差，在 float32 依條件數縮放的容許誤差再加上幾次 z 型別"
                  "的捨入之內（BN-F16-1 的容許誤差），不論以何種型別回傳。",
    "BN-MIXED-2": "當 z 的型別是實作在 mixed_precision 中宣告的型別，而 gamma、beta、running_mean、running_var 為 "
                  "float32 時，forward_eval 回傳的數值與這些數值的 gamma * (z - running_mean) / sqrt(running_var + "
                  "eps) + beta 之差，在 float32 的容許誤差再加上幾次 z 型別的捨入之內（包括 m = 1），不論以何種型別回"
                  "傳。",
    "BN-EMPTY-1": "當 m = 0（z 沒有任何一筆資料：n x 0，在通道排列中 N = 0）時，forward 拋出例外，或回傳與 z 同形狀的"
                  "空陣列（PyTorch 即是如此）。",
    "BN-EMPTY-2": "當 m = 0 時，backward 拋出例外，或回傳與 z 同形狀的 dz 以及 dgamma = dbeta = 0（對零筆資料的總和）"
                  "，PyTorch 即是如此（對宣告 affine = False 的實作只判定 dz）。",
    "BN-EMPTY-3": "當 m = 0 時，update_running 拋出例外，或原封不動地回傳傳入的移動平均與移動變異數（PyTorch 即是如此"
                  "）：零個值的平均沒有定義，而 NaN 絕不可進入移動統計量。",
    "BN-INPUT-1": "以 eps = 0 或負的 eps 呼叫 forward 時，它拋出例外而不回傳結果：eps > 0 才能讓 sigma^2 + eps 保持為"
                  "正。",
    "BN-INPUT-2": "對 n 個隱藏單元的 z，以 n + 1 個元素的 gamma 或 beta 呼叫 forward 時，它拋出例外而不回傳結果（廣播"
                  "會憑空造出一個結果）；對宣告 affine = False 的實作不適用。",
    "BN-INPUT-3": "以實作的排列方式與 spatial_dims 不接受的維數的 z 呼叫 forward 時，它拋出例外而不回傳結果：一維的 z"
                  "；在二維排列中，前面多一個長度為一之軸的 z（三維）；在通道排列中，對每個未在 spatial_dims 中宣告的"
                  "空間維數 k（0 到 3），維數為 2 + k 的 z。",
    "BN-INPUT-4": "當 z 含有 NaN 或無窮大時，forward 拋出例外，或回傳一個輸出，其中含有該值的隱藏單元沒有任何有限的元"
                  "素：NaN 可以傳播下去，但由它算出的有限數值是錯的（其他隱藏單元不予判定）。",
    "OPT-GD-1": "gd(p, dp, lr) 逐元素回傳 p - lr dp，p 可為任意形狀。",
    "OPT-MOM-1": "momentum(p, dp, v, lr, momentum) 回傳設定檔所定形式的新 p 與 v：課程的平均形式 v_new = momentum v + "
                 "(1 - momentum) dp、p_new = p - lr v_new；PyTorch 與 optax 的重球形式 v_new = momentum v + dp；Keras "
                 "的速度形式 v_new = momentum v - lr dp、p_new = p + v_new。momentum = 0 時不判定 v_new：此時沒有任何"
                 "一步會讀取 v，PyTorch 與 MLX 也不保留緩衝區。",
    "OPT-MOM-2": "從抽取的 p 與 v 出發，連續 k 步 momentum（每一步都接收前一步回傳的 p 與 v）的終點，與設定檔所定形式"
                 "的 k 步相同。",
    "OPT-MOM-3": "從 v = 0 出發，學習率為 lr 的平均形式走 k 步，與學習率為 lr (1 - momentum) 的重球形式走 k 步，p 落在"
                 "同一處，反之亦然：受測實作的 k 步與另一形式在換算學習率後的 k 步一致。",
    "OPT-RMS-1": "rmsprop(p, dp, s, lr, rho, eps) 回傳 s_new = rho s + (1 - rho) dp^2 與 p_new = p - lr dp / "
                 "(sqrt(s_new) + eps)（eps 在根號外：課程、PyTorch），或在把 eps 放進根號內的設定檔下（Keras、optax）"
                 "回傳 p - lr dp / sqrt(s_new + eps)。",
    "OPT-RMS-2": "從抽取的 p 與 s 出發，連續 k 步 RMSprop（每一步都接收前一步回傳的 p 與 s）的終點，與設定檔所定形式"
                 "的 k 步相同。",
    "OPT-RMS-3": "把 dp 乘以 c > 0、s 乘以 c^2、eps 乘以 c（eps 在根號內時乘以 c^2），p_new 不變，s_new 乘以 c^2："
                 "步長的尺度是 lr dp / |dp|。",
    "OPT-ADAM-1": "adam(p, dp, v, s, t, lr, beta1, beta2, eps) 回傳 v_new = beta1 v + (1 - beta1) dp、s_new = beta2 s "
                  "+ (1 - beta2) dp^2 與 p_new = p - lr v_hat / (sqrt(s_hat) + eps)，其中 v_hat = v_new / (1 - "
                  "beta1^t)、s_hat = s_new / (1 - beta2^t)；在把偏差修正併入 lr 的設定檔下（Keras），p_new = p - lr "
                  "sqrt(1 - beta2^t) / (1 - beta1^t) v_new / (sqrt(s_new) + eps)。",
    "OPT-ADAM-2": "從 t = 1 與抽取的 p、v、s 出發，連續 k 步 Ada"
                  "m（每一步都接收前一步回傳的 p、v、s 與下一個 t）的終點，"
                  "與設定檔所定形式的 k 步相同。",
    "OPT-ADAM-3": "從 v = s = 0、t = 1 出發，對梯度介於 1e-2 到 1"
                  "e3 之間、|dp| 遠大於 eps 的每個座標，第一步的移動量為 lr"
                  "，誤差在 lr 的千分之一內：偏差修正抵銷了平均值從 0 開始的影響。",
    "OPT-ADAM-4": "把 dp 與 v 乘以 c > 0、s 乘以 c^2、eps 乘以 c，p_new 不變，v_new 乘以 c，s_new 乘以 c^2。",
    "OPT-ZERO-1": "從零狀態（v = s = 0）出發，零梯度讓 p 不變、狀態仍為零；對受測實作的每個最佳化器、任何 t 皆然。",
    "OPT-DTYPE-1": "受測實作的每個最佳化器的每個結果，都是與 p 同形狀（包括零維）、同型別的新陣列：輸入 float32 就輸出 "
                   "float32，輸入 float64 就輸出 float64。",
    "OPT-PURE-1": "沒有任何最佳化器函數會修改它的引數：呼叫之後 p、dp 與狀態的值不變，"
                  "以相同輸入再呼叫一次會得到相同結果。",
    "OPT-INPUT-1": "當 lr < 0、衰減率（momentum、rho、beta1、beta2）不在 [0, 1) 內、eps < 0 或 t < 1 時，每個最佳化器函"
                   "數都拋出例外，而不回傳結果。",
    "OPT-NET-1": "以受測實作的最佳化器（各自帶著自己的狀態）更新含批次標準化之課"
                 "程網路的每個參數——W[l]、b[l]、gamma[l] 與 "
                 "beta[l]——訓練 k 步所得的參數，與從相同初始參數和梯度出發、以設定檔所定形式訓練 k 步所得的相同。",
}
