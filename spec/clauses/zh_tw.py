"""The clauses' statements in Traditional Chinese (zh-TW), for the documentation site.

The one place for the translations: clause ID -> statement.  The English
record in this package stays the source of truth (level, formula, sources);
a translation renders the same statement with the lecture's Traditional
Chinese terms (批次標準化 batch norm, 小批次 mini-batch, 隱藏單元 hidden unit,
平均 mean, 變異數 variance, 啟動函數 activation).  tests/test_docs_site.py
checks that every registered clause has one.
"""

from __future__ import annotations

STATEMENTS: dict[str, str] = {
    "BN-SHAPE-1": "forward 回傳與 z 同形狀 n[l] x m 的陣列。",
    "BN-SHAPE-2": "backward 回傳與 z 同形狀的 dz，以及與 gamma 同形狀 n[l] x 1 的 dgamma、dbeta。",
    "BN-DTYPE-1": "在實作宣告的每種型別中（預設為 float64 與 float32），forward 與 backward 回傳的每個陣列都保有"
                  "輸入的型別：輸入 float32 就輸出 float32。這是唯一判定型別的條款，且為 SHOULD：較寬的結果"
                  "（float32 輸入回傳 float64）並不較不精確，精確度條款（BN-F32-1、BN-F16-1、BN-BF16-1、"
                  "BN-VAR-1）只判定其數值。",
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
    "BN-LOC-1": "改變某一個隱藏單元的值，不會改變其他任何隱藏單元的輸出與梯度。",
    "BN-LOC-2": "把這一小批資料重新排列，輸出與 dz 也以同樣方式重新排列，而 dgamma 與 dbeta 不變。",
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
    "BN-DEG-1": "在這一小批資料上為常數的隱藏單元，得到 z_norm = 0、輸出 beta，以及與參考實作相同的有限梯度。",
    "BN-DEG-2": "當 m = 1 時，講座的公式給出 sigma^2 = 0：輸出為 beta，dz = 0，dgamma = 0，dbeta = grad"
                "（設定檔也可以改為要求拋出 ValueError）。",
    "BN-PURE-1": "協定中的函式都不會修改任何輸入陣列。",
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
    "BN-F32-1": "輸入為 float32 時，forward 與 backward 回傳的數值與這些輸入的精確結果之差在 float32 "
                "依條件數縮放的容許誤差內，不論以何種型別回傳（較寬的型別以其本身的精度讀取；型別本身由 "
                "BN-DTYPE-1 判定）。",
    "BN-F16-1": "輸入為 float16 時（對宣告支援 float16 的實作），forward 與 backward 回傳的數值，"
                "與精確結果之差在 float32 依條件數縮放的容許誤差再加上幾次 float16 捨入之內：總和以 float32 累加。"
                "只判定數值，不論型別（同 BN-F32-1）。",
    "BN-BF16-1": "輸入為 bfloat16 時（對宣告支援 bfloat16 的實作），forward 與 backward 回傳的數值，"
                 "與精確結果之差在 float32 依條件數縮放的容許誤差再加上幾次 bfloat16 捨入之內：總和以 float32 累加。"
                 "只判定數值，不論型別（同 BN-F32-1）。",
    "BN-F16-2": "當 float16 輸入的總和超過 float16 的最大值 65504（m 為 256 到 512 個接近 300 或更大的值）時，"
                "forward 與 backward 仍回傳有限的結果，且在 BN-F16-1 的容許誤差內。",
    "BN-VAR-1": "對於遠離 0 且幾乎為常數的隱藏單元，在實作宣告的每種型別中，forward 與 backward 都回傳"
                "在輸入型別容許誤差內的有限數值（不論以何種型別回傳，同 BN-F32-1）：變異數絕不會算成負數。",
}
