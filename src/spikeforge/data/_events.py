"""Event streams in the layouts of the tonic library, binned to time-first spike tensors.

tonic yields each sample as ``(events, target)`` where ``events`` is a numpy structured array: vision sensors use
the fields ``x, y, t, p`` (``sensor_size = (W, H, P)``), audio sets such as SHD/SSC use ``t, x, p`` with ``x`` the
channel (``sensor_size = (700, 1, 1)``); timestamps are integers in microseconds. The functions here read those
arrays (or plain ``[N, k]`` arrays with an explicit ``layout``) without tonic installed, and bin them like
:func:`spikeforge.data.bin_spikes`: an event at time ``t`` lands in step ``k`` with
``k * dt <= t - t_start < (k + 1) * dt``. Integer timestamps whose ``dt`` is a whole number of ticks are binned
by integer division, so no event moves across a bin edge through rounding.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np
import torch

from ..units import check_dt
from ._binning import OnInvalid, check_on_invalid, steps_for, time_bins

__all__ = ["AUDIO_EVENT_DTYPE", "DVS_EVENT_DTYPE", "EventDataset", "events_to_tensor"]

DVS_EVENT_DTYPE = np.dtype([("x", "<i8"), ("y", "<i8"), ("t", "<i8"), ("p", "<i8")])
AUDIO_EVENT_DTYPE = np.dtype([("t", "<i8"), ("x", "<i8"), ("p", "<i8")])
_FIELDS = set("xytp")


def _columns(events: Any, layout: str | None) -> dict[str, np.ndarray]:
    if isinstance(events, torch.Tensor):
        events = events.detach().cpu().numpy()
    events = np.asarray(events)
    names = events.dtype.names
    if names is not None:
        missing = {"t", "x"} - set(names)
        if missing or events.ndim != 1:
            raise ValueError(
                f"events: expected a 1-D structured array with fields (x, y, t, p) or (t, x, p), "
                f"got fields {names} and shape {events.shape}"
            )
        if layout is not None and set(layout) != set(names) & _FIELDS:
            raise ValueError(
                f"layout: {layout!r} does not match the structured array's fields {names}; "
                "leave layout=None for structured arrays"
            )
        return {f: np.asarray(events[f]) for f in names if f in _FIELDS}
    if layout is None:
        raise ValueError(
            "layout: a plain array needs layout= naming its columns in order, e.g. 'xytp', 'txp' or "
            f"'tx' (got an array of shape {events.shape} and layout=None)"
        )
    if (
        not isinstance(layout, str)
        or len(set(layout)) != len(layout)
        or not set(layout) <= _FIELDS
        or not {"t", "x"} <= set(layout)
    ):
        raise ValueError(
            f"layout: expected distinct letters from 'xytp' including 't' and 'x' (e.g. 'xytp', 'txp'), got {layout!r}"
        )
    if events.ndim != 2 or events.shape[1] != len(layout):
        raise ValueError(
            f"events: expected an [N, {len(layout)}] array for layout {layout!r}, got shape {events.shape}"
        )
    return {f: events[:, j] for j, f in enumerate(layout)}


def _sensor(sensor_size: Any, vision: bool) -> tuple[int, int, int]:
    size = (sensor_size,) if isinstance(sensor_size, int) else tuple(sensor_size)
    if vision:
        ok = len(size) == 3
    else:
        size = (*size, 1, 1) if len(size) == 1 else size
        ok = len(size) == 3 and size[1] == 1
    if not ok or not all(isinstance(s, int | np.integer) and s > 0 for s in size):
        want = "(W, H, P), e.g. (34, 34, 2)" if vision else "C or (C, 1, P), e.g. 700 or (700, 1, 1)"
        raise ValueError(f"sensor_size: expected {want} as tonic writes it, got {sensor_size!r}")
    return int(size[0]), int(size[1]), int(size[2])


def _steps(t: np.ndarray, *, dt: float, time_unit: float, t_start: float | Literal["first"]) -> np.ndarray:
    """Step index of each event (-1 for non-finite times; negative before ``t_start``)."""
    if t.dtype.kind not in "iuf":
        raise TypeError(f"events: field 't' expected integer or float timestamps, got dtype {t.dtype}")
    first = (t.min() if len(t) else 0) if t_start == "first" else None
    ticks = dt / time_unit
    t0 = float(first) if first is not None else t_start / time_unit
    if abs(ticks - round(ticks)) < 1e-9 * ticks and round(ticks) >= 1 and abs(t0 - round(t0)) < 1e-6:
        # dt and t_start are whole numbers of ticks: compare in ticks, exactly (k * ticks is an exact integer)
        if t.dtype.kind in "iu":
            return (t.astype(np.int64) - round(t0)) // round(ticks)
        sec, step = t.astype(np.float64) - round(t0), float(round(ticks))
    else:
        sec, step = t.astype(np.float64) * time_unit - t0 * time_unit, dt
    k = np.full(len(sec), -1, dtype=np.int64)
    finite = np.isfinite(sec)
    k[finite] = time_bins(sec[finite], step)
    return k


def events_to_tensor(
    events: Any,
    *,
    dt: float,
    sensor_size: int | Sequence[int],
    layout: str | None = None,
    time_unit: float = 1e-6,
    duration: float | None = None,
    n_steps: int | None = None,
    t_start: float | Literal["first"] = 0.0,
    binary: bool = False,
    on_invalid: OnInvalid = "raise",
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Bin one event stream to a time-first tensor: ``[T, P, H, W]`` for (x, y, t, p) events, ``[T, C]`` for
    channel events (t, x[, p]).

    Args:
        events: a numpy structured array with fields ``x, y, t, p`` (vision) or ``t, x[, p]`` (audio, ``x`` is
            the channel), as tonic yields them; or a plain ``[N, k]`` array (or tensor) with ``layout``.
        dt: step length in seconds.
        sensor_size: tonic's ``(W, H, P)`` for vision; ``C`` or ``(C, 1, P)`` for channels (polarity is summed).
        layout: column order of a plain array, e.g. ``"xytp"``, ``"txyp"``, ``"txp"``, ``"tx"``.
        time_unit: seconds per timestamp unit; tonic's microseconds (``1e-6``) by default, ``1.0`` for seconds.
        duration: window in seconds, or ``n_steps``; events after it are cropped. With neither, ``T`` ends at the
            last event.
        t_start: time (s) of the first step's start; ``"first"`` starts at the first event (as tonic's
            ``ToFrame`` does); default 0, the start of the recording.
        binary: clip counts to 1.
        on_invalid: ``"raise"`` on events outside the sensor, before ``t_start`` or with non-finite times
            (naming the field and event), or ``"drop"`` them. Polarities ``{-1, 1}`` with ``P = 2`` map to
            ``{0, 1}``; with ``P = 1`` all polarities share one map.
        dtype: floating dtype of the result.

    >>> import numpy as np
    >>> ev = np.array([(1000, 0, 1), (1999, 0, 1), (2000, 2, 1)], dtype=AUDIO_EVENT_DTYPE)  # t in us, channel x
    >>> events_to_tensor(ev, dt=1e-3, sensor_size=3).tolist()
    [[0.0, 0.0, 0.0], [2.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
    >>> dvs = np.zeros(2, dtype=DVS_EVENT_DTYPE)
    >>> dvs["x"], dvs["y"], dvs["t"], dvs["p"] = [3, 0], [1, 0], [0, 5000], [1, 0]
    >>> tuple(events_to_tensor(dvs, dt=1e-3, sensor_size=(4, 2, 2)).shape)
    (6, 2, 2, 4)
    """
    dt = check_dt(dt)
    check_on_invalid(on_invalid)
    if not isinstance(time_unit, int | float) or not math.isfinite(time_unit) or time_unit <= 0:
        raise ValueError(f"time_unit: expected seconds per timestamp unit (1e-6 for microseconds), got {time_unit!r}")
    if t_start != "first" and (not isinstance(t_start, int | float) or not math.isfinite(t_start)):
        raise ValueError(f"t_start: expected a time in seconds or 'first', got {t_start!r}")
    window = steps_for(dt, duration, n_steps)
    cols = _columns(events, layout)
    vision = "y" in cols
    width, height, n_pol = _sensor(sensor_size, vision)
    k = _steps(cols["t"], dt=dt, time_unit=time_unit, t_start=t_start)
    checks = {"t": k < 0}
    x = _ints("x", cols["x"])
    checks["x"] = (x < 0) | (x >= width)
    if vision:
        y = _ints("y", cols["y"])
        checks["y"] = (y < 0) | (y >= height)
        p = _ints("p", cols["p"]) if "p" in cols else np.zeros_like(x)
        if n_pol == 1:
            p = np.zeros_like(p)
        elif n_pol == 2 and len(p) and p.min() == -1:
            p = (p > 0).astype(np.int64)
        checks["p"] = (p < 0) | (p >= n_pol)
    bad = np.zeros(len(k), dtype=bool)
    for field, mask in checks.items():
        if mask.any() and on_invalid == "raise":
            i = int(np.flatnonzero(mask)[0])
            limit = {"x": width, "y": height, "p": n_pol}.get(field)
            want = f"[0, {limit})" if limit else f"finite times not before t_start={t_start!r}"
            raise ValueError(
                f"events: field {field!r} expected {want}, got {cols[field][i].item()!r} at event {i} "
                f"({int(mask.sum())} bad); pass on_invalid='drop' to skip such events"
            )
        bad |= mask
    keep = ~bad
    k = k[keep]
    n_t = window if window is not None else max(1, int(k.max()) + 1 if len(k) else 1)
    inside = k < n_t
    if vision:
        shape = (n_t, n_pol, height, width)
        flat = ((k * n_pol + p[keep]) * height + y[keep]) * width + x[keep]
    else:
        shape = (n_t, width)
        flat = k * width + x[keep]
    counts = np.bincount(flat[inside], minlength=math.prod(shape)).reshape(shape)
    if binary:
        counts = np.minimum(counts, 1)
    return torch.from_numpy(counts).to(dtype)


def _ints(name: str, values: np.ndarray) -> np.ndarray:
    if values.dtype.kind == "b":
        return values.astype(np.int64)
    if values.dtype.kind == "f":
        if not np.all(np.isfinite(values)) or np.any(values != np.round(values)):
            raise ValueError(
                f"events: field {name!r} expected whole numbers, got non-integer values "
                f"(e.g. {values[np.flatnonzero(values != np.round(values))[:1]]})"
            )
    elif values.dtype.kind not in "iu":
        raise TypeError(f"events: field {name!r} expected integers, got dtype {values.dtype}")
    return values.astype(np.int64)


class EventDataset(torch.utils.data.Dataset):
    """Bins any sequence of ``(events, label)`` pairs (a tonic data set, a list) to ``(x, label)`` on access.

    ``x`` is ``[T, P, H, W]`` or ``[T, C]`` as in :func:`events_to_tensor`, whose keyword arguments this takes;
    batch it with ``DataLoader(ds, collate_fn=collate_spikes)`` into ``[T, B, ...]``. ``label`` becomes an
    ``int`` (after ``target_transform``, if given).

    Example (tonic installed, its data downloaded)::

        shd = tonic.datasets.SHD("data", train=True)  # events (t, x, p) in us
        train = EventDataset(shd, dt=10 * ms, sensor_size=700, duration=1.0)
    """

    def __init__(
        self, source: Sequence[tuple[Any, Any]], *, target_transform: Callable[[Any], Any] | None = None, **binning: Any
    ) -> None:
        if not hasattr(source, "__getitem__") or not hasattr(source, "__len__"):
            raise TypeError(
                f"source: expected an indexable sequence of (events, label) pairs, got {type(source).__name__}"
            )
        if "dt" not in binning or "sensor_size" not in binning:
            raise TypeError("EventDataset: dt= and sensor_size= are required (as for events_to_tensor)")
        allowed = {
            "dt",
            "sensor_size",
            "layout",
            "time_unit",
            "duration",
            "n_steps",
            "t_start",
            "binary",
            "on_invalid",
            "dtype",
        }
        unknown = set(binning) - allowed
        if unknown:
            raise TypeError(f"EventDataset: unknown argument(s) {sorted(unknown)}; expected some of {sorted(allowed)}")
        check_dt(binning["dt"])
        steps_for(binning["dt"], binning.get("duration"), binning.get("n_steps"))
        self.source, self.binning, self.target_transform = source, binning, target_transform

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        events, label = self.source[i]
        if self.target_transform is not None:
            label = self.target_transform(label)
        try:
            label = int(label)
        except (TypeError, ValueError):
            raise TypeError(
                f"sample {i}: label {label!r} is not an integer class; pass target_transform= to map it"
            ) from None
        return events_to_tensor(events, **self.binning), label
