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
    if path.is_dir():
        raise ValueError(f"{what}: {path} is a folder, not a JSON or YAML file")
    if not path.is_file():
        raise FileNotFoundError(f"{what}: {path} not found")
    try:
        text = path.read_text()
    except UnicodeDecodeError as err:
        raise ValueError(f"{what}: {path} is not a text file ({err.reason} at byte {err.start})") from None
    if not text.strip():
        raise ValueError(f"{what}: {path} is empty")
    if path.suffix in (".yaml", ".yml"):
        import yaml

        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
            problem = getattr(err, "problem", None) or str(err).splitlines()[0]
            raise ValueError(f"{what}: {path} is not valid YAML{where}: {problem}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(
            f"{what}: {path} is not valid JSON at line {err.lineno}, column {err.colno}: {err.msg}"
        ) from None


@contextlib.contextmanager
def atomic_path(path: str | Path, *, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; when the block succeeds it is renamed onto ``path`` (atomically,
    with an ordinary file's permissions), when it fails it is removed: no half-written file is ever left at
    ``path``. ``suffix`` lets writers that pick a format from the name (matplotlib) see the right one."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path} is a directory; give a file name to write to")
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
