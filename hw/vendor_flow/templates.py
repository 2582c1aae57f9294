"""Fill the script templates in ``hw/vendor_flow/templates/`` (Tcl, XDC, shell, Markdown).

Placeholders are ``@@name`` or ``@@{name}`` (the braced form where letters, digits or ``_`` follow);
``@@@@`` is a literal ``@@``. :class:`string.Template`'s own ``$`` would collide with Tcl and shell
variables (``$top``, ``${top}_prj``, ``"${HLS[@]}"``) and ``%`` with Tcl's ``format``/``expr`` and
Verilog, so the delimiter is ``@@``, which none of these languages uses.

:func:`render` is strict: a placeholder without a value, a value without a placeholder and a
malformed placeholder (``@@`` not followed by a name) are errors, so a template and its writer
cannot drift apart silently and no ``@@name`` ever reaches a generated file.
"""

from __future__ import annotations

import string
from functools import lru_cache
from pathlib import Path

TEMPLATE_DIR = Path(__file__).parent / 'templates'


class ScriptTemplate(string.Template):
    """``string.Template`` with ``@@`` as the delimiter (see the module docstring for why)."""
    delimiter = '@@'


class TemplateError(ValueError):
    """A template and the values given to it do not match."""


@lru_cache(maxsize=None)
def _load(name: str) -> ScriptTemplate:
    t = ScriptTemplate((TEMPLATE_DIR / name).read_text())
    if not t.is_valid():
        raise TemplateError(f'template {name}: "@@" not followed by a placeholder name (write @@@@ for a literal @@)')
    return t


def render(name: str, **values) -> str:
    """The template ``templates/<name>`` with every placeholder replaced by ``str(values[key])``."""
    t = _load(name)
    wanted = set(t.get_identifiers())
    missing, unused = sorted(wanted - set(values)), sorted(set(values) - wanted)
    if missing:
        raise TemplateError(f'template {name}: no value for ' + ', '.join(f'@@{k}' for k in missing))
    if unused:
        raise TemplateError(f'template {name}: has no placeholder for ' + ', '.join(unused))
    return t.substitute(values)
