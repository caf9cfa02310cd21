"""Small file helpers shared by the CLI and the library (private)."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
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


@contextlib.contextmanager
def atomic_path(path: str | Path, *, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; when the block succeeds it is renamed onto ``path`` (atomically,
    with an ordinary file's permissions), when it fails it is removed: no half-written file is ever left at
    ``path``. ``suffix`` lets writers that pick a format from the name (matplotlib) see the right one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
