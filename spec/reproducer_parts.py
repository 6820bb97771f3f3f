"""The fixed pieces of a reproducer's source (:mod:`bnspec.spec.reproducer`): its helpers and the
``exec:`` client, as text.  Each is plain Python with numpy only, so the script runs without bnspec."""

from __future__ import annotations

from .process.protocol import NAME, VERSION
from .protocol import FUNCTIONS

#: How the script prints a value: every float with 17 significant digits, every element.
HELPERS = '''\
def show(x):
    """x in full: every element, 17 significant digits (exactly the float)."""
    if isinstance(x, tuple | list):
        return "(" + ", ".join(show(v) for v in x) + ")"
    if not isinstance(x, np.ndarray | float | np.floating):
        return repr(x)
    return np.array2string(np.asarray(x, dtype=np.float64), separator=", ", threshold=sys.maxsize,
                           max_line_width=110, formatter={"float_kind": lambda v: f"{v:.17g}"})
'''

#: The helpers a property's sources may use (Trial.close): per unit, over the examples, in the lecture's layout.
SOURCE_HELPERS = '''\

def mean(x):
    """Each unit's mean over the mini-batch (z is units x examples)."""
    return x.mean(axis=1, keepdims=True)


def var(x):
    """Each unit's biased variance over the mini-batch."""
    return x.var(axis=1, keepdims=True)


def z_norm(z, eps):
    """The normalized values (z - mu) / sqrt(sigma^2 + eps)."""
    return (z - mean(z)) / np.sqrt(var(z) + eps)
'''

#: The purity clauses' helpers: each argument before and after a call; results compared bit for bit.
PURITY_HELPERS = '''\

def before_after(function, names, before, after):
    """Print each array argument before and after the call; return the names of those it modified."""
    modified = []
    for name, was, now in zip(names, before, after):
        if isinstance(was, np.ndarray):
            changed = was.shape != now.shape or was.dtype != now.dtype or was.tobytes() != now.tobytes()
            modified += [name] if changed else []
            print(f"{function}: {name} before: {show(was)}")
            print(f"{function}: {name} after:  {show(now)}" + ("   <-- MODIFIED" if changed else ""))
    return modified


def same(a, b):
    """The same results: arrays of one shape and dtype, bit for bit (NaN equal to NaN)."""
    if isinstance(a, tuple | list) and isinstance(b, tuple | list):
        return len(a) == len(b) and all(same(p, q) for p, q in zip(a, b))
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        return a.shape == b.shape and a.dtype == b.dtype and (
            a.tobytes() == b.tobytes() or bool(np.all((a == b) | (np.isnan(a) & np.isnan(b)))))
    return a is b or a == b
'''

_ARGUMENTS = {name: signature.argument_names for name, signature in FUNCTIONS.items()}

#: A minimal client of the process protocol (spec/process/protocol.py): handshake, then one JSON line per call.
EXEC_CLIENT = f'''\
import builtins
import json
import shlex
import subprocess

ARGUMENTS = {_ARGUMENTS!r}


def encode(value):
    """An argument as the process protocol carries it: every float as float.hex(), exact."""
    if isinstance(value, np.ndarray):
        data = [float(x).hex() for x in value.astype(np.float64).ravel().tolist()]
        return {{"dtype": value.dtype.name, "shape": list(value.shape), "data": data}}
    return float(value).hex()


def decode(array):
    data = [float.fromhex(x) if isinstance(x, str) else x for x in array["data"]]
    return np.array(data, dtype=np.float64).astype(array["dtype"]).reshape(array["shape"])


class Program:
    """The program that `bnspec check --exec` runs, spoken to as bnspec does."""

    def __init__(self, command, cwd):
        self.process = subprocess.Popen(shlex.split(command), cwd=cwd, stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True, encoding="utf-8")
        self.id = 0
        self.request("handshake", {{"protocol": {NAME!r}, "version": {VERSION!r}}})

    def request(self, call, args):
        self.process.stdin.write(json.dumps({{"id": self.id, "call": call, "args": args}}) + "\\n")
        self.process.stdin.flush()
        self.id += 1
        reply = json.loads(self.process.stdout.readline())
        if not reply["ok"]:
            kind = getattr(builtins, reply["error"]["type"], None)
            kind = kind if isinstance(kind, type) and issubclass(kind, Exception) else RuntimeError
            raise kind(f"{{reply['error']['type']}}: {{reply['error']['message']}}")
        return reply["result"]

    def __getattr__(self, function):
        def call(*args):
            results = self.request(function, dict(zip(ARGUMENTS[function], map(encode, args))))
            results = [decode(result) for result in results]
            return results[0] if len(results) == 1 else tuple(results)
        return call

'''
