"""Copy-paste numpy reproducers of a failure, from the calls the target logged."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import bfloat16
from .process.protocol import EXEC_PREFIX
from .target import Call

MAX_CALLS = 4


def literal(value: Any) -> str:
    """Python source that rebuilds ``value`` exactly (floats round-trip through repr)."""
    if isinstance(value, np.ndarray) and bfloat16.is_bfloat16(value.dtype):  # exact through float64
        return f"np.array({value.astype(np.float64).tolist()!r}, dtype=ml_dtypes.bfloat16)"
    if isinstance(value, np.ndarray):
        return f"np.array({value.tolist()!r}, dtype=np.{value.dtype})"
    if isinstance(value, np.floating):
        return repr(float(value))
    return repr(value)


def _key(call: Call) -> tuple:
    parts: list[Any] = [call.function]
    for name, value in call.args:
        parts.append((name, value.tobytes() if isinstance(value, np.ndarray) else repr(value)))
    return tuple(parts)


def script(target_spec: str, calls: list[Call]) -> str:
    """A standalone script that makes the implementation's calls of the failing example again.

    Arrays are given in the implementation's own layout, exactly as it received
    them; repeated identical calls are shown once, and at most ``MAX_CALLS``.
    """
    unique: list[Call] = []
    seen: set[tuple] = set()
    for call in calls:
        key = _key(call)
        if key not in seen:
            seen.add(key)
            unique.append(call)
    needs_ml_dtypes = any(isinstance(v, np.ndarray) and bfloat16.is_bfloat16(v.dtype)
                          for c in unique for _, v in c.args)
    if target_spec.startswith(EXEC_PREFIX):
        load = ["from bnspec.spec.process.proxy import ProcessImpl",
                f"impl = ProcessImpl.exec({target_spec.removeprefix(EXEC_PREFIX)!r})  # the program, as --exec runs it"]
    else:
        load = ["from bnspec.spec.target import resolve",
                f"impl = resolve({target_spec!r})  # the implementation, loaded as `bnspec check` loads it"]
    lines = [
        "import numpy as np",
        *(["import ml_dtypes  # numpy's bfloat16"] if needs_ml_dtypes else []),
        *load,
    ]
    for index, call in enumerate(unique[:MAX_CALLS], start=1):
        names = []
        for name, value in call.args:
            lines.append(f"{name} = {literal(value)}")
            names.append(name)
        lines.append(f"result{index} = impl.{call.function}({', '.join(names)})")
        lines.append(f"print(result{index})")
    if len(unique) > MAX_CALLS:
        lines.append(f"# ... and {len(unique) - MAX_CALLS} more distinct calls made by the property")
    return "\n".join(lines)
