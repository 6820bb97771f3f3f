"""Why each surviving mutant of examples/learner_bn.py survives: the hand-written half of docs/mutation.md.

Keyed by the mutant's stable description, ``"<function>: <line before> -> <line after>"`` (the source line
stripped of its indentation, as mutation/run.py prints it), so a rerun finds the same reasons whatever the line
numbers and the tool's job IDs; a survivor missing here is listed as "unexplained", an entry no survivor matches
any more as "stale".

Each value is ``(verdict, reason)``:

- ``"equivalent"``: the mutated program computes the same values as the original on every input the protocol
  allows, so no property can kill it; the reason says why.
- ``"not killed yet"``: the mutant computes something wrong that the suite does not catch; the reason says which
  bug it introduces and which clause's property should kill it (what it must draw, what it must assert).

A reason is a dict keyed by the site's languages (``"en"``, ``"zh-TW"``, those of mutation/page.py's ``WORDS``):
the same reason in each, for the page of each language; mutation/run.py refuses to write the pages while a
reason lacks one of them.
"""

from __future__ import annotations

EQUIVALENT = "equivalent"
NOT_KILLED_YET = "not killed yet"

_DEFAULT_EPS = {
    "en": "Only the default value of `eps` changes, and the protocol never uses it: `eps` is an argument of "
          "`forward(z, gamma, beta, eps)` and `forward_eval(..., eps)`, and bnspec's wrapper of the implementation "
          "(spec/target.py) passes it explicitly, positionally, on every call of every clause; the mutated default "
          "is never read, so the mutant computes the same values as the original on every call the protocol makes.",
    "zh-TW": "只有 `eps` 的預設值改變了，而協定從不使用它：`eps` 是 `forward(z, gamma, beta, eps)` 與 "
             "`forward_eval(..., eps)` 的引數，bnspec 對實作的包裝（spec/target.py）在每個條款的每次呼叫中，都以"
             "位置引數明確傳入它；被突變的預設值從不會被讀取，因此在協定所做的每次呼叫上，這個突變體算出的值都與"
             "原本的相同。",
}

REASONS: dict[str, tuple[str, dict[str, str]]] = {
    "forward: def forward(z, gamma, beta, eps=1e-5): -> def forward(z, gamma, beta, eps= 1.00001):":
        (EQUIVALENT, _DEFAULT_EPS),
    "forward: def forward(z, gamma, beta, eps=1e-5): -> def forward(z, gamma, beta, eps= -0.99999):":
        (EQUIVALENT, _DEFAULT_EPS),
    "forward_eval: def forward_eval(z, gamma, beta, running_mean, running_var, eps=1e-5): -> "
    "def forward_eval(z, gamma, beta, running_mean, running_var, eps= 1.00001):":
        (EQUIVALENT, _DEFAULT_EPS),
    "forward_eval: def forward_eval(z, gamma, beta, running_mean, running_var, eps=1e-5): -> "
    "def forward_eval(z, gamma, beta, running_mean, running_var, eps= -0.99999):":
        (EQUIVALENT, _DEFAULT_EPS),
}
