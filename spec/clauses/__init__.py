"""The clauses of the specification: the one source of truth.

Each clause has a stable ID, a level (RFC 2119: MUST or SHOULD), a one-sentence
statement, its formula in LaTeX, its sources (lecture claims L1-L12 of
``shared/seed/DIGEST.md``, sections of Ioffe & Szegedy 2015, or "convention"),
what it is about (``subject``) and the reference code that implements it.  The
runner's table, the tests and the docs read these records; the property that
proves a clause is registered under its ID in :mod:`bnspec.spec.properties`.

Subjects:

- ``layer``: the four protocol functions of the implementation under test;
- ``network``: the reference network with the implementation's BN plugged in
  between Z and A (L1), or trained with the implementation's optimizer (L4);
- ``optimizer``: the optimizer protocol's functions, one step of each optimizer.

Every clause states what an implementation must do; checks of the reference's
own machinery (its accuracy, optimizers, training loop) are tests in
``tests/``, not clauses.  ``kind`` is the kind of target a clause is about:
a run shows only the clauses of its target's kinds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

#: The kinds of implementation a clause can be about: a BN layer (the layer protocol) or an optimizer
#: (the optimizer protocol).  A target has the kinds of the protocol functions it has.
Kind = Literal["layer", "optimizer"]
KINDS: tuple[Kind, ...] = get_args(Kind)
LEVELS = ("MUST", "SHOULD")
SUBJECTS = ("layer", "network", "optimizer")


@dataclass(frozen=True)
class Clause:
    id: str
    level: str
    title: str
    statement: str
    formula: str
    sources: tuple[str, ...]
    subject: str
    implements: tuple[str, ...]
    kind: Kind = "layer"

    @property
    def group(self) -> str:
        """The ID without its number, e.g. ``BN-GRAD`` for ``BN-GRAD-3``."""
        return self.id.rsplit("-", 1)[0]


REGISTRY: dict[str, Clause] = {}


def clause(
    id: str,
    level: str,
    title: str,
    statement: str,
    formula: str,
    sources: tuple[str, ...],
    subject: str = "layer",
    implements: tuple[str, ...] = (),
    kind: Kind = "layer",
) -> Clause:
    """Register a clause (IDs are unique, levels and subjects from the lists above)."""
    if id in REGISTRY:
        raise ValueError(f"id: clause {id} is defined twice")
    if level not in LEVELS:
        raise ValueError(f"level: {level!r} is not one of {LEVELS}")
    if subject not in SUBJECTS:
        raise ValueError(f"subject: {subject!r} is not one of {SUBJECTS}")
    if kind not in KINDS:
        raise ValueError(f"kind: {kind!r} is not one of {KINDS}")
    record = Clause(id, level, title, statement, formula, sources, subject, implements, kind)
    REGISTRY[id] = record
    return record


def all_clauses() -> list[Clause]:
    """Every clause, in the order of the specification."""
    return list(REGISTRY.values())


def select(prefixes: list[str] | None) -> list[Clause]:
    """The clauses whose ID equals or starts with one of ``prefixes`` (all if None)."""
    if not prefixes:
        return all_clauses()
    return [c for c in REGISTRY.values() if any(c.id == p or c.id.startswith(p) for p in prefixes)]


# Registration order is the order of the specification.
from . import layer, running, dtypes, network, variants, optimizers  # noqa: E402, F401, I001
