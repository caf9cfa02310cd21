"""The fused Izhikevich kernel: its forward is the torch reference's arithmetic (bit for bit), its backward the
reference's gradients (autograd through the per-step update), with a built-in and a user-defined surrogate, the
detached reset and per-neuron parameters; without spikes the state's gradients equal finite differences
(``torch.autograd.gradcheck``); a constant input read through a stride-0 view equals the materialised one; the
thread-count probe stays within the requested threads and is cached."""

from __future__ import annotations

import os
import time

import pytest
import torch

from spikeforge import kernels, surrogate
from spikeforge.kernels.cpu import _common
from spikeforge.neurons import IzhikevichParams, IzhikevichState, izhikevich_seq
from spikeforge.units import ms

pytestmark = pytest.mark.skipif(not kernels.cpu.available(), reason="no C compiler: compiled CPU kernels unavailable")

DT = 0.5 * ms


class Gaussian(surrogate.Surrogate):
    """A user-defined surrogate as the README writes one: no kernel id, so the kernel reads its derivative array."""

    def primitive(self, x):
        return 0.5 * (1 + torch.erf(x / (0.3 * 2**0.5)))

    def derivative(self, x):
        return torch.exp(-0.5 * (x / 0.3) ** 2) / (0.3 * (2 * torch.pi) ** 0.5)


def _inputs(dtype, steps=120, batch=2, n=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = (4 + 16 * torch.rand(steps, batch, n, generator=g, dtype=torch.float64)).to(dtype)
    params = IzhikevichParams(
        a=(0.02 + 0.08 * torch.rand(n, generator=g, dtype=torch.float64)).to(dtype),
        b=(0.2 + 0.05 * torch.rand(n, generator=g, dtype=torch.float64)).to(dtype),
        c=(-65 + 15 * torch.rand(n, generator=g, dtype=torch.float64)).to(dtype),
        d=(2 + 6 * torch.rand(n, generator=g, dtype=torch.float64)).to(dtype),
    )
    v0 = torch.full((batch, n), -65.0, dtype=dtype)
    return x, params, IzhikevichState(v0, v0 * params.b)


def _run(backend, x, params, state, surr, detach=False):
    leaves = [t.detach().clone().requires_grad_() for t in (x, state.v, state.u, *params[:4])]
    x_, v0, u0, a, b, c, d = leaves
    p = IzhikevichParams(a, b, c, d, params.v_peak, detach)
    with kernels.trace() as ran:
        z, s = izhikevich_seq(x_, IzhikevichState(v0, u0), p, dt=DT, surrogate=surr, backend=backend)
    w = torch.linspace(-1, 1, z.shape[-1], dtype=z.dtype)
    ((z * w).sum() + 1e-2 * (s.v * w).sum() + 1e-2 * s.u.sum()).backward()
    return z, s, [t.grad for t in leaves], ran


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("surr", ["fast_sigmoid", "custom", "detach"])
def test_forward_is_the_reference_and_gradients_match(dtype, surr):
    x, params, state = _inputs(dtype)
    chosen = Gaussian() if surr == "custom" else surrogate.get(None)
    ref = _run("torch", x, params, state, chosen, detach=surr == "detach")
    fused = _run("auto", x, params, state, chosen, detach=surr == "detach")
    assert ref[3] == [("izhikevich", "torch")] and fused[3] == [("izhikevich", "cpu")]
    assert ref[0].sum() > 10  # the neurons fire: the reset and the surrogate are exercised
    assert torch.equal(fused[0], ref[0]) and torch.equal(fused[1].v, ref[1].v) and torch.equal(fused[1].u, ref[1].u)
    tol = 2e-5 if dtype == torch.float32 else 1e-10
    for name, gf, gr in zip(("x", "v0", "u0", "a", "b", "c", "d"), fused[2], ref[2]):
        err = float((gf - gr).abs().max() / gr.abs().max().clamp(min=1.0))
        assert err <= tol, f"grad {name}: max relative error {err:.3g} > {tol:g}"


def test_subthreshold_gradients_equal_finite_differences():
    """No spike and the reset detached (so no surrogate term reaches the state): the state is a smooth function of
    every input, and the kernel's backward must be its derivative."""
    x, params, state = _inputs(torch.float64, steps=30, n=4)
    x = x * 0.05  # 0.2-1 (paper units): below the firing current (about 4)

    def final_state(x, v0, u0, a, b, d):
        p = IzhikevichParams(a, b, params.c, d, detach_reset=True)
        z, s = izhikevich_seq(x, IzhikevichState(v0, u0), p, dt=DT, backend="cpu")
        assert z.sum() == 0
        return s.v, s.u

    args = [t.clone().requires_grad_() for t in (x, state.v, state.u, params.a, params.b, params.d)]
    with kernels.trace() as ran:
        assert torch.autograd.gradcheck(final_state, args, eps=1e-6, atol=1e-6, rtol=1e-5)
    assert ("izhikevich", "cpu") in ran


def test_constant_input_view_equals_the_materialised_input():
    n = 70_000  # above the one-thread size: the OpenMP loop and the thread probe run
    current = 20.0 * torch.arange(n, dtype=torch.float32) / n
    params = IzhikevichParams(0.02, 0.2, -65.0, 8.0)
    with torch.no_grad():
        z_view, s_view = izhikevich_seq(current.expand(40, 1, n), None, params, dt=DT, backend="cpu")
        z_full, s_full = izhikevich_seq(current.expand(40, 1, n).contiguous(), None, params, dt=DT, backend="torch")
    assert z_full.sum() > 0
    assert torch.equal(z_view, z_full) and torch.equal(s_view.v, s_full.v) and torch.equal(s_view.u, s_full.u)


def test_v_peak_not_above_c_runs_the_reference_and_says_why():
    x, params, state = _inputs(torch.float32, steps=5)
    params = params._replace(c=torch.full_like(params.c, 40.0))
    with pytest.warns(kernels.FallbackWarning, match="v_peak is not above every c"):
        with kernels.trace() as ran:
            izhikevich_seq(x, state, params, dt=DT, backend="auto")
    assert ran == [("izhikevich", "torch")]


def test_thread_probe_stays_within_the_request_and_is_cached(monkeypatch):
    calls = []
    real, real_free = _common._probe, _common._free_cores
    monkeypatch.setattr(_common, "_PROBED", {})
    monkeypatch.setattr(_common, "_probe", lambda lib, wanted: calls.append(wanted) or real(lib, wanted))
    monkeypatch.setattr(_common, "_free_cores", lambda wanted: wanted)  # an idle machine: the probe decides
    first = _common.usable_threads(4)
    assert 1 <= first <= 4 and calls == [4]
    assert _common.usable_threads(4) == first and calls == [4]  # cached
    monkeypatch.setattr(_common, "_free_cores", lambda wanted: 1)  # every other core busy: 1, without a probe
    assert _common.usable_threads(6) == 1 and calls == [4]
    assert 1 <= real_free(8) <= 8
    monkeypatch.setenv("SPIKEFORGE_THREAD_PROBE", "0")
    assert _common.usable_threads(3) == 3 and calls == [4]
    before = torch.get_num_threads()
    with _common.torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_thread_probe_stops_early_only_when_the_answer_is_clear_cut(monkeypatch):
    """The probe's runs take the scripted times (a fake kernel advancing a fake clock): 2 threads always at 0.6 of
    1 thread's time stop it after 3 rounds with 2 threads; times that straddle the 0.85 line take all 5 rounds."""

    class Clock:
        now = 0.0

        def perf_counter(self) -> float:
            return self.now

    def fake_lib(script: dict[int, list[float]]):
        calls: list[int] = []

        class Lib:
            def sf_izh_fwd_f32(self, *args):
                threads = args[-1]
                clock.now += script[threads][sum(c == threads for c in calls)]
                calls.append(threads)

        return Lib(), calls

    clock = Clock()
    monkeypatch.setattr(_common, "time", clock)
    lib, calls = fake_lib({1: [1.0] * 5, 2: [0.6] * 5})
    assert _common._probe(lib, 2) == 2 and calls == [1, 2] * 3
    lib, calls = fake_lib({1: [1.0] * 5, 2: [0.8, 0.9, 0.8, 0.9, 0.8]})  # straddles 0.85: not clear, all 5 rounds
    assert _common._probe(lib, 2) == 2 and calls == [1, 2] * 5
    lib, calls = fake_lib({1: [1.0] * 5, 2: [1.3] * 5})  # oversubscribed: clearly slower, 3 rounds, 1 thread
    assert _common._probe(lib, 2) == 1 and calls == [1, 2] * 3
    assert _common._choose({1: [1.0, 1.0, 1.0], 2: [0.5, 0.5, 0.5], 4: [0.3, 0.3, 0.3]}) == (4, True)
    assert _common._choose({1: [1.0, 1.0, 1.0], 2: [0.5, 0.5, 0.5], 4: [0.45, 0.4, 0.44]}) == (2, False)


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="reads task states under /proc (Linux)")
def test_free_cores_count_only_tasks_that_stay_runnable(monkeypatch):
    """A task runnable at the first look but not 1 ms later ran for a moment: it is not load; one still runnable
    at every look is; the later looks read only the tasks the first one found."""
    cpus = len(os.sched_getaffinity(0))
    if cpus != os.cpu_count():
        pytest.skip("an affinity mask smaller than the machine: the probe alone decides")
    first = {"/proc/1/task/1/stat", "/proc/2/task/2/stat"}
    looked: list[str] = []
    monkeypatch.setattr(_common, "_running_elsewhere", lambda: set(first))
    monkeypatch.setattr(_common, "_is_running", lambda stat: looked.append(stat) or stat.startswith("/proc/1/"))
    assert _common._free_cores(cpus) == max(1, cpus - 1)
    assert set(looked) <= first and looked.count("/proc/1/task/1/stat") == 2  # the busy one, at both later looks
    looked.clear()
    monkeypatch.setattr(_common, "_running_elsewhere", set)
    assert _common._free_cores(cpus) == cpus and looked == []  # nothing found: no second look


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="reads task states under /proc (Linux)")
def test_free_cores_see_another_process_busy():
    """A busy child process is another task's load: at most cpus - 1 cores free."""
    import subprocess
    import sys

    from spikeforge.kernels.cpu import _common

    cpus = len(os.sched_getaffinity(0))
    if cpus != os.cpu_count():
        pytest.skip("an affinity mask smaller than the machine: the probe alone decides")
    child = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)  # the child is running its loop
        assert len(_common._running_elsewhere()) >= 1
        assert _common._free_cores(cpus) <= cpus - 1
    finally:
        child.kill()
        child.wait()
