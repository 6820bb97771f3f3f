"""The faulty implementations of the test suite, and the clauses that catch each one.

The faults are read from the tests without importing them (tests/ is not part of the
package, and its modules import pytest and hypothesis): each one's code and docstring from
its class, and what catches it from the tests' own data, never from a copy --

- the batch norms of tests/zoo/: ``FAULTY`` (tests/zoo/registry.py) for the roll call and
  ``CAUGHT_BY`` (tests/test_meta_zoo.py) for the clauses each one must fail;
- the wrong implementations of the variants' clauses: ``CAUGHT_BY`` (tests/test_variants.py);
- the channel-layout batch norms of tests/zoo/layout_faults.py: the tests of
  tests/test_layouts.py parametrized over them, and the clauses those tests ``run``;
- the optimizers: ``ZOO`` (tests/test_optimizer_zoo.py), each ``Fault`` with the clauses it
  fails and what the message of one of them says;
- the diagnosis that names a fault's bug (:mod:`bnspec.spec.diagnosis.vocabulary`), where a
  test checks it: ``ZOO`` of tests/test_diagnosis.py, the ``bug`` column of tests/test_layouts.py.

:func:`page` renders conformance/zoo.md (``{{ zoo() }}``); :func:`catching` and
:func:`fault_link` give a clause's faults to the specification pages.  An anchor of the
page is a fault's class name exactly (``conformance/zoo.md#UnbiasedVarianceBN``).
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bnspec.spec.clauses import REGISTRY
from bnspec.spec.diagnosis.vocabulary import BugId

from . import ROOT, links

TESTS = ROOT / "tests"
PAGE = "conformance/zoo.md"

#: the faults' modules, in the page's order: (English, Traditional Chinese) title.
GROUPS: dict[str, tuple[str, str]] = {
    "forward_faults": ("The forward pass", "正向傳播"),
    "backward_faults": ("The backward pass", "反向傳播"),
    "running_faults": ("Running statistics and inference", "移動統計量與推論"),
    "dtype_faults": ("Low precision", "低精度"),
    "protocol_faults": ("The protocol's contract", "協定的約定"),
    "test_variants": ("The variants and the inputs to refuse", "框架的變體與應拒絕的輸入"),
    "layout_faults": ("Channel layouts", "通道排列"),
    "test_optimizer_zoo": ("The optimizers", "最佳化器"),
}

_WORDS = {
    "en": {"caught": "Caught by", "changes": "Changed from", "diagnosis": "Diagnosis",
           "named": "`bnspec check` names the bug", "message": "Message",
           "says": "{clause}'s message says “{says}”", "unnamed": "{clause}'s message does not name the bug yet: ",
           "correct": "The correct implementations they change",
           "correct_about": "Each faulty implementation above is one of these with one step changed."},
    "zh-TW": {"caught": "由這些條款抓出", "changes": "改自", "diagnosis": "診斷",
              "named": "`bnspec check` 指出的錯誤", "message": "訊息",
              "says": "{clause} 的失敗訊息寫著「{says}」", "unnamed": "{clause} 的失敗訊息還沒有指出這個錯誤：",
              "correct": "它們所改動的正確實作",
              "correct_about": "上面每個有錯的實作，都是以下其中之一改動了一個步驟。"},
}


@dataclass(frozen=True)
class Ref:
    """A class of the tests: its file and name."""

    file: Path
    name: str


@dataclass(frozen=True)
class Fault:
    """A faulty implementation and what the tests say of it."""

    ref: Ref
    group: str  # a key of GROUPS
    clauses: tuple[str, ...]  # the clauses that must fail on it
    bug: str = ""  # the BugId value the diagnosis names first
    says: tuple[str, str] | None = None  # (clause, text its message must hold)
    unnamed: str = ""  # why that message does not name the bug yet

    @property
    def name(self) -> str:
        return self.ref.name


@dataclass(frozen=True)
class _Call:
    func: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]


@functools.cache
def _tree(file: Path) -> ast.Module:
    return ast.parse(file.read_text(encoding="utf-8"), filename=str(file))


def _imports(file: Path) -> dict[str, Ref | Path]:
    """What the names a test file imports from tests/ are: a module's file, or a class of one."""
    found: dict[str, Ref | Path] = {}
    for node in _tree(file).body:
        if not isinstance(node, ast.ImportFrom):
            continue
        base = file.parent if node.level == 1 else TESTS
        folder = base.joinpath(*node.module.split(".")) if node.module else base
        for alias in node.names:
            if (folder / f"{alias.name}.py").is_file():
                found[alias.asname or alias.name] = folder / f"{alias.name}.py"
            elif folder.with_suffix(".py").is_file():
                found[alias.asname or alias.name] = Ref(folder.with_suffix(".py"), alias.name)
    return found


def _classes(file: Path) -> dict[str, ast.ClassDef]:
    return {n.name: n for n in _tree(file).body if isinstance(n, ast.ClassDef)}


def _assigned(file: Path) -> dict[str, ast.expr]:
    """The module-level names of ``file`` bound by an assignment, and their expressions."""
    found: dict[str, ast.expr] = {}
    for node in _tree(file).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            found[node.targets[0].id] = node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            found[node.target.id] = node.value
    return found


def _value(node: ast.expr, file: Path) -> Any:
    """The value of the literal data ``node`` of ``file``: constants, tuples and lists (with ``*name``),
    dicts, module-level names, classes of the tests (:class:`Ref`), ``BugId.X`` and calls (:class:`_Call`)."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Tuple | ast.List):
        items: list[Any] = []
        for item in node.elts:
            items += _value(item.value, file) if isinstance(item, ast.Starred) else [_value(item, file)]
        return tuple(items)
    if isinstance(node, ast.Dict) and None not in node.keys:
        return {_value(k, file): _value(v, file) for k, v in zip(node.keys, node.values, strict=True) if k}
    if isinstance(node, ast.Name):
        imported = _imports(file).get(node.id)
        if node.id in _assigned(file):
            return _value(_assigned(file)[node.id], file)
        if node.id in _classes(file):
            return Ref(file, node.id)
        if isinstance(imported, Ref):
            return imported
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        if node.value.id == "BugId":
            return BugId[node.attr].value
        module = _imports(file).get(node.value.id)
        if isinstance(module, Path):
            return Ref(module, node.attr)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        kwargs = {k.arg: _value(k.value, file) for k in node.keywords if k.arg}
        return _Call(node.func.id, tuple(_value(a, file) for a in node.args), kwargs)
    raise ValueError(f"{file.relative_to(ROOT)}:{node.lineno}: cannot read {ast.unparse(node)!r} as data")


def _data(file: Path, name: str) -> Any:
    """The value of ``file``'s module-level ``name``."""
    if name not in _assigned(file):
        raise ValueError(f"{file.relative_to(ROOT)}: no module-level {name}")
    return _value(_assigned(file)[name], file)


def _fields(file: Path, name: str) -> list[str]:
    """The annotated fields of the dataclass ``name`` of ``file``, in order."""
    body = _classes(file)[name].body
    return [n.target.id for n in body if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)]


def _parametrized(function: ast.FunctionDef, file: Path) -> list[dict[str, Any]]:
    """The cases of ``function``'s ``pytest.mark.parametrize`` decorators over a ``fault``, each a dict
    argument -> value."""
    cases: list[dict[str, Any]] = []
    for decorator in function.decorator_list:
        if not (isinstance(decorator, ast.Call) and isinstance(decorator.func, ast.Attribute)
                and decorator.func.attr == "parametrize" and len(decorator.args) >= 2):
            continue
        names = _value(decorator.args[0], file)
        names = tuple(n.strip() for n in names.split(",")) if isinstance(names, str) else names
        if "fault" in names:  # only these cases are read: another test's values need not be data
            values = _value(decorator.args[1], file)
            cases += [dict(zip(names, v if len(names) > 1 else (v,), strict=True)) for v in values]
    return cases


def _layout_faults() -> list[Fault]:
    """tests/test_layouts.py's faults: each test parametrized over ``fault``, with the clauses it runs."""
    file = TESTS / "test_layouts.py"
    clauses: dict[Ref, list[str]] = {}
    bugs: dict[Ref, str] = {}
    for function in (n for n in _tree(file).body if isinstance(n, ast.FunctionDef)):
        calls = [c for c in ast.walk(function) if isinstance(c, ast.Call) and isinstance(c.func, ast.Name)
                 and c.func.id == "run"]
        ran = [a.value for c in calls for a in c.args[:1] if isinstance(a, ast.Constant) and isinstance(a.value, str)]
        for case in _parametrized(function, file):
            if isinstance(case.get("fault"), Ref):
                known = clauses.setdefault(case["fault"], [])
                known += [c for c in ran if c not in known]
                if "bug" in case:
                    bugs[case["fault"]] = case["bug"]
    return [Fault(ref, "layout_faults", tuple(ids), bugs.get(ref, "")) for ref, ids in clauses.items() if ids]


@functools.cache
def faults() -> tuple[Fault, ...]:
    """Every faulty implementation, in the page's order (ValueError where the tests' data cannot be read)."""
    caught = _data(TESTS / "test_meta_zoo.py", "CAUGHT_BY")
    diagnosed = {Ref(TESTS / "zoo" / f"{key.split(':')[0]}.py", key.split(":")[1]): bug
                 for key, bug in _data(TESTS / "test_diagnosis.py", "ZOO").items()}
    found = [Fault(ref, ref.file.stem, tuple(caught.get(ref, ())), diagnosed.get(ref, ""))
             for ref in _data(TESTS / "zoo" / "registry.py", "FAULTY")]
    found += [Fault(ref, ref.file.stem, ids) for ref, ids in _data(TESTS / "test_variants.py", "CAUGHT_BY").items()]
    found += _layout_faults()
    optimizers = TESTS / "test_optimizer_zoo.py"
    fields = _fields(optimizers, "Fault")
    for call in _data(optimizers, "ZOO"):
        f = dict(zip(fields, call.args, strict=False)) | call.kwargs
        found.append(Fault(f["impl"], optimizers.stem, f["fails"], says=(f["says_in"], f["says"]),
                           unnamed=f.get("unnamed", "")))
    names = [f.name for f in found]
    for fault in found:
        if fault.group not in GROUPS or names.count(fault.name) > 1 or not fault.clauses:
            raise ValueError(f"zoo: {fault.name} ({fault.ref.file.relative_to(ROOT)}) has no group, "
                             "no clause or the name of another fault")
        unknown = [c for c in fault.clauses if c not in REGISTRY]
        if unknown:
            raise ValueError(f"zoo: {fault.name} is caught by unknown clauses {unknown}")
    order = list(GROUPS)
    return tuple(sorted(found, key=lambda f: order.index(f.group)))


def catching(clause_id: str) -> tuple[Fault, ...]:
    """The faults that ``clause_id`` catches, in the page's order."""
    return tuple(f for f in faults() if clause_id in f.clauses)


def fault_link(fault: Fault, from_uri: str) -> str:
    """The link to ``fault``'s anchor on the page, which is its class name."""
    return f"{links.relative(from_uri, PAGE)}#{fault.name}"


def _plain(text: str) -> str:
    """Plain text as Markdown (:func:`sitegen.spec_pages.plain`)."""
    from .spec_pages import plain  # spec_pages imports this module

    return plain(text)


def _english(text: str, language: str) -> str:
    from .spec_pages import english  # spec_pages imports this module

    return english(text, language)


def _prose(text: str) -> str:
    """A docstring's text as Markdown: ``code`` as code, the rest plain."""
    parts = text.split("``")
    return "".join(f"`{p}`" if i % 2 else _plain(p) for i, p in enumerate(parts))


def _summary(node: ast.ClassDef) -> str:
    """The first paragraph of the class's docstring, on one line."""
    doc = ast.get_docstring(node)
    if not doc:
        raise ValueError(f"zoo: {node.name} has no docstring")
    return " ".join(doc.split("\n\n")[0].split())


def _code(ref: Ref) -> str:
    """The class's code as a titled block with its line numbers (as ``{{ source }}`` shows code)."""
    node = _classes(ref.file)[ref.name]
    start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    code = "\n".join(ref.file.read_text(encoding="utf-8").splitlines()[start - 1: node.end_lineno])
    return f'```python title="{ref.file.relative_to(ROOT).as_posix()}" linenums="{start}"\n{code}\n```\n'


def _bases(ref: Ref) -> list[Ref]:
    """The classes of the tests that ``ref`` derives from directly."""
    found = []
    for base in _classes(ref.file)[ref.name].bases:
        try:
            value = _value(base, ref.file)
        except ValueError:
            continue  # a class from outside the tests
        if isinstance(value, Ref):
            found.append(value)
    return found


def _fault_block(fault: Fault, page_uri: str, language: str) -> str:
    w = _WORDS[language]
    node = _classes(fault.ref.file)[fault.name]
    clause_links = ", ".join(f"[{c}]({links.clause_link(REGISTRY[c], page_uri)})" for c in fault.clauses)
    bases = ", ".join(f"[`{b.name}`](#{b.name})" for b in _bases(fault.ref))
    lines = [f"### {_plain(fault.name)} {{ #{fault.name} }}", "", _english(_prose(_summary(node)), language), "",
             f"- **{w['caught']}:** {clause_links}"]
    if bases:
        lines.append(f"- **{w['changes']}:** {bases}")
    if fault.bug:
        diagnosis = links.relative(page_uri, "diagnosis.md")
        lines.append(f"- **{w['diagnosis']}:** {w['named']}: [`{fault.bug}`]({diagnosis}#{fault.bug})")
    if fault.says:
        clause = f"[{fault.says[0]}]({links.clause_link(REGISTRY[fault.says[0]], page_uri)})"
        text = (w["unnamed"].format(clause=clause) + _english(_prose(fault.unnamed), language) if fault.unnamed
                else w["says"].format(clause=clause, says=_english(_prose(fault.says[1]), language)))
        lines.append(f"- **{w['message']}:** {text}")
    return "\n".join([*lines, "", _code(fault.ref)])


def _correct(shown: set[str]) -> list[Ref]:
    """The classes the faults derive from, and theirs in turn, that are not faults, in the page's order."""
    found: list[Ref] = []
    todo = [b for f in faults() for b in _bases(f.ref)]
    while todo:
        ref = todo.pop(0)
        if ref.name not in shown and ref not in found:
            found.append(ref)
            todo += _bases(ref)
    return found


def page(language: str, page_uri: str = PAGE) -> str:
    """Every faulty implementation under its module's heading, then the correct ones they change."""
    w = _WORDS[language]
    parts: list[str] = []
    for group, titles in GROUPS.items():
        members = [f for f in faults() if f.group == group]
        if members:
            title = titles[1] if language == "zh-TW" else titles[0]
            parts += [f"## {title} {{ #{group} }}", ""]
            parts += [_fault_block(f, page_uri, language) for f in members]
    parts += [f"## {w['correct']} {{ #correct }}", "", w["correct_about"], ""]
    for ref in _correct({f.name for f in faults()}):
        summary = _english(_prose(_summary(_classes(ref.file)[ref.name])), language)
        parts += [f"### {_plain(ref.name)} {{ #{ref.name} }}", "", summary, "", _code(ref)]
    return "\n".join(parts)
