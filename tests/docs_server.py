"""The built site over HTTP for the browser tests: served from 127.0.0.1, from the folder *above*
the site, so that the site lives in a folder of the server (``/docs-site/``) and every link of it
must be relative to work.  tests/conftest.py's fixtures ``site_url`` and ``browser`` serve it and
open it for a test module."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

#: The browser's window: every target column of the conformance matrix must show at this width.
WIDTH, HEIGHT = 1400, 1000


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextmanager
def serving(site: Path) -> Iterator[str]:
    """The URL of ``site`` (ending in ``/``), served from its parent folder while the block runs."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(site.parent)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/{site.name}/"
    finally:
        httpd.shutdown()
        httpd.server_close()

