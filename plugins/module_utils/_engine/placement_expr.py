"""A small parser and evaluator for the ECS cluster query language (``memberOf`` expressions).

Supported subjects: ``attribute:NAME``, ``ec2InstanceId``, ``agentConnected``.
Operators: ``==|equals``, ``!=|not_equals``, ``=~|matches``, ``!~|not_matches`` (full-match
regular expressions, so ``t2.*`` works), ``>``, ``>=``, ``<``, ``<=`` (numeric when both sides
are numbers), ``exists``, ``!exists|not_exists``, ``in [..]``, ``not in [..]|!in|not_in``.
Boolean: ``and|&&``, ``or||``, ``not|!``, parentheses. Values may be bare or single/double
quoted. ``task:group``, ``runningTasksCount``, ``registeredAt`` and ``agentVersion`` raise
``UnsupportedExpression``; malformed text raises ``ExpressionError``.

Negative operators (``!=``, ``not_in``, ``!~``) hold only for an instance that *has* the
subject: ECS answers ``attribute:retiring != true`` with the instances that carry
``retiring`` with another value, never with those that lack it (aws/containers-roadmap#486,
where that is the behaviour asked to change; "Subject does not exist" is what ``!exists`` is
for). ``not (...)`` is plain boolean negation. The sandbox's evaluator (``sandbox/ecs/
query.py``) follows the same rule; ``tests/sandbox/test_member_of_agreement.py`` runs one
table of expressions through both.

``compile_expression(text)`` returns a predicate taking a ``Mapping[str, str]`` of subject ->
value (``attribute:NAME`` keys plus ``ec2InstanceId`` and ``agentConnected``), see
``instance_subjects``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from .errors import ExpressionError, UnsupportedExpression
from .model import Instance

Predicate = Callable[[Mapping[str, str]], bool]


UNSUPPORTED_SUBJECTS = ("task:group", "runningtaskscount", "registeredat", "agentversion")
SUPPORTED_SUBJECTS = ("ec2instanceid", "agentconnected")

_TOKEN = re.compile(r"""\s*(?:
    (?P<quoted>'[^']*'|"[^"]*")
  | (?P<op>==|!=|=~|!~|>=|<=|&&|\|\||[()\[\],<>!])
  | (?P<word>[^\s()\[\],'"!=<>&|~][^\s()\[\],'"=<>&|]*)
)""", re.VERBOSE)

_COMPARE = {"==": "==", "equals": "==", "!=": "!=", "not_equals": "!=",
            "=~": "=~", "matches": "=~", "!~": "!~", "not_matches": "!~",
            ">": ">", "greater_than": ">", ">=": ">=", "greater_than_equal": ">=",
            "<": "<", "less_than": "<", "<=": "<=", "less_than_equal": "<="}


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str   # "word" | "op" | "quoted"
    text: str

    @property
    def low(self) -> str:
        return self.text.lower() if self.kind != "quoted" else ""


def tokenize(text: str) -> list[_Tok]:
    pos, out = 0, []
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ExpressionError(f"cannot parse expression at {text[pos:]!r}")
        kind = m.lastgroup or "word"
        value = m.group(kind)
        out.append(_Tok(kind, value[1:-1] if kind == "quoted" else value))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.toks = tokenize(text)
        self.i = 0

    def peek(self, ahead: int = 0) -> _Tok | None:
        j = self.i + ahead
        return self.toks[j] if j < len(self.toks) else None

    def take(self) -> _Tok:
        tok = self.peek()
        if tok is None:
            raise ExpressionError(f"unexpected end of expression {self.text!r}")
        self.i += 1
        return tok

    def expect(self, text: str) -> None:
        tok = self.take()
        if tok.text != text:
            raise ExpressionError(f"expected {text!r}, found {tok.text!r} in {self.text!r}")

    def parse(self) -> Predicate:
        if not self.toks:
            raise ExpressionError("empty expression")
        pred = self.parse_or()
        if self.peek() is not None:
            raise ExpressionError(f"unexpected {self.peek().text!r} in {self.text!r}")
        return pred

    def parse_or(self) -> Predicate:
        parts = [self.parse_and()]
        while self.peek() and self.peek().low in ("or", "||"):
            self.take()
            parts.append(self.parse_and())
        return parts[0] if len(parts) == 1 else (lambda v, ps=tuple(parts): any(p(v) for p in ps))

    def parse_and(self) -> Predicate:
        parts = [self.parse_not()]
        while self.peek() and self.peek().low in ("and", "&&"):
            self.take()
            parts.append(self.parse_not())
        return parts[0] if len(parts) == 1 else (lambda v, ps=tuple(parts): all(p(v) for p in ps))

    def parse_not(self) -> Predicate:
        tok = self.peek()
        if tok is not None and tok.low in ("not", "!"):
            self.take()
            inner = self.parse_not()
            return lambda v: not inner(v)
        if tok is not None and tok.text == "(" and tok.kind == "op":
            self.take()
            inner = self.parse_or()
            self.expect(")")
            return inner
        return self.parse_comparison()

    def parse_comparison(self) -> Predicate:
        subject = _subject(self.take(), self.text)
        op = self.take()
        low = op.low
        if low == "exists":
            return lambda v: subject in v
        if low in ("!exists", "not_exists") or (low == "!" and self._next_is("exists")):
            return lambda v: subject not in v
        if low == "in":
            values = self.parse_list()
            return lambda v: v.get(subject) in values
        if low in ("not_in", "!in") or (low in ("not", "!") and self._next_is("in")):
            values = self.parse_list()
            return lambda v: subject in v and v[subject] not in values
        if low in _COMPARE:
            return _comparison(subject, _COMPARE[low], self.parse_value(), self.text)
        raise ExpressionError(f"unknown operator {op.text!r} in {self.text!r}")

    def _next_is(self, word: str) -> bool:
        tok = self.peek()
        if tok is not None and tok.low == word:
            self.take()
            return True
        return False

    def parse_value(self) -> str:
        tok = self.take()
        if tok.kind == "op":
            raise ExpressionError(f"expected a value, found {tok.text!r} in {self.text!r}")
        return tok.text

    def parse_list(self) -> frozenset[str]:
        self.expect("[")
        values = [self.parse_value()]
        while self.peek() is not None and self.peek().text == ",":
            self.take()
            values.append(self.parse_value())
        self.expect("]")
        return frozenset(values)


def _subject(tok: _Tok, text: str) -> str:
    low = tok.text.lower()
    if tok.kind != "word":
        raise ExpressionError(f"expected a subject, found {tok.text!r} in {text!r}")
    if low.startswith("attribute:") and len(tok.text) > len("attribute:"):
        return tok.text
    if low in SUPPORTED_SUBJECTS:
        return {"ec2instanceid": "ec2InstanceId", "agentconnected": "agentConnected"}[low]
    if low.startswith(UNSUPPORTED_SUBJECTS):
        raise UnsupportedExpression(f"{tok.text!r} is not supported in memberOf {text!r}")
    raise ExpressionError(f"unknown subject {tok.text!r} in {text!r}")


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


def _comparison(subject: str, op: str, value: str, text: str) -> Predicate:
    if op == "==":
        return lambda v: v.get(subject) == value
    if op == "!=":     # a missing subject matches no comparison, negative ones included
        return lambda v: subject in v and v[subject] != value
    if op in ("=~", "!~"):
        try:
            pattern = re.compile(value)
        except re.error as exc:
            raise ExpressionError(f"bad pattern {value!r} in {text!r}: {exc}") from exc
        want = op == "=~"
        return lambda v: subject in v and bool(pattern.fullmatch(v[subject])) == want
    return _ordering(subject, op, value)


def _ordering(subject: str, op: str, value: str) -> Predicate:
    right_num = _number(value)

    def check(v: Mapping[str, str]) -> bool:
        left = v.get(subject)
        if left is None:
            return False
        left_num = _number(left)
        pair = (left_num, right_num) if left_num is not None and right_num is not None \
            else (left, value)
        a, b = pair
        return {">": a > b, ">=": a >= b, "<": a < b, "<=": a <= b}[op]

    return check


def compile_expression(text: str) -> Predicate:
    """Parse ``text`` once; return a predicate over a subject->value mapping."""
    return _Parser(text).parse()


def instance_subjects(instance: Instance) -> dict[str, str]:
    """The subject->value mapping an expression is evaluated against for one instance."""
    values = {f"attribute:{k}": v for k, v in instance.attributes.items()}
    values.setdefault("attribute:ecs.availability-zone", instance.az)
    values["ec2InstanceId"] = instance.ec2_instance_id
    values["agentConnected"] = "true" if instance.agent_connected else "false"
    return values
