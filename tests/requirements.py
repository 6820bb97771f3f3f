"""What a test needs beyond ``pip install -e '.[dev]'``, in one place: a framework
(an optional extra), a program (node, Chromium), a built asset (KaTeX).

Where it is missing the test is *skipped* with the reason.  Under the environment
variable ``BNSPEC_REQUIRE_ALL=1`` (``make test``, hence ``.ci/run``) the same
reason is a *failure*: a run that is meant to have everything cannot go green by
skipping.

Marks, evaluated at each test's setup (tests/conftest.py imports
:func:`pytest_runtest_setup`; the markers are registered in pyproject.toml)::

    @require_module("ml_dtypes", "dev")       # one module, installed by an extra
    @require_extra("torch")                   # every module of one or more extras
    @require_program("node", "install Node.js")

Calls, for module level (before a module-level import of the framework),
fixtures and test bodies -- each returns what it checked, or skips (fails)::

    torch = need_module("torch", "torch")
    need_extra("docs"); need_program(CHROMIUM, hint); need_path(KATEX, hint)
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import shutil
from pathlib import Path
from types import ModuleType
from typing import NoReturn

import pytest

#: The environment variable that turns every missing requirement into a failure.
REQUIRE_ALL = "BNSPEC_REQUIRE_ALL"

#: The frameworks of the bundled adapters: each an extra of pyproject.toml.
FRAMEWORKS = ("torch", "flax", "keras", "onnxruntime", "tinygrad", "mlx", "onnx", "tensorflow", "optax")

#: extra -> the top-level modules of it that the tests import (directly or through an adapter or mkdocs).
EXTRA_MODULES: dict[str, tuple[str, ...]] = {
    "torch": ("torch",),
    "flax": ("flax", "jax"),
    "keras": ("keras", "jax"),
    "onnxruntime": ("onnx", "onnxruntime"),
    "tinygrad": ("tinygrad",),
    "mlx": ("mlx",),
    "onnx": ("onnx",),
    "tensorflow": ("tensorflow",),
    "optax": ("optax", "jax"),
    "docs": ("mkdocs", "material", "mkdocstrings", "mkdocs_autorefs", "mkdocs_static_i18n", "pymdownx",
             "matplotlib", "jieba"),
}


def require_all() -> bool:
    """Whether a missing requirement fails (``BNSPEC_REQUIRE_ALL`` set, and not to 0)."""
    return os.environ.get(REQUIRE_ALL, "") not in ("", "0")


def unavailable(reason: str) -> NoReturn:
    """Skip the current test (or module, at module level) with ``reason``; under
    ``BNSPEC_REQUIRE_ALL=1`` fail with it instead."""
    if require_all():
        pytest.fail(f"{reason} [{REQUIRE_ALL}=1: a missing requirement fails]", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


# -- what is missing, as a reason (None: present) ------------------------------------


def _installed(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # a parent package missing, or a module set to None in sys.modules
        return False


def _not_installed(names: list[str], extras: list[str]) -> str:
    which = "which is" if len(names) == 1 else "which are"
    return (f"needs {', '.join(names)}, {which} not installed (pip install -e '.[{','.join(extras)}]'; "
            "`make test` installs every extra)")


def missing_module(name: str, extra: str) -> str | None:
    return None if _installed(name) else _not_installed([name], [extra])


def missing_extra(*extras: str) -> str | None:
    missing = {(name, extra) for extra in extras for name in EXTRA_MODULES.get(extra, (extra,)) if not _installed(name)}
    if not missing:
        return None
    return _not_installed(sorted({name for name, _ in missing}), sorted({extra for _, extra in missing}))


def missing_program(name: str, hint: str) -> str | None:
    if shutil.which(name):
        return None
    return f"needs the program {name}, which is not {'there' if os.sep in name else 'on PATH'} ({hint})"


def missing_path(path: Path, hint: str) -> str | None:
    if path.exists():
        return None
    return f"needs {path}, which does not exist ({hint})"


def is_installed(*extras: str) -> bool:
    """Whether every module of ``extras`` is installed (e.g. to compute parameters only where it is)."""
    return missing_extra(*extras) is None


# -- checks now: module level, fixtures, test bodies ---------------------------------


def need_module(name: str, extra: str) -> ModuleType:
    """The module ``name`` imported; skipped (failed) when it is not installed."""
    if reason := missing_module(name, extra):
        unavailable(reason)
    return importlib.import_module(name)


def need_extra(*extras: str) -> None:
    if reason := missing_extra(*extras):
        unavailable(reason)


def need_program(name: str, hint: str) -> str:
    """The program's path; skipped (failed) when it is not found."""
    if reason := missing_program(name, hint):
        unavailable(reason)
    return shutil.which(name) or name


def need_path(path: Path, hint: str) -> Path:
    if reason := missing_path(path, hint):
        unavailable(reason)
    return path


# -- marks, checked at setup ---------------------------------------------------------


def require_module(name: str, extra: str) -> pytest.MarkDecorator:
    return pytest.mark.requires_module(name, extra)


def require_extra(*extras: str) -> pytest.MarkDecorator:
    return pytest.mark.requires_extra(*extras)


def require_program(name: str, hint: str) -> pytest.MarkDecorator:
    return pytest.mark.requires_program(name, hint)


def missing_for(item: pytest.Item) -> str | None:
    """Why ``item`` cannot run, from its requires_* marks (None: it can)."""
    reasons = [missing_module(*m.args) for m in item.iter_markers("requires_module")]
    reasons += [missing_extra(*m.args) for m in item.iter_markers("requires_extra")]
    reasons += [missing_program(*m.args) for m in item.iter_markers("requires_program")]
    return "; ".join(dict.fromkeys(r for r in reasons if r)) or None


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Before the test's fixtures: skip (fail) it if a requirement of its marks is missing."""
    if reason := missing_for(item):
        unavailable(reason)
