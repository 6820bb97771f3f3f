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

import pytest
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


# The browser tests' shared fixtures (tests/test_docs_*.py, tests/test_matrix_page.py).
#: The browser's window: every target column of the conformance matrix must show at this width.
BROWSER_WIDTH, BROWSER_HEIGHT = 1400, 1000


@pytest.fixture(scope="module")
def site_url(tmp_path_factory):
    """The built site's URL, served from a folder of a local server (tests/docs_server.py) while the
    module's tests run."""
    from docs_server import serving
    from docs_site import built_site

    with serving(built_site(tmp_path_factory)) as url:
        yield url


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """A headless Chromium tab (:data:`BROWSER_WIDTH` x :data:`BROWSER_HEIGHT`) for the module's tests."""
    from cdp import Browser

    chromium = Browser(tmp_path_factory.mktemp("chromium"), width=BROWSER_WIDTH, height=BROWSER_HEIGHT)
    yield chromium.page()
    chromium.close()
