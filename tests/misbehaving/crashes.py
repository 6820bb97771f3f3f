"""forward ends its process: os._exit, a segmentation fault, an abort (run with --isolate only)."""

import ctypes
import os

from .base import CorrectBN


class OsExitBN(CorrectBN):
    def forward(self, z, gamma, beta, eps=1e-5):
        os._exit(0)


class SegfaultBN(CorrectBN):
    def forward(self, z, gamma, beta, eps=1e-5):
        return ctypes.string_at(0)  # reads address 0: SIGSEGV


class AbortBN(CorrectBN):
    def forward(self, z, gamma, beta, eps=1e-5):
        os.abort()
