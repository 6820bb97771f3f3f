"""A clause run draws the same examples whatever else the process has imported.

Hypothesis collects constants from the source of local modules in
``sys.modules`` and mixes them into its draws (``bnspec.spec.reproducible``);
without the runner's pin, importing a module between two runs with the same
seed changes what the second run draws, and ``--seed`` stops reproducing runs.
"""

from __future__ import annotations

import contextlib
import importlib
import sys

import numpy as np

from bnspec.reference import batchnorm
from bnspec.spec import reproducible, runner
from bnspec.spec.clauses import REGISTRY
from bnspec.spec.runner import Options, run_clause
from bnspec.spec.target import wrap


def _constants(offset: float) -> str:
    """Floats in [offset, offset + 0.2], inside the ranges of the clause's draws (gamma and the spreads'
    exponents in [-3, 3])."""
    return ", ".join(repr(offset + k / 997) for k in range(1, 200))


class Recording:
    """The reference, keeping every z, gamma and beta that forward is given (side by side)."""

    def __init__(self) -> None:
        self.seen: list[np.ndarray] = []

    def forward(self, z, gamma, beta, eps):
        self.seen.append(np.hstack([z, gamma, beta]))
        return batchnorm.forward(z, gamma, beta, eps)


def _drawn_z(module_dir, name: str, offset: float) -> list[np.ndarray]:
    """Import a new local module of float constants (from ``offset``), then run BN-AFFINE-1 at seed 0."""
    (module_dir / f"{name}.py").write_text(f"VALUES = [{_constants(offset)}]\n")
    sys.path.insert(0, str(module_dir))
    try:
        importlib.import_module(name)
        impl = Recording()
        result = run_clause(REGISTRY["BN-AFFINE-1"], wrap(impl, "recording"), Options(max_examples=15, seed=0))
        assert result.status == "pass", result.message
        return impl.seen
    finally:
        # the module stays imported: hypothesis notices new modules by the length of sys.modules
        sys.path.remove(str(module_dir))


def _same(first: list[np.ndarray], second: list[np.ndarray]) -> bool:
    return len(first) == len(second) and all(a.shape == b.shape and np.array_equal(a, b, equal_nan=True)
                                             for a, b in zip(first, second, strict=True))


def test_hypothesis_local_constants_can_be_pinned():
    assert reproducible.PINNED, (f"{reproducible.NOT_PINNED}: update bnspec/spec/reproducible.py and the "
                                 "hypothesis range in pyproject.toml")


def test_a_run_whose_draws_are_not_pinned_says_so(monkeypatch, capsys, tmp_path):
    from bnspec.spec.cli import main

    monkeypatch.setattr(reproducible, "NOT_PINNED", "a test's reason")
    monkeypatch.setattr(reproducible, "PINNED", False)
    assert main(["check", "reference", "--clause", "BN-SHAPE-1", "--max-examples", "2",
                 "--json", str(tmp_path / "r.json")]) == 0
    assert "the draws are not pinned (a test's reason)" in capsys.readouterr().out
    import json

    assert json.loads((tmp_path / "r.json").read_text())["meta"]["draws_pinned"] is False


def test_a_run_draws_the_same_examples_whatever_the_process_imported(tmp_path):
    assert _same(_drawn_z(tmp_path, "constants_one", 0.1), _drawn_z(tmp_path, "constants_two", 0.5))


def test_without_the_pin_imports_change_the_draws(tmp_path, monkeypatch):
    """The test above can fail: without the pin the second import changes the draws."""
    monkeypatch.setattr(runner, "without_local_constants", contextlib.nullcontext)
    assert not _same(_drawn_z(tmp_path, "constants_three", 1.1), _drawn_z(tmp_path, "constants_four", 1.6))
