"""Clause runs that depend on their options alone, not on what the process imported.

Hypothesis (from 6.131) mixes into its draws constants it collects from the
source of every *local* module in ``sys.modules``: modules outside
site-packages, such as bnspec itself when installed editable, a user's
implementation file, or anything else the process happened to import.  The
same seed then draws other examples under pytest than under ``bnspec check``,
and ``bnspec check T --clause X --seed S`` can miss the failure that the full
run found, because the full run had imported more modules by the time it
reached X.  A run must be a function of (target, profile, seed, max_examples)
alone -- that is what the "reproduce the run" line of every failure promises.

:func:`without_local_constants` hands hypothesis an empty pool of local
constants for the duration of a clause (its global pool of interesting values,
0, the float limits and the like, stays).  Hypothesis offers no setting for
this, so the context manager swaps the private function that builds the pool;
``tests/test_reproducible.py`` fails if a hypothesis release moves it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

_providers: ModuleType | None
_Constants: Any
try:
    from hypothesis.internal.conjecture import providers as _providers
    from hypothesis.internal.constants_ast import Constants as _Constants
except ImportError:  # a hypothesis without local constants: nothing to pin
    _providers = None

#: True when this hypothesis collects local constants and they can be pinned.
PINNABLE = _providers is not None and hasattr(_providers, "_get_local_constants") and hasattr(
    _providers, "CONSTANTS_CACHE")


@contextmanager
def without_local_constants() -> Iterator[None]:
    """Within the block, hypothesis draws no constants from the process's local modules."""
    if not PINNABLE or _providers is None:
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
