"""Hypothesis profiles for the suite, the zoo's import path, and the skips of
tests/requirements.py (a missing framework, program or asset).

``ci`` (the default, used by ``make test``): derandomized and bounded.
``thorough``: many more examples, for long runs (``HYPOTHESIS_PROFILE=thorough``).
The spec's runner reads ``max_examples`` from the loaded profile.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # `import zoo`

# A test whose framework, program or asset is missing is skipped, or fails under BNSPEC_REQUIRE_ALL=1.
from requirements import pytest_runtest_setup  # noqa: E402,F401

settings.register_profile(
    "ci", max_examples=40, derandomize=True, deadline=None, database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("thorough", max_examples=1000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# The `bnspec check` runs the tests start run their clauses in this process: pytest-xdist already runs one
# worker per CPU, and worker processes of their own would only compete for them (test_parallel.py runs
# --jobs itself).
os.environ.setdefault("BNSPEC_JOBS", "1")
