"""Event streams in tonic's layouts (built here as numpy structured arrays, tonic is not needed) -> spike tensors."""

import math
from fractions import Fraction

import numpy as np
import pytest
import torch

from spikeforge.data import (
    AUDIO_EVENT_DTYPE,
    DVS_EVENT_DTYPE,
    EventDataset,
    bin_spikes,
    collate_spikes,
    events_to_tensor,
)

SENSOR = (34, 34, 2)  # tonic's (W, H, P) for N-MNIST


def dvs_events(n=3000, *, seed=0, t_max=300_000, sensor=SENSOR):
    """Random vision events with tonic's dtype (x, y, t, p), t in integer microseconds, sorted by time."""
    rng = np.random.default_rng(seed)
    ev = np.zeros(n, dtype=DVS_EVENT_DTYPE)
    ev["x"] = rng.integers(0, sensor[0], n)
    ev["y"] = rng.integers(0, sensor[1], n)
    ev["t"] = np.sort(rng.integers(0, t_max, n))
    ev["p"] = rng.integers(0, sensor[2], n)
    ev["t"][:20] = np.arange(20) * 1000  # some events exactly on millisecond edges
    return ev


def loop_frames(ev, *, tick, n_steps, sensor=SENSOR, t0=0):
    """Explicit per-event loop in integer microseconds: frame[t // tick, p, y, x] += 1."""
    w, h, p = sensor
    out = np.zeros((n_steps, p, h, w))
    for e in ev:
        k = (int(e["t"]) - t0) // tick
        if k < n_steps:
            out[k, int(e["p"]), int(e["y"]), int(e["x"])] += 1
    return out


@pytest.mark.parametrize(("dt", "tick"), [(1e-3, 1000), (5e-3, 5000), (0.0333, 33300)])
def test_dvs_events_bin_like_an_explicit_loop(dt, tick):
    ev = dvs_events(seed=tick)
    frames = events_to_tensor(ev, dt=dt, sensor_size=SENSOR, duration=0.25)
    n_steps = math.ceil(0.25 / dt - 1e-9)
    assert frames.shape == (n_steps, 2, 34, 34) and frames.dtype == torch.float32
    np.testing.assert_array_equal(frames.numpy(), loop_frames(ev, tick=tick, n_steps=n_steps))


def test_plain_arrays_with_a_layout_equal_the_structured_array():
    ev = dvs_events(seed=1)
    ref = events_to_tensor(ev, dt=2e-3, sensor_size=SENSOR)
    for layout in ("xytp", "txyp", "ptyx"):
        plain = np.stack([ev[f] for f in layout], axis=1)
        assert torch.equal(events_to_tensor(plain, dt=2e-3, sensor_size=SENSOR, layout=layout), ref)
    as_tensor = torch.from_numpy(np.stack([ev[f] for f in "txyp"], axis=1))
    assert torch.equal(events_to_tensor(as_tensor, dt=2e-3, sensor_size=SENSOR, layout="txyp"), ref)
    assert ref.shape[0] == int(ev["t"].max()) // 2000 + 1  # no window: T ends at the last event


def test_audio_events_from_a_tonic_shd_sample_match_the_hdf5_binning():
    # tonic's SHD: (t, x, p) with t = float16 seconds * 1e6 cast to integer microseconds, x the channel, p = 1
    rng = np.random.default_rng(5)
    times = np.sort(rng.uniform(0, 1.0, 500)).astype(np.float16)
    units = rng.integers(0, 700, 500)
    ev = np.zeros(500, dtype=AUDIO_EVENT_DTYPE)
    ev["t"], ev["x"], ev["p"] = (times.astype(np.float64) * 1e6).astype(np.int64), units, 1
    x = events_to_tensor(ev, dt=4e-3, sensor_size=(700, 1, 1), n_steps=250)
    assert x.shape == (250, 700)
    ref = np.zeros((250, 700))
    for t, u in zip(times, units):  # exact rational floor(t / 4 ms)
        ref[math.floor(Fraction(float(t)) / Fraction("0.004")), u] += 1
    np.testing.assert_array_equal(x.numpy(), ref)
    torch.testing.assert_close(x, bin_spikes(times, units, dt=4e-3, n_channels=700, n_steps=250), rtol=0, atol=0)
    plain = np.stack([ev["t"], ev["x"]], axis=1)  # (t, channel) pairs
    assert torch.equal(events_to_tensor(plain, dt=4e-3, sensor_size=700, layout="tx", n_steps=250), x)


def test_time_unit_and_float_timestamps():
    rng = np.random.default_rng(2)
    t_us = rng.uniform(0, 50_000, 400)  # float microseconds
    ch = rng.integers(0, 8, 400)
    ev = np.zeros(400, dtype=[("t", "<f8"), ("x", "<i8")])
    ev["t"], ev["x"] = t_us, ch
    x = events_to_tensor(ev, dt=1e-3, sensor_size=8, n_steps=50)
    ref = np.zeros((50, 8))
    for t, c in zip(t_us, ch):
        ref[math.floor(Fraction(float(t)) / 1000), c] += 1
    np.testing.assert_array_equal(x.numpy(), ref)
    ev_ms = ev.copy()
    ev_ms["t"] = np.arange(400) * 0.125  # milliseconds, exact binary fractions
    y = events_to_tensor(ev_ms, dt=1e-3, sensor_size=8, time_unit=1e-3)
    assert y.shape == (50, 8) and bool((y.sum(1) == 8).all())  # 8 events of 0.125 ms per 1 ms step


def test_t_start_first_shifts_the_origin_like_tonic_toframe():
    ev = dvs_events(seed=3)
    ev["t"] += 123_456
    frames = events_to_tensor(ev, dt=1e-3, sensor_size=SENSOR, t_start="first", n_steps=40)
    np.testing.assert_array_equal(frames.numpy(), loop_frames(ev, tick=1000, n_steps=40, t0=int(ev["t"].min())))
    shifted = events_to_tensor(ev, dt=1e-3, sensor_size=SENSOR, t_start=0.123456, n_steps=40)
    assert torch.equal(shifted, frames)
    with pytest.raises(ValueError, match=r"field 't' expected finite times not before t_start=0.2"):
        events_to_tensor(ev, dt=1e-3, sensor_size=SENSOR, t_start=0.2)


def test_polarities_and_binary():
    ev = np.zeros(4, dtype=DVS_EVENT_DTYPE)
    ev["x"], ev["y"], ev["t"], ev["p"] = [1, 1, 1, 2], [0, 0, 0, 1], [0, 10, 20, 30], [-1, -1, 1, 1]
    signed = events_to_tensor(ev, dt=1e-3, sensor_size=(3, 2, 2))
    assert signed[0, 0, 0, 1] == 2 and signed[0, 1, 0, 1] == 1 and signed[0, 1, 1, 2] == 1 and signed.sum() == 4
    merged = events_to_tensor(ev, dt=1e-3, sensor_size=(3, 2, 1))
    assert merged.shape == (1, 1, 2, 3) and merged[0, 0, 0, 1] == 3
    assert events_to_tensor(ev, dt=1e-3, sensor_size=(3, 2, 1), binary=True)[0, 0, 0, 1] == 1


def test_out_of_range_events_raise_naming_field_and_event_or_are_dropped():
    ev = dvs_events(n=200, seed=4)
    bad = ev.copy()
    bad["x"][17] = 34
    with pytest.raises(ValueError, match=r"field 'x' expected \[0, 34\), got 34 at event 17"):
        events_to_tensor(bad, dt=1e-3, sensor_size=SENSOR)
    bad["y"][5], bad["t"][9] = -1, -3
    with pytest.raises(ValueError, match=r"field 't' expected finite times .* got -3 at event 9"):
        events_to_tensor(bad, dt=1e-3, sensor_size=SENSOR)
    keep = np.ones(200, bool)
    keep[[5, 9, 17]] = False
    dropped = events_to_tensor(bad, dt=1e-3, sensor_size=SENSOR, on_invalid="drop", n_steps=300)
    assert torch.equal(dropped, events_to_tensor(ev[keep], dt=1e-3, sensor_size=SENSOR, n_steps=300))
    assert dropped.sum() == 197


def test_layout_and_sensor_errors_say_what_is_expected():
    plain = np.zeros((5, 4), dtype=np.int64)
    with pytest.raises(ValueError, match="layout: a plain array needs layout="):
        events_to_tensor(plain, dt=1e-3, sensor_size=SENSOR)
    with pytest.raises(ValueError, match="layout: expected distinct letters from 'xytp'"):
        events_to_tensor(plain, dt=1e-3, sensor_size=SENSOR, layout="xxtp")
    with pytest.raises(ValueError, match=r"events: expected an \[N, 3\] array for layout 'txp'"):
        events_to_tensor(plain, dt=1e-3, sensor_size=700, layout="txp")
    with pytest.raises(ValueError, match=r"sensor_size: expected \(W, H, P\)"):
        events_to_tensor(plain, dt=1e-3, sensor_size=700, layout="xytp")
    with pytest.raises(ValueError, match=r"sensor_size: expected C or \(C, 1, P\)"):
        events_to_tensor(plain[:, :2], dt=1e-3, sensor_size=(34, 34, 2), layout="tx")
    with pytest.raises(ValueError, match="expected a 1-D structured array with fields"):
        events_to_tensor(np.zeros(3, dtype=[("a", int)]), dt=1e-3, sensor_size=3)


def test_event_dataset_wraps_any_sequence_of_pairs_for_time_first_batches():
    pairs = [(dvs_events(n=100 + 10 * i, seed=i, t_max=40_000 + 5000 * i), np.int64(i % 3)) for i in range(5)]
    ds = EventDataset(pairs, dt=1e-3, sensor_size=SENSOR)
    assert len(ds) == 5
    x, y = ds[2]
    assert y == 2 and isinstance(y, int)
    np.testing.assert_array_equal(x.numpy(), loop_frames(pairs[2][0], tick=1000, n_steps=x.shape[0]))
    loader = torch.utils.data.DataLoader(ds, batch_size=5, collate_fn=collate_spikes)
    batch = next(iter(loader))
    assert batch.x.shape == (int(batch.lengths.max()), 5, 2, 34, 34) and batch.y.tolist() == [0, 1, 2, 0, 1]
    assert batch.lengths.tolist() == [int(p[0]["t"].max()) // 1000 + 1 for p in pairs]
    named = EventDataset([(pairs[0][0], "seven")], dt=1e-3, sensor_size=SENSOR, target_transform={"seven": 7}.get)
    assert named[0][1] == 7
    with pytest.raises(TypeError, match="label 'seven' is not an integer class; pass target_transform="):
        EventDataset([(pairs[0][0], "seven")], dt=1e-3, sensor_size=SENSOR)[0]
    with pytest.raises(TypeError, match=r"unknown argument\(s\) \['dtt'\]"):
        EventDataset(pairs, dt=1e-3, dtt=1, sensor_size=SENSOR)
