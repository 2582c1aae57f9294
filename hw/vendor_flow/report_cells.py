"""Numbers from the cells of vendor reports (XML text or ``|``-table cells)."""

from __future__ import annotations


def num(text):
    """int or float from a report cell ('1,234', '12.5', '<0.01' -> 0.01); None for '', NA, undef, '-'."""
    if text is None:
        return None
    t = str(text).strip().replace(',', '')
    if t.startswith('<'):
        t = t[1:]
    if t.endswith('%'):
        t = t[:-1]
    if not t or t.lower() in ('na', 'n/a', 'undef', '-', '?'):
        return None
    try:
        return int(t)
    except ValueError:
        try:
            return float(t)
        except ValueError:
            return None


def pct(used, avail):
    if used is None or not avail:
        return None
    return round(100.0 * used / avail, 2)
