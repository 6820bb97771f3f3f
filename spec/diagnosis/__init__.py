"""Diagnosis: from failing clauses to the bug that explains them.

When clauses fail, :func:`diagnose` fits the known bugs of
:mod:`~bnspec.spec.diagnosis.vocabulary` to the implementation, calling it
again on inputs of bnspec's choosing (:mod:`~bnspec.spec.diagnosis.probes`).
For each bug that fits, its model (:mod:`~bnspec.spec.diagnosis.models`, the
profile's correct batch norm with that one step changed) is run on the
failing clauses with the run's seed: the clauses the model fails too are the
ones the bug explains.  Root causes are ordered by how many failing clauses
they explain; a failing clause no root cause explains is listed as such,
never attributed by guess.

The implementation is called under the clause runner's protections (time
limit, captured output, its errors as no evidence); a diagnosis that cannot
finish says so and changes no verdict.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from ..errors import Status
from ..layouts import Arrangement
from ..protocol import Layout
from ..runner import ClauseResult, Options, run_clause
from ..strategies import ReplayMismatch
from ..target import Subject, Target
from ..trial import Trial
from .models import Model
from .probes import Fit, fit, suggested_profile
from .spatial import Regrouped
from .vocabulary import EXPLANATIONS, BugId

__all__ = ["BugId", "Diagnosis", "RootCause", "diagnose"]


@dataclass(frozen=True)
class RootCause:
    """A known bug that fits, what it means, the evidence, and the failing clauses it explains."""

    id: BugId
    explanation: str
    evidence: str
    clauses: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id.value, "explanation": self.explanation, "evidence": self.evidence,
                "clauses": list(self.clauses)}


@dataclass(frozen=True)
class Diagnosis:
    """The root causes of a run's failures, the failures none explains, and a better-fitting profile."""

    root_causes: tuple[RootCause, ...] = ()
    unexplained: tuple[str, ...] = ()
    suggested_profile: str | None = None
    profile_evidence: str = ""
    note: str = ""  # why the diagnosis could not finish, if it could not
    by_clause: dict[str, list[dict[str, str]]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The JSON report's top-level ``root_causes``, ``unexplained`` and ``suggested_profile``."""
        return {"root_causes": [r.as_dict() for r in self.root_causes], "unexplained": list(self.unexplained),
                "suggested_profile": self.suggested_profile, "diagnosis_note": self.note or None}

    def lines(self) -> list[str]:
        """One line per root cause (and for the unexplained and the profile), for the terminal."""
        lines = [f"root cause {r.id}: {r.explanation} -- explains {', '.join(r.clauses)}; evidence: {r.evidence}"
                 for r in self.root_causes if r.clauses]
        if self.suggested_profile:
            lines.append(f"suggested profile: --profile {self.suggested_profile} ({self.profile_evidence})")
        if self.unexplained:
            lines.append(f"no known bug explains {', '.join(self.unexplained)}: read their details below")
        if self.note:
            lines.append(f"diagnosis incomplete: {self.note}")
        return lines


def _model_subject(subject: Subject, model: Model | Regrouped) -> Subject:
    """The bug's model as a subject: in the lecture's layout, or (a spatial bug's, whose groups depend
    on the spatial shape) in the implementation's, so that a replay lays it out as it did the
    implementation."""
    declared = subject.declaration
    spatial = isinstance(model, Regrouped)
    # every other declaration as the implementation's (fixed eps, affine, variants), so that the model gets
    # the same draws and the same n/a; the functions are those the model has
    declaration = replace(declared, functions=tuple(f for f in declared.functions if hasattr(model, f)),
                          layout=declared.layout if spatial else Layout.UNITS_FIRST,
                          spatial_dims=declared.spatial_dims if spatial else (0,))
    return Subject(impl=model, spec=f"the model {model!r:.80}", declaration=declaration,
                   profile=subject.profile)


def _explained(model_impl: Model | Regrouped, subject: Subject, failing: list[ClauseResult],
               options: Options) -> tuple[str, ...]:
    """The failing clauses a model fails too: on the implementation's own counterexample, or
    with the run's seed and number of examples (a failure at rounding level depends on the draws)."""
    model = _model_subject(subject, model_impl)
    quick = Options(max_examples=options.max_examples, seed=options.seed, shrink=False, timeout=options.timeout)

    def fails(result: ClauseResult) -> bool:
        try:
            if result.draws and run_clause(result.clause, model, quick, replay=list(result.draws)).status \
                    is Status.FAIL:
                return True
        except ReplayMismatch:  # the counterexample is outside the property's domain for the model's draws
            pass
        return run_clause(result.clause, model, quick).status is Status.FAIL

    return tuple(r.clause.id for r in failing if fails(r))


def diagnose(subject: Subject, results: list[ClauseResult], options: Options) -> Diagnosis:
    """The diagnosis of ``results`` (empty when nothing failed); a failure of bnspec's own diagnosing
    code is a note, never a lost report or a changed verdict."""
    try:
        return _diagnose(subject, results, options)
    except Exception as error:  # bnspec's own error: the verdicts stand without a diagnosis
        return Diagnosis(note=f"bnspec's own error while diagnosing: {type(error).__name__}: {error}")


def _diagnose(subject: Subject, results: list[ClauseResult], options: Options) -> Diagnosis:
    # The BN bugs' vocabulary: an optimizer clause's failure names its own bug in its message
    # (bnspec.spec.diagnosis.optimizer_bugs).
    failing = [r for r in results if r.status is Status.FAIL and r.clause.kind == "layer"]
    if not failing:
        return Diagnosis()
    fits: list[Fit] = []
    profile: list[tuple[str, str] | None] = [None]

    def probe(target: Target, trial: Trial) -> None:
        # the probes lay their examples out with samples and positions, where a spatial bug shows
        target = Target(target.subject, target.calls, Arrangement(max(subject.declaration.spatial_dims)))
        fits.extend(fit(target))
        profile[0] = suggested_profile(target)

    ran = run_clause(failing[0].clause, subject, options, replay=[], check=probe)
    note = "" if ran.status is Status.PASS else f"the probes ended with {ran.status}: {ran.message[:200]}"
    explains = {id(found): _explained(found.model, subject, failing, options) for found in fits}
    # A clause the profile's correct model fails too (a SHOULD on input it does not validate, say) is
    # no bug's doing: the models share that step, not the bug.
    candidates = {r.clause.id for r in failing if any(r.clause.id in ids for ids in explains.values())}
    correct = Model(subject.profile, fixed_eps=subject.declaration.fixed_eps)
    shared = set(_explained(correct, subject, [r for r in failing if r.clause.id in candidates], options))
    causes = [RootCause(found.bug, EXPLANATIONS[found.bug], found.evidence,
                        tuple(c for c in explains[id(found)] if c not in shared)) for found in fits]
    order = list(BugId)
    causes.sort(key=lambda c: (-len(c.clauses), order.index(c.id)))
    explained = {c for cause in causes for c in cause.clauses}
    by_clause: dict[str, list[dict[str, str]]] = {}
    for cause in causes:
        for clause_id in cause.clauses:
            by_clause.setdefault(clause_id, []).append({"id": cause.id.value, "evidence": cause.evidence})
    suggestion = profile[0]
    return Diagnosis(tuple(causes), tuple(r.clause.id for r in failing if r.clause.id not in explained),
                     suggestion[0] if suggestion else None, suggestion[1] if suggestion else "", note, by_clause)
