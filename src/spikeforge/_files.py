"""Small file helpers shared by the CLI and the library (private)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def read_json_or_yaml(path: str | Path, *, what: str) -> Any:
    """Parse ``path`` as YAML when it ends in ``.yaml``/``.yml``, as JSON otherwise (PyYAML imported only then).

    ``what`` names the argument in the error raised when the file does not exist (e.g. ``"--config"``).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what}: {path} not found")
    text = path.read_text()
    if path.suffix in (".yaml", ".yml"):
        import yaml

        return yaml.safe_load(text)
    return json.loads(text)
