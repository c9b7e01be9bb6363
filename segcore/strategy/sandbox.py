"""The sandbox strategy templates run in: jinja2's immutable sandbox under a budget.

A template is written by one person and rendered for others (team templates), so it must not be
able to take the server's memory or time. Every operation that can build a large value is sized
BEFORE it runs: string / list repetition and concatenation, `%` and `str.format` (width and
precision, also when a nested field or a mapping key supplies them), `replace` (an empty `old`
inserts `new` between every character), `indent`, `wordwrap`, `join`, and any conversion of a
value to text (a list of a thousand references to one long string prints a thousand copies).
Loops, calls and filters count steps against a time and step budget (`start`)."""
from __future__ import annotations

import functools
import inspect
import re
import time
from collections.abc import Iterator, Mapping

from jinja2 import nodes
from jinja2.nodes import EvalContext
from jinja2.compiler import CodeGenerator
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedFormatter
from jinja2.utils import Namespace

TIME_LIMIT_S = 1.0  # per template and segment; the shipped ones take a few milliseconds
MAX_STEPS = 1_000_000  # loop iterations and calls per render
MAX_SIZE = 1_000_000  # characters / items of any string or list built, and of the output
MAX_WIDTH = 1_000  # a format width or precision (the shipped templates use none)
_STEPS_FILTER = "_segscope_steps"
_NUMBER = re.compile(r"\d+")


class TemplateLimit(Exception):
    """A template went past one of the render limits."""


def _too_big() -> TemplateLimit:
    return TemplateLimit(f"builds a value of more than {MAX_SIZE:,} characters or items")


def deep_size(value, budget: int = MAX_SIZE + 1) -> int:
    """About how many characters `str(value)` holds: strings by length, containers by their items
    (each at least 1), namespaces by their values. Stops counting at `budget`, so it costs at most
    `budget` steps even for a list that repeats one long string (or contains itself)."""
    total, stack = 0, [value]
    while stack and total < budget:
        item = stack.pop()
        total += 1
        if isinstance(item, (str, bytes)):
            total += len(item)
        elif isinstance(item, Mapping):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            stack.extend(item)
        elif isinstance(item, Namespace):
            stack.append(object.__getattribute__(item, "_Namespace__attrs"))
    return total


def check_size(value):
    if deep_size(value) > MAX_SIZE:
        raise _too_big()
    return value


def _bounded_number(text: str, start: int, what: str) -> int:
    """The end of a width / precision at `start` of a printf format, refused when too large or
    taken from the arguments ('*')."""
    if start < len(text) and text[start] == "*":
        raise TemplateLimit(f"a format {what} from the arguments ('*') is not allowed")
    match = _NUMBER.match(text, start)
    if match is None:
        return start
    if len(match.group()) > 6 or int(match.group()) > MAX_WIDTH:
        raise TemplateLimit(f"format {what} {match.group()[:12]} is larger than {MAX_WIDTH:,}")
    return match.end()


def check_printf(fmt: str) -> None:
    """Refuse a `%` format whose width or precision is over MAX_WIDTH. Scans as CPython parses:
    `%`, an optional `(key)` with nested brackets, flags, width, `.precision`, length, type."""
    n, i = len(fmt), fmt.find("%")
    while i != -1:
        j = i + 1
        if j < n and fmt[j] == "(":
            depth, j = 1, j + 1
            while j < n and depth:
                depth += {"(": 1, ")": -1}.get(fmt[j], 0)
                j += 1
        while j < n and fmt[j] in "-+ #0":
            j += 1
        j = _bounded_number(fmt, j, "width")
        if j < n and fmt[j] == ".":
            j = _bounded_number(fmt, j + 1, "precision")
        while j < n and fmt[j] in "hlL":
            j += 1
        i = fmt.find("%", j + 1)  # fmt[j] is the conversion ('%' of '%%' included)


def check_format_spec(spec: str) -> None:
    """A `str.format` spec after its nested fields are filled in ('{0:{1}}'): no number over MAX_WIDTH."""
    for number in _NUMBER.findall(spec):
        if len(number) > 6 or int(number) > MAX_WIDTH:
            raise TemplateLimit(f"format width or precision {number[:12]} is larger than {MAX_WIDTH:,}")


def replace_size(s: str, old: str, new: str, count: int | None = None) -> int:
    """The length of s.replace(old, new, count), without building it."""
    s, old, new = str(s), str(old), str(new)
    found = len(s) + 1 if not old else s.count(old)
    if count is not None and count >= 0:
        found = min(found, count)
    return len(s) + found * (len(new) - len(old))


def _lines(text: str) -> int:
    return text.count("\n") + 1


class _CheckedFormatter(SandboxedFormatter):
    """str.format / format_map: each field's final spec (nested fields filled in) and value checked
    before the field is formatted."""

    def format_field(self, value, format_spec):
        check_format_spec(format_spec)
        check_size(value)
        return check_size(super().format_field(value, format_spec))


class _SizeChecking(CodeGenerator):
    """`~` concatenation checks sizes: a string doubled in a loop cannot outgrow the limit."""

    def visit_Concat(self, node: nodes.Concat, frame) -> None:
        if frame.eval_ctx.volatile or frame.eval_ctx.autoescape:
            return super().visit_Concat(node, frame)
        self.write("environment.concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


_STR_METHODS_REFUSED = frozenset({"translate", "maketrans"})  # a mapping can turn each character into a book


class LimitedSandbox(ImmutableSandboxedEnvironment):
    """jinja2's immutable sandbox with a time, step and size budget per render (`start`).

    `escape`: applied to every `{{ value }}` written into the output (the page escapes data as
    Markdown text there, while conditions and lookups see the raw values)."""

    code_generator_class = _SizeChecking
    intercepted_binops = frozenset(["*", "**", "+", "%"])

    def __init__(self, *, escape=None, **kwargs):
        self.escape = escape
        super().__init__(finalize=self._written, **kwargs)
        self.globals.pop("lipsum", None)  # lipsum(n=10**6): a generator of text for nothing
        self.filters = {name: _limited_filter(self, name, f) for name, f in self.filters.items()}
        self.filters[_STEPS_FILTER] = self.steps
        self.start()

    def _written(self, value):
        check_size(value)  # before str(): the output loop counts what was written, this what is about to be
        return value if self.escape is None else self.escape(value)

    def _parse(self, source, name, filename):
        """Every `{% for %}` iterates through the steps filter (counted and timed), so nested
        loops cannot outrun the limits; done on the tree, before code generation."""
        tree = super()._parse(source, name, filename)
        for node in tree.find_all(nodes.For):
            node.iter = nodes.Filter(node.iter, _STEPS_FILTER, [], [], None, None, lineno=node.iter.lineno)
        return tree

    def start(self) -> None:
        self.deadline, self.steps_left = time.monotonic() + TIME_LIMIT_S, MAX_STEPS

    def tick(self, n: int = 1) -> None:
        self.steps_left -= n
        if self.steps_left < 0:
            raise TemplateLimit(f"more than {MAX_STEPS:,} loop steps and calls")
        if time.monotonic() > self.deadline:
            raise TemplateLimit(f"took more than {TIME_LIMIT_S:g} s")

    def steps(self, iterable):
        for item in iterable:
            self.tick()
            yield item

    def materialise(self, value):
        """An iterator (`map`, `select`) as a list, counted step by step, so it can be sized."""
        if not isinstance(value, Iterator):
            return value
        out = []
        for item in value:
            self.tick()
            out.append(item)
        return out

    def concat(self, parts) -> str:
        parts = list(parts)
        if deep_size(parts) > MAX_SIZE:
            raise _too_big()
        return "".join(map(str, parts))

    def call(__self, __context: Context, __obj, *args, **kwargs):  # noqa: N805 (jinja2's signature)
        __self.tick()
        for arg in (*args, *kwargs.values()):
            if isinstance(arg, int) and not isinstance(arg, bool) and abs(arg) > MAX_SIZE:
                raise TemplateLimit(f"argument {arg:,} is larger than {MAX_SIZE:,}")
        args = tuple(__self.materialise(a) for a in args)
        check_size((args, kwargs))
        owner, name = getattr(__obj, "__self__", None), getattr(__obj, "__name__", "")
        if isinstance(owner, str):
            __self._check_str_method(owner, name, args, kwargs)
        return check_size(super().call(__context, __obj, *args, **kwargs))

    @staticmethod
    def _check_str_method(s: str, name: str, args: tuple, kwargs: dict) -> None:
        if name in _STR_METHODS_REFUSED:
            raise TemplateLimit(f"str.{name} is not available in templates")
        if name == "replace" and len(args) >= 2:
            count = args[2] if len(args) > 2 else kwargs.get("count")
            if replace_size(s, args[0], args[1], count if isinstance(count, int) else None) > MAX_SIZE:
                raise _too_big()
        elif name == "join" and args:
            items = list(args[0])
            if deep_size(items) + len(s) * len(items) > MAX_SIZE:
                raise _too_big()
        elif name == "expandtabs":
            size = (args[0] if args else kwargs.get("tabsize", 8))
            if isinstance(size, int) and len(s) * max(size, 1) > MAX_SIZE:
                raise _too_big()

    def wrap_str_format(self, value):
        """str.format / format_map through the checking formatter (jinja2 wraps them on lookup)."""
        if not (callable(value) and getattr(value, "__name__", "") in ("format", "format_map")
                and isinstance(getattr(value, "__self__", None), str)):
            return None
        template, is_map, formatter = value.__self__, value.__name__ == "format_map", _CheckedFormatter(self)

        @functools.wraps(value)
        def wrapper(*args, **kwargs):
            if is_map:
                if kwargs or len(args) != 1:
                    raise TypeError("format_map() takes exactly one argument")
                args, kwargs = (), args[0]
            return str(formatter.vformat(template, args, kwargs))

        return wrapper

    def call_binop(self, context, op: str, left, right):
        self.tick()
        if op == "*":
            n, seq = (left, right) if isinstance(left, int) else (right, left)
            if isinstance(n, int) and isinstance(seq, (str, list, tuple)) and deep_size(seq) * max(n, 0) > MAX_SIZE:
                raise _too_big()
        elif op == "**" and isinstance(left, int) and isinstance(right, int) and \
                right > 0 and max(abs(left), 2).bit_length() * right > 4096:
            raise TemplateLimit("power too large")
        elif op == "+" and isinstance(left, (str, list, tuple)) and deep_size(left) + deep_size(right) > MAX_SIZE:
            raise _too_big()
        elif op == "%" and isinstance(left, str):
            check_printf(left)
            check_size(right)
        return check_size(super().call_binop(context, op, left, right))


def _arguments(signature, args, kwargs) -> dict:
    try:
        bound = signature.bind(*args, **kwargs)
    except TypeError:
        return {}  # the filter itself reports the wrong call
    bound.apply_defaults()
    return bound.arguments


@functools.lru_cache(maxsize=512)
def _signature(func) -> inspect.Signature | None:
    """Jinja's filters are the same functions in every environment: their signatures are read once
    (an environment is made per template check and render; reading ~50 signatures took most of it)."""
    try:
        return inspect.signature(func)
    except (TypeError, ValueError):
        return None


def _limited_filter(env: LimitedSandbox, name: str, func):
    """A filter that refuses huge widths / counts, and sizes what it would build before building
    it (replace, indent, wordwrap, join, format; every argument's text size)."""
    signature = _signature(func)

    @functools.wraps(func)  # keeps jinja's pass_context / pass_environment marks
    def limited(*args, **kwargs):
        env.tick()
        for arg in (*args, *kwargs.values()):
            if isinstance(arg, int) and not isinstance(arg, bool) and abs(arg) > MAX_SIZE:
                raise TemplateLimit(f"filter {name}: {arg:,} is larger than {MAX_SIZE:,}")
        if name == "join":  # its sequence may be an iterator (map, select): sized as a list
            args = tuple(env.materialise(a) for a in args)
        data = [a for a in (*args, *kwargs.values()) if not isinstance(a, (Context, EvalContext, LimitedSandbox))]
        check_size(data)
        a = _arguments(signature, args, kwargs) if signature is not None else {}
        if name == "replace" and a:
            if replace_size(a["s"], a["old"], a["new"], a.get("count")) > MAX_SIZE:
                raise _too_big()
        elif name == "indent" and a:
            width = a["width"]
            if _lines(str(a["s"])) * (len(width) if isinstance(width, str) else max(int(width), 0)) > MAX_SIZE:
                raise _too_big()
        elif name == "wordwrap" and a:
            wrap = a.get("wrapstring") or "\n"
            if len(str(a["s"])) * (1 + len(str(wrap))) > MAX_SIZE:
                raise _too_big()
        elif name == "join" and a:
            seq = a["value"]
            if isinstance(seq, (list, tuple)) and deep_size(seq) + len(str(a["d"])) * len(seq) > MAX_SIZE:
                raise _too_big()
        elif name == "format" and args and isinstance(args[0], str):
            check_printf(args[0])  # the filtered value is the format: '%.900000000f'|format(1.0)
        return check_size(func(*args, **kwargs))

    return limited
