"""User-facing errors.

Every stage validates its inputs and raises :class:`HsbinetError` with one paragraph that names
the file, the key (dataset / variable / config field) and what was expected versus found. The CLI
prints that paragraph and exits non-zero without a Python traceback; anything else that escapes is
a bug and keeps its traceback.
"""

from __future__ import annotations


class HsbinetError(Exception):
    """An actionable input/configuration error (bad file, key, shape, dtype, band count, ratio)."""

    def __init__(self, what: str, *, file: str | None = None, key: str | None = None,
                 expected: str | None = None, found: str | None = None, hint: str | None = None):
        self.what, self.file, self.key = what, file, key
        self.expected, self.found, self.hint = expected, found, hint
        super().__init__(self.paragraph())

    def paragraph(self) -> str:
        parts = [self.what.rstrip('.') + '.']
        if self.file is not None:
            parts.append(f'File: {self.file}.')
        if self.key is not None:
            parts.append(f'Key: {self.key}.')
        if self.expected is not None:
            parts.append(f'Expected: {self.expected}.')
        if self.found is not None:
            parts.append(f'Found: {self.found}.')
        if self.hint is not None:
            parts.append(self.hint.rstrip('.') + '.')
        return ' '.join(parts)
