"""The cluster query language of ``memberOf`` constraints and ListContainerInstances filters.

Supported (DG task-placement-constraints.md, cluster-query-language.md):

* subjects: ``attribute:<name>``, ``ec2InstanceId``, ``agentConnected``, ``agentVersion``,
  ``registeredAt``, ``runningTasksCount``, ``task:group`` (the groups of the tasks on the
  instance; the comparison holds if it holds for any of them);
* operators: ``==``/``equals``, ``!=``/``not_equals``, ``>``/``greater_than``,
  ``>=``/``greater_than_equal``, ``<``/``less_than``, ``<=``/``less_than_equal``,
  ``exists``, ``!exists``/``not_exists``, ``in [..]``, ``not in [..]``/``!in``/``not_in``,
  ``=~``/``matches`` (whole-value regex), ``!~``/``not_matches``;
* ``and``/``&&``, ``or``/``||`` (``and`` binds tighter) and parentheses.

Negative operators (``!=``, ``not_in``, ``!~``) hold only when the subject exists: ECS
answers ``attribute:retiring != true`` with the instances that have ``retiring`` set to
another value, not with those without it (aws/containers-roadmap#486; ``!exists`` selects
those). For a list subject (``task:group``) they hold when no value matches. The engine's
evaluator (``plugins/module_utils/_engine/placement_expr.py``) follows the same rule and
``tests/sandbox/test_member_of_agreement.py`` runs one table through both.

``parse(text)`` returns a predicate over a resolver ``subject -> value | list | None``.

Layer: data, the bottom of ``sandbox/ecs``; imports only the standard library.
"""

from __future__ import annotations

import re
from typing import Any, Callable

Resolver = Callable[[str], Any]
Predicate = Callable[[Resolver], bool]

_TOKEN = re.compile(r"""
    \s*(?:
      (?P<quoted>"[^"]*"|'[^']*')
    | (?P<punct>[()\[\],])
    | (?P<op>==|!=|>=|<=|=~|!~|&&|\|\||>|<)
    | (?P<word>[^\s()\[\],=!<>~&|'"]+(?:[!=<>~][^\s()\[\],=!<>~&|'"]+)*|![A-Za-z_]+)
    )""", re.VERBOSE)

_WORD_OPS = {
    "equals": "==", "not_equals": "!=", "greater_than": ">", "greater_than_equal": ">=",
    "less_than": "<", "less_than_equal": "<=", "matches": "=~", "not_matches": "!~",
    "exists": "exists", "!exists": "!exists", "not_exists": "!exists",
    "in": "in", "!in": "not_in", "not_in": "not_in",
}
_BINARY = {"==", "!=", ">", ">=", "<", "<=", "=~", "!~"}


class QueryError(ValueError):
    pass


def tokenize(text: str) -> list[tuple[str, str]]:
    tokens, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise QueryError(f"unexpected text at position {pos}: {text[pos:pos + 20]!r}")
        pos = m.end()
        kind = m.lastgroup
        value = m.group(kind)
        if kind == "quoted":
            tokens.append(("word", value[1:-1]))
        else:
            tokens.append((kind, value))
    return tokens


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]):
        self.tokens, self.i = tokens, 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise QueryError("unexpected end of expression")
        self.i += 1
        return tok

    def expect(self, value: str) -> None:
        tok = self.take()
        if tok[1] != value:
            raise QueryError(f"expected {value!r}, found {tok[1]!r}")

    def is_word(self, *values: str) -> bool:
        tok = self.peek()
        return tok is not None and tok[1].lower() in values

    def parse(self) -> Predicate:
        pred = self.or_expr()
        if self.peek() is not None:
            raise QueryError(f"unexpected {self.peek()[1]!r}")
        return pred

    def or_expr(self) -> Predicate:
        parts = [self.and_expr()]
        while self.is_word("or", "||"):
            self.take()
            parts.append(self.and_expr())
        if len(parts) == 1:
            return parts[0]
        return lambda r: any(p(r) for p in parts)

    def and_expr(self) -> Predicate:
        parts = [self.primary()]
        while self.is_word("and", "&&"):
            self.take()
            parts.append(self.primary())
        if len(parts) == 1:
            return parts[0]
        return lambda r: all(p(r) for p in parts)

    def primary(self) -> Predicate:
        tok = self.peek()
        if tok and tok[1] == "(":
            self.take()
            inner = self.or_expr()
            self.expect(")")
            return inner
        if tok and tok[1].lower() == "not" and self.i + 1 < len(self.tokens) \
                and self.tokens[self.i + 1][1] == "(":
            self.take()
            inner = self.primary()
            return lambda r: not inner(r)
        return self.comparison()

    def comparison(self) -> Predicate:
        kind, subject = self.take()
        if kind != "word":
            raise QueryError(f"expected a subject, found {subject!r}")
        kind, raw_op = self.take()
        op = raw_op if kind == "op" else _WORD_OPS.get(raw_op.lower())
        if op == "in" and raw_op.lower() == "not":
            op = None
        if kind == "word" and raw_op.lower() == "not" and self.is_word("in"):
            self.take()
            op = "not_in"
        if op is None or op in ("&&", "||"):
            raise QueryError(f"unknown operator {raw_op!r}")
        if op in ("exists", "!exists"):
            want = op == "exists"
            return lambda r: (_values(r(subject)) != []) == want
        if op in ("in", "not_in"):
            self.expect("[")
            items: list[str] = []
            while True:
                k, v = self.take()
                if v == "]" and not items:
                    break
                if k != "word":
                    raise QueryError(f"expected a value in the list, found {v!r}")
                items.append(v)
                k, v = self.take()
                if v == "]":
                    break
                if v != ",":
                    raise QueryError(f"expected ',' or ']', found {v!r}")
            member = set(items)
            if op == "in":
                return lambda r: any(v in member for v in _values(r(subject)))
            return lambda r: _present(r(subject)) and \
                not any(v in member for v in _values(r(subject)))
        if op not in _BINARY:
            raise QueryError(f"unknown operator {raw_op!r}")
        k, value = self.take()
        if k != "word":
            raise QueryError(f"expected a value, found {value!r}")
        compare = _comparator(op, value)
        if op in ("!=", "!~"):
            # negative forms hold when no value of the subject matches the positive form
            positive = _comparator("==" if op == "!=" else "=~", value)
            return lambda r: _present(r(subject)) and \
                not any(positive(v) for v in _values(r(subject)))
        return lambda r: any(compare(v) for v in _values(r(subject)))


def _present(value: Any) -> bool:
    """The subject exists: an attribute the instance has, or a list subject (task:group),
    which always exists (maybe empty)."""
    return value is not None


def _values(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple, set, frozenset)):
        return [str(v) for v in value if v is not None]
    if isinstance(value, bool):
        return ["true" if value else "false"]
    return [str(value)]


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _comparator(op: str, expected: str) -> Callable[[str], bool]:
    if op == "==":
        return lambda v: v == expected
    if op in ("=~", "!~"):
        try:
            pattern = re.compile(expected)
        except re.error as exc:
            raise QueryError(f"invalid regular expression {expected!r}: {exc}") from exc
        return lambda v: pattern.fullmatch(v) is not None

    def ordered(v: str) -> bool:
        a, b = _number(v), _number(expected)
        left, right = (a, b) if a is not None and b is not None else (v, expected)
        return {">": left > right, ">=": left >= right,
                "<": left < right, "<=": left <= right}[op]

    return ordered


def parse(text: str) -> Predicate:
    """Compile an expression; raises QueryError (a ValueError) when it is malformed."""
    if not text or not text.strip():
        raise QueryError("empty expression")
    return _Parser(tokenize(text)).parse()
