"""Where a model's directions live besides its config, without ever touching its weights.

The model id is the hash of the weights file, and presets, snapshots and logs name it, so
directions computed for an existing model never go into that file. They go into a sidecar, a
small JSON file that names the model id it belongs to::

    {"format": "latentsketch-directions", "version": 1, "model_id": "1a2b3c4d5e6f",
     "directions": [{"name": "pc0", "kind": "pc", "scale": 2.1, "u": [...]}, ...]}

A model's directions are gathered, later ones winning (``Directions.merged``), from: its config
(``train`` stores the principal directions there), the sidecar beside its weights
(``model.directions.json``: how the bundled model ships its own), and the user's sidecar for
that model id (``<data folder>/directions/<model id>.json``, what ``latentsketch directions``
writes). A sidecar of another model id, or one that is damaged, is refused with one line and
the model loads without it.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from latentsketch.errors import UserError, os_error_line
from latentsketch.latent.directions import DirectionError, Directions
from latentsketch.model.identity import bundled_name_of
from latentsketch.tempfiles import temp_beside
from latentsketch.userdirs import data_dir

FORMAT = "latentsketch-directions"
VERSION = 1
SUFFIX = ".directions.json"

log = logging.getLogger("latentsketch")


class DirectionsFileError(UserError, ValueError):
    """A directions sidecar that cannot be used; one line naming the file."""


def beside(weights: Path) -> Path:
    """The sidecar shipped beside a model's weights: ``model.directions.json``."""
    return weights.with_name(weights.stem + SUFFIX)


def user_file(model_id: str) -> Path:
    """The user's sidecar for ``model_id``, in the user's data folder (``userdirs.data_dir``)."""
    return data_dir() / "directions" / f"{model_id}.json"


def read(path: Path, model_id: str, dim: int) -> Directions:
    """The directions in sidecar ``path`` for model ``model_id`` with ``dim`` dimensions;
    DirectionsFileError (one line) for a file that is unreadable, damaged or of another model."""
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise DirectionsFileError(f"directions {path}: cannot read it: {e.strerror or e}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DirectionsFileError(f"directions {path}: not valid JSON ({e})") from None
    if not isinstance(d, dict) or d.get("format") != FORMAT:
        raise DirectionsFileError(f"directions {path}: not a latentsketch directions file")
    if d.get("version") != VERSION:
        raise DirectionsFileError(f"directions {path}: version {d.get('version')!r} is not "
                                  f"supported (this program reads version {VERSION})")
    if d.get("model_id") != model_id:
        owner = bundled_name_of(str(d.get("model_id")))
        use = f"pass --model {owner} to use them, or " if owner else ""
        raise DirectionsFileError(
            f"directions {path} belong to model {d.get('model_id')}, not to {model_id}; "
            f"refused ({use}'latentsketch directions MODEL' computes them for this one)")
    try:
        return Directions.from_json(d.get("directions"), dim)
    except DirectionError as e:
        raise DirectionsFileError(f"directions {path}: {e}") from None


def dumps(model_id: str, directions: Directions) -> str:
    """The text of a directions file (JSON, ending in a newline) of model ``model_id``."""
    doc: dict[str, Any] = {"format": FORMAT, "version": VERSION, "model_id": model_id,
                           "directions": directions.to_json()}
    return json.dumps(doc, indent=1) + "\n"


def write(path: Path, model_id: str, directions: Directions) -> Path:
    """Write ``directions`` of model ``model_id`` to ``path`` atomically (a temporary file
    renamed: a failed write leaves the previous file and no temporary one). Raises
    DirectionsFileError naming the file."""
    tmp: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = temp_beside(path)
        tmp.write_text(dumps(model_id, directions), encoding="utf-8")
        os.replace(tmp, path)
    except OSError as e:
        raise DirectionsFileError(os_error_line(e, path, "write directions")) from None
    finally:
        if tmp is not None:
            try:
                tmp.unlink(missing_ok=True)
            except OSError:
                pass
    return path


def gather(config: Directions, weights: Path, model_id: str, dim: int,
           warn: Callable[[str], None] = log.warning) -> Directions:
    """The model's directions: ``config``'s, updated by the sidecar beside ``weights`` and then
    by the user's sidecar for ``model_id``. A sidecar that is refused is one ``warn`` line."""
    out = config
    for path in (beside(weights), user_file(model_id)):
        if not path.is_file():
            continue
        try:
            out = out.merged(read(path, model_id, dim))
        except (DirectionsFileError, DirectionError) as e:
            warn(f"{e}" if isinstance(e, DirectionsFileError) else f"directions {path}: {e}")
    return out
