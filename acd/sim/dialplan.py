"""extensions.conf: parsing, extension patterns, ``${...}`` substitution and ``$[...]``.

Only what the project's dialplans use is understood. Anything else is a loud
``DialplanError`` (an unknown function, a malformed line), never a silent skip: a sim
that quietly ignores part of the dialplan would let tests pass that Asterisk fails.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path


class DialplanError(Exception):
    """The dialplan uses something the simulator does not implement, or is malformed."""


@dataclass
class Step:
    app: str
    data: str
    label: str | None = None


@dataclass
class Extension:
    pattern: str
    steps: dict[int, Step] = field(default_factory=dict)
    labels: dict[str, int] = field(default_factory=dict)
    last: int = 0

    def matches(self, exten: str) -> bool:
        return match_pattern(self.pattern, exten)


@dataclass
class Context:
    name: str
    extensions: list[Extension] = field(default_factory=list)
    includes: list[str] = field(default_factory=list)

    def extension(self, pattern: str) -> Extension:
        for ext in self.extensions:
            if ext.pattern == pattern:
                return ext
        ext = Extension(pattern)
        self.extensions.append(ext)
        return ext


# ---------------------------------------------------------------- patterns

@cache  # a dialplan's few patterns, matched on every lookup
def _pattern_tokens(pattern: str) -> tuple[str | frozenset[str], ...]:
    """'_age[n]t1XX' -> ('a','g','e',{n},'t','1',{0-9},{0-9}); '.' and '!' stay strings."""
    tokens: list[str | frozenset[str]] = []
    i = 0
    body = pattern[1:]
    while i < len(body):
        c = body[i]
        # X, Z and N are classes in either case (Asterisk), so a literal n needs [n]
        if c in "Xx":
            tokens.append(frozenset("0123456789"))
        elif c in "Zz":
            tokens.append(frozenset("123456789"))
        elif c in "Nn":
            tokens.append(frozenset("23456789"))
        elif c == "[":
            end = body.find("]", i)
            if end < 0:
                raise DialplanError(f"unterminated [ in pattern {pattern!r}")
            chars: set[str] = set()
            inner = body[i + 1 : end]
            j = 0
            while j < len(inner):
                if j + 2 < len(inner) and inner[j + 1] == "-":
                    chars.update(chr(o) for o in range(ord(inner[j]), ord(inner[j + 2]) + 1))
                    j += 3
                else:
                    chars.add(inner[j])
                    j += 1
            tokens.append(frozenset(chars))
            i = end
        elif c in ".!":
            tokens.append(c)
        else:
            tokens.append(frozenset(c))
        i += 1
    return tuple(tokens)


def match_pattern(pattern: str, exten: str) -> bool:
    if not pattern.startswith("_"):
        return pattern == exten
    tokens = _pattern_tokens(pattern)

    def walk(ti: int, ei: int) -> bool:
        if ti == len(tokens):
            return ei == len(exten)
        tok = tokens[ti]
        if tok == ".":  # one or more of anything
            return ei < len(exten)
        if tok == "!":  # zero or more of anything
            return True
        if ei < len(exten) and isinstance(tok, frozenset) and exten[ei] in tok:
            return walk(ti + 1, ei + 1)
        return False

    return walk(0, 0)


def _specificity(pattern: str) -> tuple[int, list[int]]:
    """Sort key: exact extensions first, then patterns with narrower positions first."""
    if not pattern.startswith("_"):
        return (0, [])
    key = [len(t) if isinstance(t, frozenset) else 1000 for t in _pattern_tokens(pattern)]
    return (1, key)


# ---------------------------------------------------------------- parsing

_APP_RE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\((.*)\))?\s*$", re.S)


def _strip_comment(line: str) -> str:
    out = []
    i = 0
    while i < len(line):
        c = line[i]
        if c == "\\" and i + 1 < len(line) and line[i + 1] == ";":
            out.append(";")
            i += 2
            continue
        if c == ";":
            break
        out.append(c)
        i += 1
    return "".join(out).strip()


class Dialplan:
    def __init__(self) -> None:
        self.contexts: dict[str, Context] = {}
        self.globals: dict[str, str] = {}

    @classmethod
    def load(cls, path: str | Path) -> Dialplan:
        return cls.parse(Path(path).read_text())

    @classmethod
    def parse(cls, text: str) -> Dialplan:
        plan = cls()
        section: str | None = None
        current: Extension | None = None
        for lineno, raw in enumerate(text.splitlines(), 1):
            line = _strip_comment(raw)
            if not line:
                continue
            if line.startswith("["):
                section = line[1 : line.index("]")].strip()
                current = None
                if section not in ("general", "globals"):
                    plan.contexts.setdefault(section, Context(section))
                continue
            if section is None:
                raise DialplanError(f"line {lineno}: outside any [section]: {raw!r}")
            if section == "general":
                continue
            key, sep, value = line.partition("=")
            if not sep:
                raise DialplanError(f"line {lineno}: cannot parse {raw!r}")
            if value.startswith(">"):  # '=>'
                value = value[1:]
            key, value = key.strip(), value.strip()
            if section == "globals":
                plan.globals[key] = value
                continue
            ctx = plan.contexts[section]
            if key == "include":
                ctx.includes.append(value)
            elif key in ("exten", "same"):
                if key == "exten":
                    pattern, _, rest = value.partition(",")
                    current = ctx.extension(pattern.strip())
                elif current is None:
                    raise DialplanError(f"line {lineno}: 'same' before any 'exten'")
                else:
                    rest = value
                assert current is not None
                prio_s, _, appspec = rest.partition(",")
                plan._add_step(current, prio_s.strip(), appspec, lineno)
            else:
                raise DialplanError(f"line {lineno}: unsupported statement {key!r}")
        return plan

    @staticmethod
    def _add_step(ext: Extension, prio_s: str, appspec: str, lineno: int) -> None:
        label = None
        m = re.match(r"^(\w+|n|\+\d+)\((\w[\w-]*)\)$", prio_s)
        if m:
            prio_s, label = m.group(1), m.group(2)
        if prio_s == "n":
            prio = ext.last + 1
        elif prio_s.isdigit():
            prio = int(prio_s)
        elif prio_s == "hint":
            return
        else:
            raise DialplanError(f"line {lineno}: unsupported priority {prio_s!r}")
        m = _APP_RE.match(appspec)
        if not m:
            raise DialplanError(f"line {lineno}: cannot parse application {appspec!r}")
        ext.steps[prio] = Step(m.group(1), m.group(2) or "", label)
        if label:
            ext.labels[label] = prio
        ext.last = prio

    # ---- lookups
    def find(self, context: str, exten: str, _seen: frozenset[str] = frozenset()) -> Extension | None:
        ctx = self.contexts.get(context)
        if ctx is None or context in _seen:
            return None
        candidates = [e for e in ctx.extensions if e.matches(exten)]
        if candidates:
            return min(candidates, key=lambda e: _specificity(e.pattern))
        for inc in ctx.includes:
            found = self.find(inc, exten, _seen | {context})
            if found is not None:
                return found
        return None

    def exists(self, context: str, exten: str, priority: int = 1) -> bool:
        ext = self.find(context, exten)
        return ext is not None and priority in ext.steps


# ---------------------------------------------------------------- substitution

Resolver = Callable[[str], str]          # variable name -> value ('' when unset)
FunctionCall = Callable[[str, str], str]  # (name, already substituted args) -> value


def _find_close(text: str, start: int, open_c: str, close_c: str) -> int:
    depth = 0
    for i in range(start, len(text)):
        if text[i] == open_c:
            depth += 1
        elif text[i] == close_c:
            depth -= 1
            if depth == 0:
                return i
    raise DialplanError(f"unbalanced {open_c}{close_c} in {text!r}")


def substitute(text: str, var: Resolver, func: FunctionCall) -> str:
    """Expand ``${...}`` and ``$[...]`` the way pbx_substitute_variables does, inside out."""
    out: list[str] = []
    i = 0
    while i < len(text):
        if text.startswith("${", i):
            end = _find_close(text, i + 1, "{", "}")
            inner = substitute(text[i + 2 : end], var, func)
            out.append(_expand_variable(inner, var, func))
            i = end + 1
        elif text.startswith("$[", i):
            end = _find_close(text, i + 1, "[", "]")
            inner = substitute(text[i + 2 : end], var, func)
            out.append(evaluate(inner))
            i = end + 1
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


_FUNC_RE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\((.*)\)(?::(-?\d+)(?::(-?\d+))?)?$", re.S)
_VAR_RE = re.compile(r"^([A-Za-z0-9_]+)(?::(-?\d+)(?::(-?\d+))?)?$")


def _substring(value: str, offset: str | None, length: str | None) -> str:
    if offset is None:
        return value
    start = int(offset)
    if start < 0:
        start = max(0, len(value) + start)
    end = len(value) if length is None else start + int(length) if int(length) >= 0 else len(value) + int(length)
    return value[start:end]


def _expand_variable(expr: str, var: Resolver, func: FunctionCall) -> str:
    m = _FUNC_RE.match(expr)
    if m:
        return _substring(func(m.group(1).upper(), m.group(2)), m.group(3), m.group(4))
    m = _VAR_RE.match(expr)
    if m:
        return _substring(var(m.group(1)), m.group(2), m.group(3))
    raise DialplanError(f"cannot expand ${{{expr}}}")


def split_args(data: str) -> list[str]:
    """Split application data on commas outside quotes and brackets (ast_app_separate_args)."""
    args: list[str] = []
    cur: list[str] = []
    depth = 0
    quote = False
    i = 0
    while i < len(data):
        c = data[i]
        if c == "\\" and i + 1 < len(data):
            cur.append(data[i + 1])
            i += 2
            continue
        if c == '"':
            quote = not quote
        elif not quote and c in "([{":
            depth += 1
        elif not quote and c in ")]}":
            depth -= 1
        if c == "," and depth == 0 and not quote:
            args.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    args.append("".join(cur))
    return args


def function_if(args: str) -> str:
    """IF(cond?true:false): everything is already substituted."""
    cond, sep, rest = args.partition("?")
    if not sep:
        raise DialplanError(f"IF() without '?': {args!r}")
    true_v, _, false_v = rest.partition(":")
    return true_v if truthy(cond.strip()) else false_v


def truthy(value: str) -> bool:
    v = value.strip().strip('"')
    if v == "":
        return False
    try:
        return float(v) != 0
    except ValueError:
        return True


# ---------------------------------------------------------------- $[ expressions ]

_TOKEN_RE = re.compile(r'\s*(?:("(?:[^"\\]|\\.)*")|(!=|<=|>=|=~|[=<>|&+\-*/%!():?])|([^\s=<>|&+\-*/%!():?"]+))')


def _tokenize(expr: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    expr = expr.strip()
    while pos < len(expr):
        m = _TOKEN_RE.match(expr, pos)
        if not m or m.end() == pos:
            raise DialplanError(f"cannot parse expression $[{expr}]")
        if m.group(1) is not None:
            tokens.append(("str", m.group(1)[1:-1]))
        elif m.group(2) is not None:
            tokens.append(("op", m.group(2)))
        else:
            tokens.append(("str", m.group(3)))
        pos = m.end()
        while pos < len(expr) and expr[pos].isspace():
            pos += 1
    return tokens


def _num(v: str) -> float | None:
    try:
        return float(v)
    except ValueError:
        return None


def _fmt(x: float) -> str:
    return str(int(x)) if x == int(x) else str(x)


def evaluate(expr: str) -> str:
    """Evaluate an Asterisk ``$[...]`` expression: | & comparisons + - * / % ! ( )."""
    tokens = _tokenize(expr)
    if not tokens:
        return ""
    pos = 0

    def peek() -> tuple[str, str] | None:
        return tokens[pos] if pos < len(tokens) else None

    def take_op(*ops: str) -> str | None:
        nonlocal pos
        t = peek()
        if t and t[0] == "op" and t[1] in ops:
            pos += 1
            return t[1]
        return None

    def parse_or() -> str:
        left = parse_and()
        while take_op("|"):
            right = parse_and()
            left = left if truthy(left) else right
        return left

    def parse_and() -> str:
        left = parse_cmp()
        while take_op("&"):
            right = parse_cmp()
            left = left if truthy(left) and truthy(right) else "0"
        return left

    def parse_cmp() -> str:
        left = parse_add()
        while True:
            op = take_op("=", "!=", "<", ">", "<=", ">=")
            if not op:
                return left
            right = parse_add()
            a, b = _num(left), _num(right)
            pair: tuple[float, float] | tuple[str, str] = (a, b) if a is not None and b is not None else (left, right)
            x, y = pair
            result = {
                "=": x == y, "!=": x != y, "<": x < y, ">": x > y, "<=": x <= y, ">=": x >= y,  # type: ignore[operator]
            }[op]
            left = "1" if result else "0"

    def parse_add() -> str:
        left = parse_mul()
        while True:
            op = take_op("+", "-")
            if not op:
                return left
            right = parse_mul()
            a, b = _num(left), _num(right)
            if a is None or b is None:
                raise DialplanError(f"non-numeric operand in $[{expr}]")
            left = _fmt(a + b if op == "+" else a - b)

    def parse_mul() -> str:
        left = parse_unary()
        while True:
            op = take_op("*", "/", "%")
            if not op:
                return left
            right = parse_unary()
            a, b = _num(left), _num(right)
            if a is None or b is None or (op != "*" and b == 0):
                raise DialplanError(f"bad operand in $[{expr}]")
            left = _fmt(a * b if op == "*" else int(a / b) if op == "/" else a % b)

    def parse_unary() -> str:
        if take_op("!"):
            return "0" if truthy(parse_unary()) else "1"
        if take_op("-"):
            v = _num(parse_unary())
            if v is None:
                raise DialplanError(f"bad operand in $[{expr}]")
            return _fmt(-v)
        return parse_atom()

    def parse_atom() -> str:
        nonlocal pos
        if take_op("("):
            v = parse_or()
            if not take_op(")"):
                raise DialplanError(f"missing ) in $[{expr}]")
            return v
        t = peek()
        if t is None or t[0] != "str":
            raise DialplanError(f"unexpected {t} in $[{expr}]")
        pos += 1
        return t[1]

    result = parse_or()
    if pos != len(tokens):
        raise DialplanError(f"trailing tokens in $[{expr}]")
    return result
