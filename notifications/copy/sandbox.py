"""
The sandbox staff-edited templates run in: Django's template engine with only the tags in
`library` (no load, include or extends: a template reaches nothing but its own text), no
loaders, and a context holding only the kind's documented variables.

`check_template` is what stops a broken template being saved or published: it compiles the
source, looks for variables the kind does not document, and renders it against sample values;
every problem names its line.
"""

import functools
import re
from dataclasses import dataclass

from django.template import Context, Engine, Template, TemplateSyntaxError
from django.template.base import FilterExpression, Node, Variable, VariableNode
from django.template.defaulttags import FilterNode, ForNode, TemplateLiteral, WithNode
from django.template.smartif import TokenBase

from ..kinds import MessageKind

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
    return engine().from_string(source)


def render(source: str, context: dict, *, autoescape: bool) -> str:
    """Render a staff template with `context` (only documented variables: see sandbox_context)."""
    return compile_template(source).render(Context(context, autoescape=autoescape))


def sandbox_context(kind: MessageKind, full: dict) -> dict:
    """Return the part of `full` a staff template may see: the kind's documented variables."""
    allowed = kind.all_variables
    return {name: value for name, value in full.items() if name in allowed}


def check_template(source: str, *, kind: MessageKind, autoescape: bool = False) -> list[TemplateProblem]:
    """Return what stops `source` rendering for `kind` (empty when it renders), each with its line."""
    if not source.strip():
        return []
    template, problems = compile_all(source)
    allowed = set(kind.all_variables) | set(_BOUND_AS.findall(source))
    if template is not None:
        problems += _unknown_variables(template.nodelist, allowed=allowed, known=kind.all_variables)
    if problems:
        return sorted(problems, key=lambda problem: problem.line)
    try:
        output = template.render(Context(kind.sample_context(), autoescape=autoescape))
    except Exception as error:  # a filter that fails on the sample values, a bad argument...
        return [TemplateProblem(_error_line(error, source), f"It does not render: {error}")]
    return [
        TemplateProblem(_line_of(name, source), f"“{name}” does not exist for this message.")
        for name in dict.fromkeys(_UNKNOWN_RE.findall(output))
    ]


# Tags of Django's that a message template cannot use: they reach outside its own text.
_REACHING_OUT = {"load", "include", "extends", "url", "csrf_token", "debug", "block", "static", "trans", "translate"}
_MAX_SYNTAX_PROBLEMS = 20


def compile_all(source: str) -> tuple[Template | None, list[TemplateProblem]]:
    """Compile `source`; return every syntax problem, each bad tag set aside in turn so one mistake
    does not hide the next, and the template without them (to look for unknown variables; never
    to render when there are problems); None when nothing could be compiled."""
    problems: list[TemplateProblem] = []
    for _ in range(_MAX_SYNTAX_PROBLEMS):
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
    problems: list[TemplateProblem] = []

    def check(expression, node: Node) -> None:
        if not isinstance(expression, FilterExpression):
            return
        variables = [expression.var] + [arg for _, args in expression.filters for lookup, arg in args if lookup]
        for variable in variables:
            if isinstance(variable, Variable) and variable.lookups:
                root = variable.lookups[0]
                if root not in scope[-1]:
                    line = node.token.lineno if getattr(node, "token", None) else 0
                    hint = f" Known: {', '.join(sorted(known))}."
                    problems.append(TemplateProblem(line, f"“{root}” does not exist for this message.{hint}"))

    def check_condition(condition, node: Node) -> None:
        if isinstance(condition, TemplateLiteral):
            check(condition.value, node)
        elif isinstance(condition, TokenBase):
            for part in (getattr(condition, "first", None), getattr(condition, "second", None)):
                check_condition(part, node)

    scope = [allowed]

    def walk(nodes) -> None:
        for node in nodes:
            if isinstance(node, VariableNode):
                check(node.filter_expression, node)
            elif isinstance(node, ForNode):
                check(node.sequence, node)
                scope.append(scope[-1] | set(node.loopvars) | {"forloop"})
                walk(node.nodelist_loop)
                scope.pop()
                walk(node.nodelist_empty)
                continue
            elif isinstance(node, WithNode):
                for value in node.extra_context.values():
                    check(value, node)
                scope.append(scope[-1] | set(node.extra_context))
                walk(node.nodelist)
                scope.pop()
                continue
            elif hasattr(node, "conditions_nodelists"):  # {% if %}
                for condition, _ in node.conditions_nodelists:
                    check_condition(condition, node)
            elif not isinstance(node, FilterNode):
                for value in vars(node).values():
                    items = value.values() if isinstance(value, dict) else value
                    for item in items if isinstance(items, list | tuple | type({}.values())) else [value]:
                        check(item, node)
            for name in node.child_nodelists:
                walk(getattr(node, name, None) or [])

    walk(nodelist)
    return problems
