"""Temporary files for atomic writes: a short hidden name of this process's own beside the target.

Exports, the recording's remux, presets and ``output.paths.write_atomically`` take their
temporary names from here, so the name is short whatever the target's is (a legal 255-byte
file name must still work) and unique (two processes writing the same target never share a
temporary file). Pure standard library, at the bottom of the layers, so any layer can use it.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def temp_beside(path: str | os.PathLike[str], suffix: str | None = None) -> Path:
    """Create and return a new empty hidden file in ``path``'s folder to write ``path`` into
    before an atomic ``os.replace``.

    The name is short whatever ``path`` is (``.ls-<12 hex><suffix>``: a legal 255-byte final
    name must still work) and unique (``O_EXCL``), so two processes writing the same target
    never share a temporary file. ``suffix`` defaults to ``path``'s own, so writers that
    choose a format by extension still can. The file is created with the usual permissions
    (0666 less the umask), as the final file should have. Raises OSError (the folder is
    missing or refuses new files).
    """
    path = Path(path)
    ext = path.suffix if suffix is None else suffix
    ext = ext if len(ext) <= 16 else ""
    for _ in range(100):
        tmp = path.with_name(f".ls-{secrets.token_hex(6)}{ext}")
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return tmp
    raise FileExistsError(f"{path.parent}: no free temporary name after 100 tries")
