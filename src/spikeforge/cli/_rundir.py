"""Run folders that never lose anything.

A run writes into ``OUT/../.NAME.partial`` (hidden, beside ``OUT``) and moves it onto ``OUT`` only when complete.
Every folder spikeforge writes carries a marker file, ``.spikeforge-run`` (JSON: the command, its status and the
process), so that:

- ``--overwrite`` replaces only a folder spikeforge wrote (the marker, or for runs written before the marker existed,
  only files spikeforge writes and a ``config.json`` with a ``model_config``); anything else is refused and nothing
  is deleted;
- two runs to one ``OUT`` cannot replace each other: the partial folder is created by an atomic rename that fails if
  it exists, and a run holds an exclusive lock (``fcntl.flock`` on ``.NAME.partial/.lock``) until it has moved its
  folder into place; a second run is refused while the lock is held;
- the partial folder of a killed run (lock released by the kernel) is recognised as such: ``--resume OUT`` continues
  it from its last checkpoint, ``--overwrite`` starts over, and a plain run is refused with both choices named.
  Empty ``.NAME.XXXX.partial`` folders left by killed runs of older versions are removed.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["MARKER", "check_out_dir", "partial_dir", "run_dir", "update_marker", "write_json"]

MARKER = ".spikeforge-run"
_LOCK = ".lock"
#: what a run folder of a version before the marker could hold
_LEGACY_FILES = {
    "model.safetensors",
    "config.json",
    "metrics.json",
    "raster.png",
    "curves.png",
    "model.nir",
    "report.html",
}


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")


def partial_dir(out: Path) -> Path:
    """Where the run for ``out`` is written until it is complete."""
    return out.parent / f".{out.name}.partial"


def _read_marker(folder: Path) -> dict | None:
    try:
        data = json.loads((folder / MARKER).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and "command" in data else None


def _is_legacy_run(folder: Path) -> bool:
    names = {p.name for p in folder.iterdir()}
    if "config.json" not in names or not names <= _LEGACY_FILES:
        return False
    try:
        return "model_config" in json.loads((folder / "config.json").read_text())
    except (OSError, ValueError):
        return False


def _written_by_spikeforge(folder: Path) -> bool:
    return folder.is_dir() and (_read_marker(folder) is not None or _is_legacy_run(folder))


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[bool]:
    """Try the run lock of ``folder`` without waiting; yields whether this process holds it."""
    fd = os.open(folder / _LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            if err.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
            yield False
            return
        yield True
    finally:
        os.close(fd)


def _partial_state(partial: Path) -> str:
    """``"none"``, ``"busy"`` (a live run holds it), ``"stale"`` (a killed run's) or ``"foreign"`` (not ours)."""
    if not partial.exists():
        return "none"
    if not partial.is_dir() or _read_marker(partial) is None:
        return "foreign"
    try:
        with _locked(partial) as held:
            return "stale" if held else "busy"
    except FileNotFoundError:  # moved into place between the two looks
        return "none"


def _describe_stale(partial: Path) -> str:
    marker = _read_marker(partial) or {}
    done = marker.get("progress")
    return f" (last checkpoint: {done})" if done else " (no checkpoint yet)"


def _clean_legacy_partials(out: Path) -> None:
    """Remove the empty ``.NAME.XXXX.partial`` folders that killed runs of older versions left behind."""
    if not out.parent.is_dir():
        return
    for folder in out.parent.glob(f".{out.name}.*.partial"):
        with contextlib.suppress(OSError):
            folder.rmdir()  # only if empty: never a file that might be someone's


def check_out_dir(out: Path, overwrite: bool, *, resume: bool = False) -> None:
    """Refuse, before any work, a run that would lose or mix up something; see the module docstring."""
    out = Path(out)
    partial = partial_dir(out)
    state = _partial_state(partial)
    if state == "busy":
        raise FileExistsError(
            f"--out: another spikeforge run is writing to {out} right now ({partial} is locked); wait for it or "
            "choose another folder"
        )
    if state == "foreign":
        raise FileExistsError(f"--out: {partial} exists and was not written by spikeforge; move it away first")
    if resume:
        if state == "stale":
            return
        if out.exists():
            raise FileExistsError(f"--resume: {out} is a complete run; there is nothing to resume")
        raise FileNotFoundError(f"--resume: no unfinished run for {out} (looked for {partial})")
    if out.exists():
        if not out.is_dir():
            raise FileExistsError(f"--out: {out} exists and is not a folder")
        if not overwrite:
            raise FileExistsError(f"--out: {out} already exists; choose another folder or pass --overwrite")
        if not _written_by_spikeforge(out):
            raise FileExistsError(
                f"--out: {out} was not written by spikeforge (it has no {MARKER} marker), so --overwrite will not "
                "replace it; nothing was deleted. Choose another folder"
            )
    if state == "stale" and not overwrite:
        raise FileExistsError(
            f"--out: {partial} holds the unfinished run of a killed process{_describe_stale(partial)}; continue it "
            f"with --resume {out}, or start over with --overwrite"
        )


def update_marker(folder: Path, **fields: Any) -> None:
    """Merge ``fields`` into the marker of ``folder`` (written atomically)."""
    marker = (_read_marker(folder) or {}) | fields
    tmp = folder / f"{MARKER}.tmp"
    tmp.write_text(json.dumps(marker, sort_keys=True) + "\n")
    os.replace(tmp, folder / MARKER)


def _create_partial(out: Path, command: str) -> Path:
    """A new partial folder with its marker, created under a unique name and renamed into place: the rename fails
    if another run created one meanwhile."""
    partial = partial_dir(out)
    staging = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".new"))
    try:
        update_marker(staging, command=command, status="running", pid=os.getpid())
        try:
            os.rename(staging, partial)  # a non-empty existing target (another run's) makes this fail
        except OSError as err:
            raise FileExistsError(f"--out: another spikeforge run started writing to {out} just now") from err
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return partial


def _publish(partial: Path, out: Path, overwrite: bool) -> None:
    """Move the complete run onto ``out``; an existing ``out`` is replaced only when allowed and spikeforge's."""
    for path in [partial, *partial.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    if out.exists():
        if not (overwrite and _written_by_spikeforge(out)):
            raise FileExistsError(f"--out: {out} appeared while the run was going; the run is kept in {partial}")
        old = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".old"))
        os.rename(out, old / "run")
        os.rename(partial, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        try:
            os.rename(partial, out)  # fails if a non-empty folder appeared at out meanwhile
        except OSError as err:
            raise FileExistsError(
                f"--out: {out} appeared while the run was going; the run is kept in {partial}"
            ) from err


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is so that the run folder is left resumable (as for Ctrl-C)."""


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    def handler(signum, frame):
        raise _Terminated()

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def run_dir(out: Path, overwrite: bool, *, resume: bool = False, command: str = "train") -> Iterator[Path]:
    """Yield the partial folder of the run for ``out``, locked for this process; move it onto ``out`` when the block
    succeeds. If the block is interrupted (Ctrl-C, SIGTERM) or fails after a checkpoint was written, the folder is
    kept for ``--resume``; otherwise it is removed. See the module docstring for what is refused."""
    out = Path(out)
    check_out_dir(out, overwrite, resume=resume)
    out.parent.mkdir(parents=True, exist_ok=True)
    _clean_legacy_partials(out)
    partial = partial_dir(out)
    if not resume and _partial_state(partial) == "stale":  # --overwrite: start the killed run over
        shutil.rmtree(partial)
    if not resume:
        partial = _create_partial(out, command)
    fd = os.open(partial / _LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise FileExistsError(f"--out: another spikeforge run is writing to {out} right now") from None
        update_marker(partial, status="running", pid=os.getpid())
        try:
            with _sigterm_as_interrupt():
                yield partial
            shutil.rmtree(partial / "checkpoints", ignore_errors=True)  # the run is complete: model.safetensors
            update_marker(partial, status="complete", pid=None)
            _publish(partial, out, overwrite)
            (out / _LOCK).unlink(missing_ok=True)  # after the move: the lock was held until the run was in place
        except BaseException:
            if (partial / "checkpoints").is_dir() and any((partial / "checkpoints").iterdir()):
                update_marker(partial, status="interrupted", pid=None)
            else:
                shutil.rmtree(partial, ignore_errors=True)
            raise
    finally:
        os.close(fd)
