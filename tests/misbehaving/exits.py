"""forward calls sys.exit (in process, SystemExit must not end the run), or raises KeyboardInterrupt
(run with --isolate only: in process, a KeyboardInterrupt is the user's Ctrl-C and ends the run)."""

import sys

from .base import CorrectBN


class SysExitBN(CorrectBN):
    def forward(self, z, gamma, beta, eps=1e-5):
        sys.exit(3)


class InterruptsBN(CorrectBN):
    def forward(self, z, gamma, beta, eps=1e-5):
        raise KeyboardInterrupt("raised by the implementation")
