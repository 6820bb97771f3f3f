"""Conventions a target declares: a profile as a mapping of convention fields, and an update of the
running statistics that writes them in place (``running_update = "in_place"``).

The classes here import only numpy and bnspec, so that this file is itself a target for the
command line (``bnspec check tests/test_conventions.py:D2LBatchNorm``).  A hard-coded eps declared
with ``fixed_eps`` is tests/test_eps_in_effect.py's: the declaration changes no verdict, the clauses
about eps's value still fail (test_declaring_the_fixed_eps_changes_no_verdict).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bnspec.reference import batchnorm as ref
from bnspec.spec import optimizer_forms, profiles
from bnspec.spec.errors import TargetError

HERE = Path(__file__).resolve()
BNSPEC = Path(sys.executable).with_name("bnspec")


# -- d2l.ai's batch norm ---------------------------------------------------------------


def d2l_batch_norm(X, gamma, beta, moving_mean, moving_var, eps, momentum, training):
    """d2l.ai's ``batch_norm`` (Dive into Deep Learning, chapter "Batch Normalization",
    chapter_convolutional-modern/batch-norm.md, the mxnet and pytorch tabs, d2l-en at 23d7a5a) in numpy,
    for the fully connected case: X is examples x features, the statistics over axis 0, the variance
    divided by m, and momentum weighing the NEW value, ``(1.0 - momentum) * moving_mean + momentum *
    mean`` (the book's layer passes momentum=0.1; since d2l-en 297b893, 2022-08: before, and in the jax
    tab still, ``momentum * moving_mean + (1.0 - momentum) * mean`` with 0.9, the lecture's convention).
    ``training`` stands for autograd's training mode."""
    if not training:
        X_hat = (X - moving_mean) / np.sqrt(moving_var + eps)
    else:
        mean = X.mean(axis=0)
        var = ((X - mean) ** 2).mean(axis=0)
        X_hat = (X - mean) / np.sqrt(var + eps)
        moving_mean = (1.0 - momentum) * moving_mean + momentum * mean
        moving_var = (1.0 - momentum) * moving_var + momentum * var
    Y = gamma * X_hat + beta
    return Y, moving_mean, moving_var


class D2LBatchNorm:
    """The protocol on d2l's function (backward is autograd's in the book: not provided here).
    Its conventions differ from the lecture's in one field only."""

    layout = "batch_first"  # X is m x n; gamma, beta and the moving statistics have shape [n]
    profile = {"momentum_weighs": "new"}

    def forward(self, z, gamma, beta, eps):
        return d2l_batch_norm(z, gamma, beta, np.zeros_like(gamma), np.ones_like(gamma), eps, 0.1, True)[0]

    def update_running(self, running_mean, running_var, z, momentum):
        ones = np.ones_like(running_mean)
        _, mean, var = d2l_batch_norm(z, ones, 0 * ones, running_mean, running_var, 1e-5, momentum, True)
        return mean, var

    def forward_eval(self, z, gamma, beta, running_mean, running_var, eps):
        return d2l_batch_norm(z, gamma, beta, running_mean, running_var, eps, 0.1, False)[0]


class D2LUndeclared(D2LBatchNorm):
    profile = None  # the lecture's conventions are expected


# -- running statistics written in place ------------------------------------------------


class InPlaceBN:
    """The reference, with update_running writing its result into the arrays it is given, as a
    framework's layer keeps its buffers, and returning it too."""

    running_update = "in_place"
    forward = staticmethod(ref.forward)
    backward = staticmethod(ref.backward)
    forward_eval = staticmethod(ref.forward_eval)

    def update_running(self, running_mean, running_var, z, momentum):
        new_mean, new_var = ref.update_running(running_mean, running_var, z, momentum)
        running_mean[...] = new_mean
        running_var[...] = new_var
        return new_mean, new_var


class InPlaceUndeclared(InPlaceBN):
    running_update = None


class InPlaceReturningItsBuffers(InPlaceBN):
    """Returns the very arrays it wrote into."""

    def update_running(self, running_mean, running_var, z, momentum):
        super().update_running(running_mean, running_var, z, momentum)
        return running_mean, running_var


class InPlaceWritingSomethingElse(InPlaceBN):
    """Writes the running variance with the momentum swapped, returns the right one."""

    def update_running(self, running_mean, running_var, z, momentum):
        new_mean, new_var = ref.update_running(running_mean, running_var, z, momentum)
        swapped = ref.update_running(running_mean, running_var, z, 1.0 - momentum)[1]
        running_mean[...] = new_mean
        running_var[...] = swapped
        return new_mean, new_var


class InPlaceTouchingZ(InPlaceBN):
    """Writes its result in place, as declared, and also centres z in place."""

    def update_running(self, running_mean, running_var, z, momentum):
        result = super().update_running(running_mean, running_var, z, momentum)
        z -= z.mean(axis=1, keepdims=True)
        return result


class TFFusedKernelBN:
    """The running update of TensorFlow's CPU fused kernel (fused_batch_norm_op.cc): the factor weighs
    the batch, the variance gets m / max(m - 1, 1); at m = 1 the output is beta.  Checked under ``tf``."""

    profile = "tf"
    forward = staticmethod(ref.forward)
    backward = staticmethod(ref.backward)
    forward_eval = staticmethod(ref.forward_eval)

    def update_running(self, running_mean, running_var, z, factor):
        m = z.shape[1]
        mean = z.mean(axis=1, keepdims=True)
        var = np.square(z - mean).mean(axis=1, keepdims=True)
        return ((1 - factor) * running_mean + factor * mean,
                (1 - factor) * running_var + factor * m / max(m - 1, 1) * var)


# -- the tests ------------------------------------------------------------------------------


def _run(clause_id, impl, profile=None):
    from spec_runs import run

    return run(clause_id, impl, shrink=False, profile=profile)


def _subject(impl, profile=None):
    from spec_runs import subject_of

    return subject_of(impl, type(impl).__name__, profile)


def test_a_d2l_batch_norm_declaring_its_momentum_conforms_to_every_clause(capsys):
    from bnspec.spec.cli import main

    code = main(["check", f"{HERE}:D2LBatchNorm", "--quiet", "--max-examples", "15"])
    assert code == 0, capsys.readouterr().out
    assert _subject(D2LBatchNorm()).profile.name == "custom(momentum_weighs=new)"


def test_without_the_declaration_d2l_fails_the_running_average_under_the_lecture():
    failed = _run("BN-RUN-1", D2LUndeclared())
    assert failed.status == "FAIL" and "after one update (under the lecture profile: momentum weighs the old " \
        "value, biased variance)" in failed.message
    assert _run("BN-RUN-1", D2LBatchNorm()).status == "pass"
    # --profile overrides with the same conventions, spelled as the custom profile's name
    assert _run("BN-RUN-1", D2LUndeclared(), profile="custom(momentum_weighs=new)").status == "pass"


def test_a_mapping_takes_its_other_fields_from_its_base():
    d2l = profiles.resolve({"momentum_weighs": "new"})
    assert (d2l.momentum_weighs, d2l.running_var, d2l.single_example, d2l.eps) == ("new", "biased", "beta", 1e-5)
    assert d2l.sources["momentum_weighs"] == "declared by the target"
    assert d2l.sources["running_var"] == profiles.LECTURE.sources["running_var"]
    keras_layer = profiles.resolve({"base": "tf", "momentum_weighs": "old"}, by="--profile")
    assert keras_layer.name == "custom(base=tf, momentum_weighs=old)"
    assert (keras_layer.running_var, keras_layer.eps, keras_layer.sources["momentum_weighs"]) == (
        "unbiased", 1e-3, "declared by --profile")
    raising = profiles.resolve({"single_example": "raises", "refusal": "ZeroDivisionError", "eps": 1e-3,
                                "feature_axis": "1 (N, C)"})
    assert raising.refusal == "ZeroDivisionError" and raising.eps == 1e-3
    for profile, by in ((d2l, "the target"), (keras_layer, "--profile"), (raising, "the target")):
        assert profiles.resolve(profile.name, by=by) == profile  # the name is a profile the resolver reads back
    assert profiles.resolve({}) is profiles.LECTURE and profiles.resolve({"base": "torch"}) is profiles.TORCH


@pytest.mark.parametrize(("declared", "named"), [
    ({"momentum_weighs": "newest"}, ["momentum_weighs", "'newest'", "old | new"]),
    ({"momentum": "new"}, ["'momentum'", "momentum_weighs, running_var, single_example"]),
    ({"running_var": 1}, ["running_var", "1", "biased | unbiased"]),
    ({"eps": -1e-5}, ["eps", "-1e-05", "a number > 0"]),
    ({"eps": True}, ["eps", "True", "a number > 0"]),
    ({"single_example": "raises", "refusal": "Oops"}, ["refusal", "'Oops'", "builtin exception"]),
    ({"refusal": "ValueError"}, ["refusal", "single_example", "'raises'"]),
    ({"base": "d2l"}, ["base", "'d2l'", "lecture | paper | torch"]),
    ({"base": "tf", "single_example": ["beta"]}, ["single_example", "a list", "beta | raises"]),
], ids=lambda v: repr(v) if isinstance(v, dict) else "")
def test_a_bad_mapping_names_the_key_the_value_and_the_values_allowed(declared, named):
    class Declares(InPlaceBN):
        profile = declared

    with pytest.raises(TargetError) as error:
        _subject(Declares())
    message = str(error.value)
    assert "\n" not in message and message.startswith("target 'Declares': profile: ")
    for part in named:
        assert part in message, message


def _bnspec(*args, cwd=None):
    return subprocess.run([str(BNSPEC), *args], capture_output=True, text=True, timeout=120, cwd=cwd)


@pytest.mark.parametrize(("declared", "named"), [
    ('{"momentum_weighs": "newest"}', ["momentum_weighs", "'newest'", "old | new"]),
    ('{"momentum": "new"}', ["'momentum'", "not a convention field"]),
    ('{"base": "tf", "eps": "tiny"}', ["eps", "'tiny'", "a number > 0"]),
], ids=["value", "key", "eps"])
def test_a_bad_profile_mapping_is_a_usage_error_on_one_line(tmp_path, declared, named):
    target = tmp_path / "declares.py"
    target.write_text(f"from bnspec.reference.batchnorm import forward, update_running\nprofile = {declared}\n")
    done = _bnspec("check", str(target), "--clause", "BN-RUN-1")
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("bnspec: "), done.stderr
    for part in named:
        assert part in lines[0], lines[0]


def test_a_bad_profile_name_on_the_command_line_is_a_usage_error():
    done = _bnspec("check", "reference", "--profile", "custom(momentum_weighs=sideways)", "--clause", "BN-RUN-1")
    assert done.returncode == 2
    assert "--profile: momentum_weighs = 'sideways' is not allowed" in done.stderr


def test_bnspec_profiles_lists_the_fields_with_their_values_and_the_lectures(capsys):
    from bnspec.spec.cli import main

    assert main(["profiles"]) == 0
    out = capsys.readouterr().out
    for convention in profiles.CONVENTIONS.values():
        assert f"  {convention.name}: {convention.allowed}; lecture: " in out, convention.name
    assert "  momentum_weighs: old | new; lecture: old" in out and "  eps: a number > 0; lecture: 1e-05" in out
    assert "  base: lecture | paper |" in out
    assert out.index("momentum_weighs: old | new") < out.index("\nlecture: eps")
    assert "\ntf: eps 0.001; momentum weighs the new value; running variance unbiased; at m = 1: beta" in out


def test_the_allowed_values_have_one_home():
    from typing import get_args

    assert profiles.CONVENTIONS["momentum_weighs"].choices == get_args(profiles.MomentumWeighs) == ("old", "new")
    assert profiles.CONVENTIONS["running_var"].choices == ("biased", "unbiased")
    assert profiles.CONVENTIONS["single_example"].choices == ("beta", "raises")
    assert profiles.CONVENTIONS["momentum_form"].choices == get_args(optimizer_forms.MomentumForm)
    assert profiles.CONVENTIONS["rmsprop_eps"].choices == get_args(optimizer_forms.EpsPlace) == ("outside", "inside")
    assert profiles.CONVENTIONS["adam_eps"].choices == get_args(optimizer_forms.AdamEps)
    assert set(profiles.CONVENTIONS) == {"momentum_weighs", "running_var", "single_example", "refusal", "eps",
                                         "feature_axis", "momentum_form", "rmsprop_eps", "adam_eps"}


@pytest.mark.parametrize("clause_id", ["BN-RUN-1", "BN-RUN-2", "BN-DEG-2"])
def test_the_tf_profile_is_the_fused_kernels_conventions(clause_id):
    assert _run(clause_id, TFFusedKernelBN()).status == "pass"
    if clause_id != "BN-DEG-2":  # at m = 1 the kernel returns beta, as the lecture's formulas
        assert _run(clause_id, TFFusedKernelBN(), profile="lecture").status == "FAIL"


# -- BN-PURE-1 and running_update = "in_place" ----------------------------------------------


@pytest.mark.parametrize("impl", [InPlaceBN(), InPlaceReturningItsBuffers()], ids=type)
def test_an_in_place_update_that_declares_it_is_pure(impl):
    assert _subject(impl).declaration.running_update == "in_place"
    assert _run("BN-PURE-1", impl).status == "pass"


def test_an_undeclared_in_place_update_fails_and_is_told_what_to_declare():
    failed = _run("BN-PURE-1", InPlaceUndeclared())
    assert failed.status == "FAIL"
    assert re.search(r"update_running modified its argument running_(mean|var)", failed.message)
    assert "declares running_update = 'in_place'" in failed.message


def test_an_in_place_update_must_write_what_it_returns():
    failed = _run("BN-PURE-1", InPlaceWritingSomethingElse())
    assert failed.status == "FAIL"
    assert ("update_running wrote into its argument running_var (declared running_update = 'in_place'), but "
            in failed.message and "differ from the running_var it returned" in failed.message)


def test_in_place_allows_the_running_statistics_only():
    failed = _run("BN-PURE-1", InPlaceTouchingZ())
    assert failed.status == "FAIL" and "update_running modified its argument z" in failed.message


def test_the_declarations_cross_the_process_boundary(tmp_path):
    """--isolate: the child's handshake carries the profile mapping and running_update, and the
    arguments it writes come back to BN-PURE-1."""
    from bnspec.spec.clauses import REGISTRY
    from bnspec.spec.session import RunOptions, Session

    for name, status in (("InPlaceBN", "pass"), ("InPlaceWritingSomethingElse", "FAIL")):
        with Session(RunOptions(f"{HERE}:{name}", isolate=True)) as session:
            assert session.subject.declaration.running_update == "in_place"
            assert session.run_clause(REGISTRY["BN-PURE-1"]).status == status, name
    with Session(RunOptions(f"{HERE}:D2LBatchNorm", isolate=True)) as session:
        assert session.subject.profile.name == "custom(momentum_weighs=new)"
        assert session.run_clause(REGISTRY["BN-RUN-1"]).status == "pass"
