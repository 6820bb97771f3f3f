"""forward calls sys.exit (in process, SystemExit must not end the run)."""

import sys

from .base import CorrectBN


class SysExitBN(CorrectBN):
    def forward(self, z, gamma, beta, eps=1e-5):
        sys.exit(3)
