"""The properties that prove the clauses, grouped by topic.

A property is a function ``check(target, trial)`` (:data:`Check`): ``target``
is the implementation under test as this example sees it
(:class:`bnspec.spec.target.Target`, always in the lecture's ``n x m``
layout), ``trial`` the example itself (:class:`bnspec.spec.trial.Trial`):
``trial.draw(strategy, label)`` draws a labelled input, and ``trial.close``,
``trial.holds`` and ``trial.equal`` check the claim, raising
:class:`bnspec.spec.errors.ClauseViolation` when it does not hold.  A property
checks its claim as directly as the claim allows; the implementation's other
faults reach it as :class:`~bnspec.spec.errors.ProtocolBreach` or
:class:`~bnspec.spec.errors.ImplementationRaised` from the target.  Anything
else a property raises is bnspec's own error.  :func:`proves` registers it
under its clause's ID.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..target import Target
    from ..trial import Trial

#: A property: ``check(target, trial)``, one example of its clause.
Check = Callable[["Target", "Trial"], None]


@dataclass(frozen=True)
class Property:
    clause_id: str
    check: Check
    needs: tuple[str, ...]
    max_examples: int | None
    needs_any: bool = False  # True: the target needs one of ``needs`` (the property runs those it has)

    @property
    def qualname(self) -> str:
        return f"{self.check.__module__}.{self.check.__qualname__}"


PROPERTIES: dict[str, Property] = {}


def proves(
    clause_id: str, *, needs: tuple[str, ...] = ("forward",), max_examples: int | None = None,
    needs_any: bool = False,
) -> Callable[[Check], Check]:
    """Register the decorated check as the property of ``clause_id``.

    ``needs`` lists the protocol functions it calls (a target without one of
    them makes the clause "not applicable"; with ``needs_any``, a target without
    any of them); ``max_examples`` caps the number of examples for costly
    properties (networks, training).
    """

    def register(check: Check) -> Check:
        if clause_id in PROPERTIES:
            raise ValueError(f"clause_id: {clause_id} already has a property")
        PROPERTIES[clause_id] = Property(clause_id, check, needs, max_examples, needs_any)
        return check

    return register


def load_all() -> dict[str, Property]:
    """Import every property module and return the registry."""
    # imported for their @proves registrations, in the order of the specification
    from . import dtypes, forward, gradients, invariance, network, purity, running, variants  # noqa: F401, I001
    from . import optimizers, optimizer_rules  # noqa: F401, I001

    return PROPERTIES
