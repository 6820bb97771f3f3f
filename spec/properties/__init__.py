"""The properties that prove the clauses, grouped by topic.

A property is a function ``check(target, draw)``: ``target`` is the
implementation under test (:class:`bnspec.spec.target.Target`), ``draw`` a
labelled hypothesis draw (:class:`bnspec.spec.strategies.Draw`).  It checks its
claim as directly as the claim allows, and raises
:class:`bnspec.spec.assertions.ClauseViolation` when it does not hold.
:func:`proves` registers it under its clause's ID.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Check = Callable[[Any, Any], None]


@dataclass(frozen=True)
class Property:
    clause_id: str
    check: Check
    needs: tuple[str, ...]
    max_examples: int | None

    @property
    def qualname(self) -> str:
        return f"{self.check.__module__}.{self.check.__qualname__}"


PROPERTIES: dict[str, Property] = {}


def proves(
    clause_id: str, *, needs: tuple[str, ...] = ("forward",), max_examples: int | None = None
) -> Callable[[Check], Check]:
    """Register the decorated check as the property of ``clause_id``.

    ``needs`` lists the protocol functions it calls (a target without one of
    them makes the clause "not applicable"); ``max_examples`` caps the number of
    examples for costly properties (networks, training).
    """

    def register(check: Check) -> Check:
        if clause_id in PROPERTIES:
            raise ValueError(f"clause_id: {clause_id} already has a property")
        PROPERTIES[clause_id] = Property(clause_id, check, needs, max_examples)
        return check

    return register


def load_all() -> dict[str, Property]:
    """Import every property module and return the registry."""
    from . import accuracy, dtypes, forward, gradients, invariance, network, optimizers, purity, running  # noqa: F401, I001

    return PROPERTIES
