"""forward prints (Python writes, raw writes to the file descriptors, C's stdio), or reads stdin.

Under --isolate, fd 0 and 1 are the protocol's channel in the parent's view: the
server keeps them private, so none of this can corrupt a reply.
"""

import ctypes
import os
import sys

import numpy as np

from .base import CorrectBN


def chatter(z):
    print(f"DEBUG forward: z has shape {z.shape}")
    print("DEBUG stderr line", file=sys.stderr)
    os.write(1, b"DEBUG raw write to fd 1\n")


class ChattyBN(CorrectBN):
    """Correct, but talks: printing alone breaks no clause."""

    def forward(self, z, gamma, beta, eps=1e-5):
        chatter(z)
        return super().forward(z, gamma, beta, eps)


class ChattyNaNBN(CorrectBN):
    """Talks, and returns NaN."""

    def forward(self, z, gamma, beta, eps=1e-5):
        chatter(z)
        return np.full_like(z, np.nan)


class CChattyBN(CorrectBN):
    """Correct, but talks through C's stdio, which buffers (run with --isolate: the server flushes it)."""

    def forward(self, z, gamma, beta, eps=1e-5):
        ctypes.CDLL(None).puts(b"DEBUG C puts")
        return super().forward(z, gamma, beta, eps)


class ReadsStdinBN(CorrectBN):
    """Correct, but reads stdin first (isolated: /dev/null, never the protocol's requests)."""

    def forward(self, z, gamma, beta, eps=1e-5):
        sys.stdin.read()
        os.read(0, 100)
        return super().forward(z, gamma, beta, eps)
