"""
The sandbox staff-edited templates run in: Django's template engine with only the tags in
`library` (no load, include or extends: a template reaches nothing but its own text), no
loaders, and a context holding only the kind's documented variables.

`check_template` is what stops a broken template being saved or published: it compiles the
source, looks for variables the kind does not document, and renders it against sample values;
every problem names its line.

Every render runs within limits (notifications.copy.limits): time, output size and work (what
variables and filters produce, loop iterations times the loop's size). A version over them cannot
be saved (it is rendered with the sample values, and again with other values, so a guard on the
sample's name does not hide a bomb); at send time it fails that one message, in milliseconds.
"""

import functools
import re
from dataclasses import dataclass

from django.template import Context, Engine, Template, TemplateSyntaxError
from django.template.base import FilterExpression, Node, Variable, VariableNode
from django.template.defaulttags import FilterNode, ForNode, LoremNode, TemplateLiteral, WithNode
from django.template.smartif import TokenBase
from django.utils.translation import gettext as _

from ..kinds import MessageKind
from . import limits
from .limits import LimitExceeded

UNKNOWN = "\x00unknown:%s\x00"
_UNKNOWN_RE = re.compile("\x00unknown:(.*?)\x00")
# Names a tag binds with "... as name" ({% cycle ... as row %}, {% regroup ... as groups %}).
_BOUND_AS = re.compile(r"\{%[^%]*\bas\s+(\w+)[^%]*%\}")


class SandboxEngine(Engine):
    default_builtins = ["notifications.copy.library"]


@functools.cache
def engine() -> SandboxEngine:
    """The engine staff templates render with (a missing optional value renders empty)."""
    return SandboxEngine(loaders=[], debug=True)


@functools.cache
def checking_engine() -> SandboxEngine:
    """The same engine, but a variable that does not resolve leaves a mark we can find."""
    return SandboxEngine(loaders=[], debug=True, string_if_invalid=UNKNOWN)


@dataclass(frozen=True)
class TemplateProblem:
    line: int
    message: str

    def __str__(self):
        return f"Line {self.line}: {self.message}" if self.line else self.message


@functools.lru_cache(maxsize=512)
def compile_template(source: str) -> Template:
    """Compile a staff template (cached by its text: a published version never changes)."""
    if len(source) > limits.MAX_SOURCE_CHARS:
        raise LimitExceeded(_("It is longer than %(limit)s characters.") % {"limit": f"{limits.MAX_SOURCE_CHARS:,}"})
    return _instrument(engine().from_string(source))


def render(source: str, context: dict, *, autoescape: bool) -> str:
    """Render a staff template with `context` (only documented variables: see sandbox_context),
    within the limits: raises LimitExceeded, with the reason, past them."""
    return _render(compile_template(source), Context(context, autoescape=autoescape))


def _render(template: Template, context: Context) -> str:
    with limits.budget():
        output = template.render(context)
    limits.check_size(output)
    return output


class _Charged(FilterExpression):
    """A template expression that charges the render's budget for what it resolves to (a count,
    with `at_most`: that many times `per_item`)."""

    def __init__(self, expression: FilterExpression, *, per_item: int = 1, at_most: int | None = None):
        for name in FilterExpression.__slots__:
            setattr(self, name, getattr(expression, name))
        self.per_item, self.at_most = per_item, at_most

    def resolve(self, context, ignore_failures=False):
        limits.charge(1)
        value = super().resolve(context, ignore_failures)
        if self.at_most is not None and str(value).strip().isdigit():
            if int(value) > self.at_most:
                raise LimitExceeded(
                    _("%(expression)s asks for more than %(limit)s.")
                    % {"expression": self.token, "limit": f"{self.at_most:,}"}
                )
            limits.charge(int(value) * self.per_item)
            return value
        limits.check_size(value)
        limits.charge(limits.size(value) * self.per_item)
        return value


def _instrument(template: Template) -> Template:
    """Make every expression of the template (variables, tag arguments, conditions, loop sequences,
    lorem's count) charge the render's budget; a loop charges each iteration with the size of its
    body, so loops inside loops add up."""

    def walk(nodes) -> None:
        for node in nodes:
            if isinstance(node, ForNode):
                node.sequence = _Charged(node.sequence, per_item=1 + _static_size(node.nodelist_loop))
            elif isinstance(node, LoremNode):
                per_word = 8 if node.method == "w" else 400  # a word, or a paragraph
                node.count = _Charged(node.count, at_most=limits.MAX_WIDTH, per_item=per_word)
            for attribute, value in list(vars(node).items()):
                if attribute not in (*node.child_nodelists, "token", "origin", "nodelist"):
                    setattr(node, attribute, _charged(value))
            for name in node.child_nodelists:
                walk(getattr(node, name, None) or [])

    walk(template.nodelist)
    return template


def _charged(value, depth: int = 0):
    """`value` (a node's attribute) with every expression in it charging the budget."""
    if depth > 5 or isinstance(value, _Charged | str | Node):
        return value
    if isinstance(value, FilterExpression):
        return _Charged(value)
    if isinstance(value, TemplateLiteral):
        value.value = _charged(value.value, depth + 1)
    elif isinstance(value, TokenBase):
        for side in ("first", "second"):
            if getattr(value, side, None) is not None:
                setattr(value, side, _charged(getattr(value, side), depth + 1))
    elif isinstance(value, list):
        value[:] = [_charged(item, depth + 1) for item in value]
    elif isinstance(value, tuple):
        return tuple(_charged(item, depth + 1) for item in value)
    elif isinstance(value, dict):
        for key in value:
            value[key] = _charged(value[key], depth + 1)
    return value


def _static_size(nodes) -> int:
    """What a loop's body writes besides its expressions: its text (and {% now %}'s, at most 32
    characters per format character)."""
    total = 0
    for node in nodes:
        total += 1 + len(getattr(node, "s", "") or "") + len(getattr(node, "content", "") or "")
        total += 32 * len(getattr(node, "format_string", "") or "")
        for name in node.child_nodelists:
            total += _static_size(getattr(node, name, None) or [])
    return total


def sandbox_context(kind: MessageKind, full: dict) -> dict:
    """Return the part of `full` a staff template may see: the kind's documented variables."""
    allowed = kind.all_variables
    return {name: value for name, value in full.items() if name in allowed}


def check_template(source: str, *, kind: MessageKind, autoescape: bool = False) -> list[TemplateProblem]:
    """Return what stops `source` rendering for `kind` (empty when it renders), each with its line."""
    if not source.strip():
        return []
    if len(source) > limits.MAX_SOURCE_CHARS:
        return [
            TemplateProblem(0, _("It is longer than %(limit)s characters.") % {"limit": f"{limits.MAX_SOURCE_CHARS:,}"})
        ]
    template, problems = compile_all(source)
    allowed = set(kind.all_variables) | set(_BOUND_AS.findall(source))
    if template is not None:
        template = _instrument(template)
        problems += _unknown_variables(template.nodelist, allowed=allowed, known=kind.all_variables)
        problems += _width_problems(template.nodelist)
    if problems:
        return sorted(problems, key=lambda problem: problem.line)
    try:
        output = _render(template, Context(kind.sample_context(), autoescape=autoescape))
    except LimitExceeded as error:
        return [TemplateProblem(0, _("It is too big to send: %(reason)s") % {"reason": error})]
    except Exception as error:  # a filter that fails on the sample values, a bad argument...
        return [TemplateProblem(_error_line(error, source), f"It does not render: {error}")]
    over = _limit_with_other_values(template, kind=kind, autoescape=autoescape)
    if over:
        return [over]
    return [
        TemplateProblem(_line_of(name, source), f"“{name}” does not exist for this message.")
        for name in dict.fromkeys(_UNKNOWN_RE.findall(output))
    ]


def other_samples(kind: MessageKind) -> list[dict]:
    """The sample values changed, then emptied: a template must keep to the limits for any recipient,
    not only for the sample's name (`{% if first_name != "Asha" %}` hides nothing)."""
    sample = kind.sample_context()
    changed = {
        name: f"{value} Kumar 2" if isinstance(value, str) else [*value, *value] if isinstance(value, list) else value
        for name, value in sample.items()
    }
    emptied = {
        name: "" if isinstance(value, str) else [] if isinstance(value, list) else value
        for name, value in sample.items()
    }
    return [changed | {"name": "Ravi Kumar", "first_name": "Ravi"}, emptied]


def _limit_with_other_values(template: Template, *, kind: MessageKind, autoescape: bool) -> TemplateProblem | None:
    for values in other_samples(kind):
        try:
            _render(template, Context(values, autoescape=autoescape))
        except LimitExceeded as error:
            return TemplateProblem(0, _("It is too big to send for some recipients: %(reason)s") % {"reason": error})
        except Exception:  # other values may break a filter the sample values pass: not a limit
            continue
    return None


def _width_problems(nodelist) -> list[TemplateProblem]:
    """Literal arguments past the limits, in every branch (|center:"200000000", {% lorem 99999 %})."""
    problems = []
    for node, expression in expressions(nodelist):
        filters = getattr(expression, "filters", ())
        for func, args in filters:
            name = getattr(func, "_filter_name", "")
            for lookup, arg in args:
                if not lookup:  # a literal argument, stored resolved
                    try:
                        limits.check_width(name, arg)
                    except LimitExceeded as error:
                        problems.append(TemplateProblem(_node_line(node), str(error)))
        count = str(getattr(node.count, "token", "")) if isinstance(node, LoremNode) else ""
        if expression is getattr(node, "count", None) and count.isdigit() and int(count) > limits.MAX_WIDTH:
            problems.append(
                TemplateProblem(
                    _node_line(node),
                    _("{%% lorem %%} asks for more than %(limit)s.") % {"limit": f"{limits.MAX_WIDTH:,}"},
                )
            )
    return problems


def _node_line(node: Node) -> int:
    return node.token.lineno if getattr(node, "token", None) else 0


def expressions(nodelist):
    """Yield (node, expression) for every expression of every node, in every branch."""
    for node in nodelist:
        for value in vars(node).values():
            yield from ((node, found) for found in _found_expressions(value))
        for name in node.child_nodelists:
            yield from expressions(getattr(node, name, None) or [])


def _found_expressions(value, depth: int = 0):
    if depth > 4 or isinstance(value, str | Node):
        return
    if isinstance(value, FilterExpression):
        yield value
    elif isinstance(value, TemplateLiteral):
        yield value.value
    elif isinstance(value, TokenBase):
        for part in (getattr(value, "first", None), getattr(value, "second", None)):
            yield from _found_expressions(part, depth + 1)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _found_expressions(item, depth + 1)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _found_expressions(item, depth + 1)


# Tags of Django's that a message template cannot use: they reach outside its own text.
_REACHING_OUT = {"load", "include", "extends", "url", "csrf_token", "debug", "block", "static", "trans", "translate"}
_MAX_SYNTAX_PROBLEMS = 20


def compile_all(source: str) -> tuple[Template | None, list[TemplateProblem]]:
    """Compile `source`; return every syntax problem, each bad tag set aside in turn so one mistake
    does not hide the next, and the template without them (to look for unknown variables; never
    to render when there are problems); None when nothing could be compiled."""
    problems: list[TemplateProblem] = []
    for _attempt in range(_MAX_SYNTAX_PROBLEMS):
        try:
            template = checking_engine().from_string(source)
        except TemplateSyntaxError as error:
            problems.append(TemplateProblem(_error_line(error, source), _syntax_message(error)))
            debug = getattr(error, "template_debug", None) or {}
            start, end = debug.get("start"), debug.get("end")
            if start is None or not source[start:end].strip():
                return None, problems
            source = source[:start] + re.sub(r"[^\n]", " ", source[start:end]) + source[end:]  # keep line numbers
        else:
            return template, problems
    return None, problems


def _syntax_message(error: TemplateSyntaxError) -> str:
    # Django's own wording, without its line (the problem has it) and its advice to {% load %}
    # a library, which a message template cannot do.
    message = re.sub(r" on line \d+", "", str(error)).replace(" Did you forget to register or load this tag?", "")
    if message.startswith("Invalid block tag"):
        tag = re.search(r"'(\w+)'", message)
        name = tag.group(1) if tag else "this tag"
        expected = re.search(r"expected (.*)$", message)
        if name in _REACHING_OUT:
            return f"{{% {name} %}} is not allowed in a message template: it can use only its own text and variables."
        if not (name.startswith("end") or name in ("else", "elif", "empty")):
            return f"{{% {name} %}} is not allowed here (is it misspelt?): the tags you can use are listed below."
        if expected:
            return f"{{% {name} %}} is out of place here: expected {expected.group(1).rstrip('.')}."
        return f"{{% {name} %}} has no opening tag before it."
    return message


def _error_line(error: Exception, source: str) -> int:
    debug = getattr(error, "template_debug", None)
    if debug and debug.get("line"):
        return int(debug["line"])
    found = re.search(r"line (\d+)", str(error))
    return int(found.group(1)) if found else 0


def _line_of(name: str, source: str) -> int:
    root = name.split(".")[0].split("|")[0].strip()
    for number, line in enumerate(source.splitlines(), 1):
        if re.search(rf"(\{{\{{|\{{%)[^}}]*\b{re.escape(root)}\b", line):
            return number
    return 0


def _unknown_variables(nodelist, *, allowed: set[str], known: dict) -> list[TemplateProblem]:
    check = _VariableCheck(allowed=allowed, known=known)
    check.walk(nodelist)
    return check.problems


class _VariableCheck:
    """Walks a parsed template and notes every variable that is neither the kind's nor made by the
    template itself ({% for %} loop variables, {% with %} names), with its line."""

    def __init__(self, *, allowed: set[str], known: dict):
        self.scope = [allowed]
        self.hint = f" Known: {', '.join(sorted(known))}."
        self.problems: list[TemplateProblem] = []

    def walk(self, nodes) -> None:
        for node in nodes:
            if isinstance(node, ForNode):
                self.check(node.sequence, node)
                self.within(set(node.loopvars) | {"forloop"}, node.nodelist_loop)
                self.walk(node.nodelist_empty)
            elif isinstance(node, WithNode):
                for value in node.extra_context.values():
                    self.check(value, node)
                self.within(set(node.extra_context), node.nodelist)
            else:
                self.check_node(node)
                for name in node.child_nodelists:
                    self.walk(getattr(node, name, None) or [])

    def within(self, names: set[str], nodes) -> None:
        """Walk `nodes` with `names` defined (a loop's or a {% with %}'s)."""
        self.scope.append(self.scope[-1] | names)
        self.walk(nodes)
        self.scope.pop()

    def check_node(self, node: Node) -> None:
        if isinstance(node, VariableNode):
            self.check(node.filter_expression, node)
        elif hasattr(node, "conditions_nodelists"):  # {% if %}
            for condition, _ in node.conditions_nodelists:
                self.check_condition(condition, node)
        elif not isinstance(node, FilterNode):
            for value in vars(node).values():
                items = value.values() if isinstance(value, dict) else value
                for item in items if isinstance(items, list | tuple | type({}.values())) else [value]:
                    self.check(item, node)

    def check_condition(self, condition, node: Node) -> None:
        if isinstance(condition, TemplateLiteral):
            self.check(condition.value, node)
        elif isinstance(condition, TokenBase):
            for part in (getattr(condition, "first", None), getattr(condition, "second", None)):
                self.check_condition(part, node)

    def check(self, expression, node: Node) -> None:
        if not isinstance(expression, FilterExpression):
            return
        variables = [expression.var] + [arg for _, args in expression.filters for lookup, arg in args if lookup]
        for variable in variables:
            if isinstance(variable, Variable) and variable.lookups and variable.lookups[0] not in self.scope[-1]:
                line = node.token.lineno if getattr(node, "token", None) else 0
                message = f"“{variable.lookups[0]}” does not exist for this message.{self.hint}"
                self.problems.append(TemplateProblem(line, message))
