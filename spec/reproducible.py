"""Clause runs that depend on their options alone, not on what the process imported.

Hypothesis (from 6.131) mixes into its draws constants it collects from the
source of every *local* module in ``sys.modules``: modules outside
site-packages, such as bnspec itself when installed editable, a user's
implementation file, or anything else the process happened to import.  The
same seed then draws other examples under pytest than under ``bnspec check``,
and ``bnspec check T --clause X --seed S`` can miss the failure that the full
run found.  A run must be a function of (target, profile, seed, max_examples)
alone -- that is what the "reproduce the run" line of every failure promises.

:func:`without_local_constants` hands hypothesis an empty pool of local
constants for the duration of a clause (its global pool of interesting values
stays).  Hypothesis offers no setting for this, so the context manager swaps a
private function.  Three guards keep that honest:

- ``pyproject.toml`` allows the hypothesis versions whose private API has the
  expected shape (6.132 on; 6.131 built the pool differently);
- :data:`PINNED` is decided at import from the function's signature and the
  cache's shape, not assumed; :data:`NOT_PINNED` says why when it is False;
- ``bnspec check`` prints that reason in its header and the JSON report
  records ``draws_pinned``, so a run whose ``--seed`` may not reproduce it says
  so.  ``--save-failures`` case files reproduce a failure exactly either way.

``tests/test_reproducible.py`` shows the draws are identical across imports
with the pin and differ without it, and fails if the installed hypothesis
leaves the pin off.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

import hypothesis

_providers: ModuleType | None
_Constants: Any = None
try:
    from hypothesis.internal.conjecture import providers as _providers
    from hypothesis.internal.constants_ast import Constants as _Constants
except ImportError:  # a hypothesis without local constants (< 6.131): nothing to pin, nothing mixed in
    _providers = None


def _why_not_pinnable() -> str:
    """'' when the private function can be swapped, else why not."""
    if _providers is None or _Constants is None:
        return ""
    collect = getattr(_providers, "_get_local_constants", None)
    cache = getattr(_providers, "CONSTANTS_CACHE", None)
    if collect is None or cache is None or not hasattr(cache, "cache"):
        return f"hypothesis {hypothesis.__version__} has no _get_local_constants/CONSTANTS_CACHE to swap"
    signature = inspect.signature(collect)
    if signature.parameters or "Constants" not in str(signature.return_annotation):
        return f"hypothesis {hypothesis.__version__}'s _get_local_constants{signature} is not the expected shape"
    return ""


#: Why the draws may depend on the modules the process imported ('' when they cannot).
NOT_PINNED = _why_not_pinnable()
#: True when every clause run draws the same examples for the same options.
PINNED = not NOT_PINNED


@contextmanager
def without_local_constants() -> Iterator[None]:
    """Within the block, hypothesis draws no constants from the process's local modules."""
    if _providers is None or not PINNED:
        yield
        return
    names = vars(_providers)  # the module's private names, swapped by name
    empty = _Constants()
    collect = names["_get_local_constants"]
    names["CONSTANTS_CACHE"].cache.clear()  # it holds the pool's values per kind of draw
    names["_get_local_constants"] = lambda: empty
    try:
        yield
    finally:
        names["_get_local_constants"] = collect
        names["CONSTANTS_CACHE"].cache.clear()
