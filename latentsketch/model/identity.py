"""Which model a file belongs to: model ids and the bundled models by name.

A model id is the first 12 hex digits of the sha256 of its weights file. Presets, snapshots,
palettes and control logs store the id of the model they were made with; when that is a
bundled model's, the line refusing them can say which name to pass. Torch-free, so the
control log and the other file readers can use it without loading a model.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from latentsketch import bundled

WEIGHTS = "model.safetensors"

# Models shipped inside the package, by name (``--model shapes``): their weights files under
# ``latentsketch.assets``. A new default gets a new name beside the old ones, because presets,
# snapshots and logs made with a model name its id and are refused with any other model.
BUNDLED: dict[str, str] = {"shapes": WEIGHTS, "emoji": "emoji.safetensors"}
DEFAULT = "emoji"


def bundled_path(name: str = DEFAULT) -> Path:
    """The weights of bundled model ``name``, found through the installed package (never the
    current folder). KeyError for an unknown name."""
    return Path(str(bundled.folder("latentsketch.assets", "assets"))) / BUNDLED[name]


def bundled_name_of(model_id: str) -> str | None:
    """The name of the bundled model whose weights have ``model_id``, else None.

    Hashes the bundled weights files (~11 MB, tens of ms): for error messages, never per frame.
    """
    for name in BUNDLED:
        p = bundled_path(name)
        if p.is_file() and model_id_of(p) == model_id:
            return name
    return None


def which_model(model_id: str) -> str:
    """What to pass for a file made with model ``model_id``: ``--model shapes`` when it is a
    bundled model's (the default changed from shapes to emoji, and files made before name
    shapes' id), else ``--model`` with the model it was made with."""
    name = bundled_name_of(model_id)
    return f"--model {name}" if name else "--model with the model it was made with"


def model_id_of(weights: Path) -> str:
    """The model id of a weights file: the first 12 hex digits of its sha256 (OSError if
    unreadable)."""
    h = hashlib.sha256()
    with open(weights, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:12]
