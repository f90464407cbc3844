"""Every docstring of the library parses as reStructuredText the way the API reference reads it.

``book/api.md`` renders the library with ``sphinx.ext.autodoc`` and ``sphinx.ext.napoleon``
(Google style). A docstring that is not valid reStructuredText (a simple table whose cell
overflows its column, ``|x|`` read as an undefined substitution, ``name_`` read as a link to an
unknown target, a broken indentation) makes the book build fail or renders garbled. These tests
catch that without building the book: for every module under ``rec_unlearn_lib``, the docstring
of the module and of each public class, function, method, property and documented attribute
defined in it is converted as napoleon converts it and parsed with plain docutils. Sphinx's own
roles and directives (``:class:``, ``:math:``, ``.. math::``, ...) are registered as no-ops first,
so only the problems of the reStructuredText itself are reported (warnings and errors, level >= 2).
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import pkgutil
from collections.abc import Iterator
from types import ModuleType

import pytest
from docutils import nodes
from docutils.core import publish_doctree
from docutils.parsers.rst import Directive, directives, roles
from sphinx.ext.napoleon import Config
from sphinx.ext.napoleon.docstring import GoogleDocstring
from sphinx.pycode import ModuleAnalyzer
from sphinx.util.docstrings import prepare_docstring
from sphinx.util.docutils import docutils_namespace

import rec_unlearn_lib

PACKAGE = rec_unlearn_lib.__name__
NAPOLEON = Config(napoleon_use_rtype=False, napoleon_numpy_docstring=False)
SETTINGS = {"report_level": 5, "halt_level": 5}  # print nothing, never stop: collect instead
WARNING = 2  # docutils levels: 1 info, 2 warning, 3 error, 4 severe

# Roles and directives that Sphinx (and its extensions used by the book) define but plain docutils
# does not. Unknown ones stay errors, so a misspelt role (``:clas:``) is still reported.
_PY_ROLES = ("class", "func", "meth", "data", "attr", "mod", "exc", "obj", "const", "type")
SPHINX_ROLES = (
    *_PY_ROLES, *(f"py:{r}" for r in _PY_ROLES), "any", "math", "eq", "numref", "ref", "doc", "term",
    "envvar", "option", "file", "samp", "kbd", "command", "program", "dfn", "abbr", "download",
    "cite", "cite:p", "cite:t", "cite:ps", "cite:ts", "cite:alp", "cite:label", "footcite",
)
_PY_DIRECTIVES = ("module", "currentmodule", "function", "class", "method", "attribute", "property",
                  "data", "exception", "staticmethod", "classmethod", "decorator")
SPHINX_DIRECTIVES = (
    *_PY_DIRECTIVES, *(f"py:{d}" for d in _PY_DIRECTIVES), "math", "seealso", "versionadded",
    "versionchanged", "deprecated", "todo", "code-block", "sourcecode", "literalinclude", "index",
    "only", "centered", "hlist", "glossary", "toctree", "bibliography", "footbibliography",
    "testcode", "testoutput", "doctest", "plot",
)


def _literal_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    return [nodes.literal(rawtext, text)], []


class _AnyOptions(dict):
    """An option spec that accepts every option (``:type:``, ``:label:``, ``:no-index:``, ...)."""

    def __missing__(self, key: str):
        return directives.unchanged


class _NoOpDirective(Directive):
    """Stands in for a Sphinx directive: any argument, any option, any content; renders nothing."""

    has_content = True
    required_arguments = 0
    optional_arguments = 1
    final_argument_whitespace = True
    option_spec = _AnyOptions(noindex=directives.flag)

    def run(self) -> list[nodes.Node]:
        return []


def rst_problems(text: str, source: str = "<docstring>") -> list[str]:
    """Warnings and errors of docutils on ``text``, as ``"LEVEL line N: message"`` strings.

    ``N`` counts lines of ``text`` (for a docstring: of napoleon's output, which is close to the
    docstring's own lines but not always equal).

    Messages raised while parsing are in the tree; those raised by the transforms (undefined
    substitutions, unknown link targets, ...) are in ``document.transform_messages``.
    """
    with docutils_namespace():
        for name in SPHINX_ROLES:
            roles.register_local_role(name, _literal_role)
        for name in SPHINX_DIRECTIVES:
            directives.register_directive(name, _NoOpDirective)
        doc = publish_doctree(text, source_path=source, settings_overrides=SETTINGS)
    found = [*doc.findall(nodes.system_message), *doc.transform_messages]
    problems, seen = [], set()
    for msg in found:
        if msg["level"] < WARNING or id(msg) in seen:
            continue
        seen.add(id(msg))
        first = msg.children[0].astext() if msg.children else msg.astext()
        problems.append(f"{msg['type']} line {msg.get('line', '?')}: {first}")
    return problems


def napoleon_rst(docstring: str, what: str = "", name: str = "") -> str:
    """``docstring`` as autodoc hands it to Sphinx: dedented, then converted by napoleon."""
    lines = prepare_docstring(docstring)
    return "\n".join(GoogleDocstring(lines, NAPOLEON, what=what, name=name).lines())


# ----------------------------------------------------------------------------------------------
# The library's docstrings


def library_modules() -> list[str]:
    """Every module of the package (the package itself first), as dotted names."""

    def fail(name: str) -> None:
        raise ImportError(f"cannot import {name}")

    found = pkgutil.walk_packages(rec_unlearn_lib.__path__, PACKAGE + ".", onerror=fail)
    return [PACKAGE, *sorted(info.name for info in found)]


def _is_public(qualname: str) -> bool:
    return not any(part.startswith("_") for part in qualname.split("."))


def _own_doc(obj: object) -> str | None:
    doc = getattr(obj, "__doc__", None)
    return doc if isinstance(doc, str) and doc.strip() else None


def _member_kind(value: object) -> tuple[str, object] | None:
    """(napoleon's ``what``, the object holding the docstring) of a class attribute, if documented."""
    if isinstance(value, (staticmethod, classmethod)):
        return "method", value.__func__
    if isinstance(value, property):
        return "property", value.fget
    if inspect.isfunction(value):
        return "method", value
    if inspect.isclass(value):
        return "class", value
    return None


def module_docstrings(module_name: str) -> Iterator[tuple[str, str, str]]:
    """(qualified name, napoleon's ``what``, docstring) of everything autodoc documents in a module."""
    if module_name.endswith(".__main__"):  # importing it would run the command line
        spec = importlib.util.find_spec(module_name)
        doc = ast.get_docstring(ast.parse(spec.loader.get_source(module_name)), clean=False)
        if doc:
            yield module_name, "module", doc
        return
    module: ModuleType = importlib.import_module(module_name)
    if _own_doc(module):
        yield module_name, "module", module.__doc__
    for name, value in vars(module).items():
        if name.startswith("_") or getattr(value, "__module__", None) != module_name:
            continue
        if inspect.isclass(value):
            if _own_doc(value) and "__doc__" in vars(value):
                yield f"{module_name}.{name}", "class", value.__doc__
            for attr, member in vars(value).items():
                kind = None if attr.startswith("_") else _member_kind(member)
                if kind and _own_doc(kind[1]):
                    yield f"{module_name}.{name}.{attr}", kind[0], kind[1].__doc__
        elif inspect.isfunction(value) and _own_doc(value):
            yield f"{module_name}.{name}", "function", value.__doc__
    # Documented constants and attributes (a string after the assignment, or ``#:`` comments).
    for (namespace, name), lines in ModuleAnalyzer.for_module(module_name).find_attr_docs().items():
        qualname = f"{namespace}.{name}" if namespace else name
        if _is_public(qualname):
            yield f"{module_name}.{qualname}", "attribute", "\n".join(lines)


MODULES = library_modules()


def test_walks_the_whole_package():
    assert f"{PACKAGE}.data" in MODULES and f"{PACKAGE}.unlearning.aggregation" in MODULES
    assert f"{PACKAGE}.influence.recommender" in MODULES


@pytest.mark.parametrize("module_name", MODULES)
def test_docstrings_are_valid_rst(module_name: str):
    report = []
    count = 0
    for qualname, what, docstring in module_docstrings(module_name):
        count += 1
        problems = rst_problems(napoleon_rst(docstring, what, qualname), qualname)
        report += [f"{qualname}: {problem}" for problem in problems]
    if module_name != f"{PACKAGE}.__main__":
        assert count, f"no docstring found in {module_name}"
    assert not report, "docstrings that are not valid reStructuredText:\n" + "\n".join(report)


# ----------------------------------------------------------------------------------------------
# The checker itself: it reports each kind of problem, and nothing on Sphinx markup.


def test_accepts_sphinx_roles_directives_and_google_sections():
    doc = '''A :class:`~pkg.Thing` and :func:`f`, :py:meth:`A.b`, :math:`|\\mathcal{G}|`, :cite:p:`key`.

    .. math::
       :label: eq-one

       x = \\frac{1}{2}

    =========  ===========
    name       meaning
    =========  ===========
    ``a``      the first
    ``bb-cc``  the second,
               on two lines
    =========  ===========

    Args:
        x (int): a value.

    Attributes:
        y: an attribute.

    Returns:
        the sum.
    '''
    assert rst_problems(napoleon_rst(doc, "function")) == []


@pytest.mark.parametrize("body, expected", [
    ("=====  ====\na      b\nlong-cell  c\n=====  ====\n", "Malformed table"),
    ("Cost O(n + |graph|) per step.\n", "Undefined substitution"),
    ("See name_ for more.\n", "Unknown target name"),
    ("An *unclosed emphasis.\n", "start-string without end-string"),
    ("A :clas:`typo` role.\n", 'Unknown interpreted text role "clas"'),
    ("Text.\n  indented by mistake\nback.\n", "unexpected unindent"),
])
def test_reports_invalid_rst(body: str, expected: str):
    problems = rst_problems(napoleon_rst("Summary.\n\n" + body))
    assert any(expected.lower() in p.lower() for p in problems), problems
