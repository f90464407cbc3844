"""Files that appear whole or not at all: written to a hidden file beside the target, then renamed.

:func:`temporary_beside` gives the hidden file. It is created as a plain ``open`` would create a new
file, with the permissions ``0o666`` less the process's umask, where :func:`tempfile.mkstemp` makes
every file readable by its owner only; a data set downloaded into a shared cache, or a result
table written for a course, stays readable by everyone the umask allows once it is renamed into place.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["temporary_beside"]


@contextmanager
def temporary_beside(path: Path, suffix: str = ".tmp") -> Iterator[Path]:
    """A new, empty hidden file ``.<name>.<random><suffix>`` in ``path``'s folder (made if missing).

    The file is removed on exit unless it was renamed away (``os.replace(tmp, path)``), so an
    interrupted write leaves nothing behind.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}{suffix}")
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            break
        except FileExistsError:     # another writer drew the same name: draw again
            continue
    try:
        yield tmp
    finally:
        tmp.unlink(missing_ok=True)
