r"""Choose between competing implementations by timing them here, once per shape, and remember the answer.

Which of two equivalent paths is faster (event-driven against dense synapses) depends on the machine, the thread
count, the layer's shape and the input's density: a crossover measured elsewhere can be wrong here (on a 2-core
Xeon the event path was 1.08-1.47x *slower* than the dense one where an EPYC had shown it 0.64x). So
:class:`PathChooser` runs every candidate ``reps`` times, round-robin (interleaved, so that both see the same load),
takes each one's fastest time :math:`t_c = \min_r t_{c,r}` and picks

.. math:: c^* = \operatorname{argmin}_c t_c \quad\text{but the first (default) candidate unless}\quad
          t_{c^*} < (1 - \text{margin})\, t_{\text{default}},

so a path that is not clearly faster on this machine is never taken. The answer is cached per key (shape, density
bucket, dtype, threads, torch version) in memory and, when a cache file is set, in a small JSON file written
atomically (a killed run leaves the old file or the new one, never half of one). Decisions are never timed twice in
one process.

The cache file is off by default; ``SPIKEFORGE_PATH_CACHE=1`` keeps it in
``${XDG_CACHE_HOME:-~/.cache}/spikeforge/paths.json``, any other non-empty value (not ``0``/``off``) is the file's
path.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from ._files import atomic_path

__all__ = ["CHOOSER", "PathChooser", "cache_file", "choose", "density_bucket", "machine", "wall_time"]

#: environment variable that turns the cache file on (``1``) or names it (a path)
ENV = "SPIKEFORGE_PATH_CACHE"


def cache_file() -> Path | None:
    """The cache file :envvar:`SPIKEFORGE_PATH_CACHE` asks for, or None (memory only)."""
    value = os.environ.get(ENV, "").strip()
    if value.lower() in ("", "0", "off", "false", "no"):
        return None
    if value.lower() in ("1", "on", "true", "yes"):
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        return Path(base) / "spikeforge" / "paths.json"
    return Path(value).expanduser()


def wall_time(fn: Callable[[], Any]) -> float:
    """Seconds one call of ``fn`` takes (``time.perf_counter``)."""
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def density_bucket(density: float) -> int:
    """Octave of a density (fraction of nonzero inputs) for cache keys: 0 for an empty input, then
    :math:`\\lceil \\log_2(1000\\,d) \\rceil` clipped at 1, so (0, 0.2 %] -> 1, (0.2, 0.4 %] -> 2, ... (3.2, 6.4 %] -> 6.

    >>> [density_bucket(d) for d in (0.0, 0.001, 0.05, 0.1)]
    [0, 1, 6, 7]
    """
    if not 0.0 <= density <= 1.0 or math.isnan(density):
        raise ValueError(f"density: expected a fraction in [0, 1], got {density!r}")
    if density == 0.0:
        return 0
    return max(1, math.ceil(math.log2(density * 1000.0)))


class PathChooser:
    """Times competing callables once per key and returns the name of the fastest (see module doc).

    Args:
        file: JSON cache file (read once, rewritten atomically after each new decision) or None (memory only).
        measure: ``measure(fn) -> seconds`` for one call (default :func:`wall_time`; tests pass a fake).
        reps: timed rounds per candidate, after one untimed warm-up round.
        margin: how much faster (relative) a non-default candidate must be to be chosen. 10 % by default: a
            layer timed alone gains more than the whole training step does (on a 2-core Xeon the event path timed
            21 % faster alone left the W1 training step 0-5 % faster).
    """

    def __init__(
        self,
        *,
        file: str | Path | None = None,
        measure: Callable[[Callable[[], Any]], float] = wall_time,
        reps: int = 3,
        margin: float = 0.1,
    ) -> None:
        if not isinstance(reps, int) or reps < 1:
            raise ValueError(f"reps: expected a positive number of rounds, got {reps!r}")
        if not 0.0 <= margin < 1.0:
            raise ValueError(f"margin: expected a fraction in [0, 1), got {margin!r}")
        self.file = None if file is None else Path(file)
        self.measure = measure
        self.reps = reps
        self.margin = float(margin)
        self.decisions: dict[str, dict[str, Any]] = {}
        self._loaded = False

    def _load(self) -> None:
        self._loaded = True
        if self.file is None or not self.file.exists():
            return
        try:
            stored = json.loads(self.file.read_text())
        except (OSError, ValueError):
            return  # an unreadable cache is only a cache: measure again and rewrite it
        if isinstance(stored, dict):
            for key, entry in stored.items():
                if isinstance(entry, dict) and isinstance(entry.get("path"), str):
                    self.decisions.setdefault(key, entry)

    def _save(self) -> None:
        if self.file is None:
            return
        try:
            with atomic_path(self.file) as tmp:
                tmp.write_text(json.dumps(self.decisions, indent=1, sort_keys=True))
        except OSError:
            pass  # a read-only cache dir costs a re-measurement next time, not the run

    def cached(self, key: str) -> str | None:
        """The path decided for ``key`` before (this process or the cache file), or None."""
        if not self._loaded:
            self._load()
        entry = self.decisions.get(key)
        return None if entry is None else entry["path"]

    def choose(self, key: str, candidates: dict[str, Callable[[], Any]], *, margin: float | None = None) -> str:
        """The name of the fastest of ``candidates`` for ``key`` (the first one is the default; see module doc).
        ``margin`` overrides the chooser's for this decision (0: the default unless another is faster at all).

        Only candidates whose name was decided are returned from the cache: a cached name that is not among
        ``candidates`` is measured again."""
        if margin is None:
            margin = self.margin
        elif not 0.0 <= margin < 1.0:
            raise ValueError(f"margin: expected a fraction in [0, 1), got {margin!r}")
        if not candidates:
            raise ValueError("candidates: expected at least one {name: callable}, got none")
        hit = self.cached(key)
        if hit in candidates:
            return hit
        names = list(candidates)
        times: dict[str, list[float]] = {n: [] for n in names}
        for r in range(self.reps + 1):  # round 0 warms up (allocator, kernel build, caches)
            for n in names:
                t = float(self.measure(candidates[n]))
                if r:
                    times[n].append(t)
        best = {n: min(v) for n, v in times.items()}
        default = names[0]
        fastest = min(names, key=lambda n: best[n])
        path = fastest if best[fastest] < (1.0 - margin) * best[default] else default
        self.decisions[key] = {"path": path, "seconds": best}
        self._save()
        return path


#: the process-wide chooser the event-driven synapses ask (its file from :func:`cache_file` at import)
CHOOSER = PathChooser(file=cache_file())


def machine() -> str:
    """The part of a decision's key that names this machine and run: torch's thread count, the CPU count, torch's
    version."""
    return f"threads={torch.get_num_threads()} cpus={os.cpu_count()} torch={torch.__version__}"


def choose(key: str, candidates: dict[str, Callable[[], Any]], *, margin: float | None = None) -> str:
    """:data:`CHOOSER`'s choice among ``candidates`` (:meth:`PathChooser.choose`), their timing runs kept out of any
    enclosing saved-tensor hooks (``checkpoint_time`` recomputes a chunk and expects the tensors it saved the first
    time, not the timing's)."""
    with torch.autograd.graph.saved_tensors_hooks(lambda t: t, lambda t: t):
        return CHOOSER.choose(key, candidates, margin=margin)
