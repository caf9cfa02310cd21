"""`spikeforge simulate`: single models, f-I curves, plots, JSON, unit parsing, errors, and the network hook."""

import argparse
import json
import sys
import types

import numpy as np
import pytest

from spikeforge.cli._simulate import add_parser, parse_time, run


def parse(argv):
    parser = argparse.ArgumentParser(prog="spikeforge")
    sub = parser.add_subparsers(dest="command", required=True)
    add_parser(sub)
    return parser.parse_args(["simulate", *argv])


def run_json(argv, capsys):
    assert run(parse([*argv, "--json"])) == 0
    return json.loads(capsys.readouterr().out)


def test_json_has_the_documented_keys_and_izhikevich_preset_pattern(capsys):
    out = run_json(
        ["izhikevich", "--preset", "chattering", "--current", "10", "--duration", "200ms", "--dt", "0.1ms"], capsys
    )
    assert {"model", "params", "dt_ms", "duration_ms", "current", "spike_times_ms", "rate_hz"} <= set(out)
    assert out["model"] == "izhikevich" and out["dt_ms"] == pytest.approx(0.1) and out["duration_ms"] == 200
    assert out["params"]["c"] == -50.0
    times = np.array(out["spike_times_ms"][0])
    assert out["rate_hz"][0] == pytest.approx(len(times) / 0.2)
    assert np.diff(times).min() < 5 and np.diff(times).max() > 30  # chattering: bursts


def test_several_currents_give_one_spike_train_each(capsys):
    out = run_json(["cubalif", "--current", "0.5,2,4", "--duration", "100ms", "--param", "tau_mem=20ms"], capsys)
    assert len(out["spike_times_ms"]) == 3 and out["rate_hz"][0] == 0 and out["rate_hz"][2] > out["rate_hz"][1] > 0
    assert out["params"]["tau_mem"] == pytest.approx(0.02)


def test_text_output_lists_spike_times_and_rate(capsys):
    assert run(parse(["hh", "--current", "10", "--duration", "30ms", "--dt", "0.05ms"])) == 0
    text = capsys.readouterr().out
    assert "hodgkin-huxley" in text and "spike times (ms)" in text and "Hz" in text


def test_preset_current_is_the_default(capsys):
    out = run_json(["morris-lecar", "--preset", "class_II", "--duration", "300ms", "--dt", "0.2ms"], capsys)
    assert out["current"] == [100.0] and out["rate_hz"][0] > 0


def test_fi_curve_and_plots(tmp_path, capsys):
    fi = tmp_path / "fi.png"
    out = run_json(
        ["adex", "--preset", "tonic", "--fi-curve", "0:600:200", "--duration", "200ms", "--plot", str(fi)], capsys
    )
    assert out["current"] == [0.0, 200.0, 400.0, 600.0]
    assert out["rate_hz"][0] == 0 and out["rate_hz"][-1] > out["rate_hz"][-2] > 0
    assert fi.stat().st_size > 1000
    trace = tmp_path / "trace.png"
    assert run(parse(["resonate-fire", "--current", "300", "--duration", "50ms", "--plot", str(trace)])) == 0
    assert trace.stat().st_size > 1000 and "plot written" in capsys.readouterr().out


@pytest.mark.parametrize(("text", "seconds"), [("1000ms", 1.0), ("0.1ms", 1e-4), ("1s", 1.0), ("250 us", 2.5e-4)])
def test_time_units(text, seconds):
    assert parse_time(text, name="--dt") == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["izhikevich", "--current", "10", "--duration", "1000"], "--duration: expected a time with a unit"),
        (["izhikevich", "--current", "10", "--dt", "0.1 hours"], "--dt"),
        (["izhikevich", "--current", "ten"], "--current"),
        (["izhikevich", "--current", "10", "--param", "q=1"], "no parameter 'q'"),
        (["izhikevich", "--current", "10", "--param", "a"], "NAME=VALUE"),
        (["izhikevich", "--preset", "sleepy", "--current", "10"], "--preset"),
        (["hodgkin-huxley", "--preset", "x", "--current", "10"], "no presets"),
        (["izhikevich"], "--current: required"),
        (["izhikevich", "--current", "10", "--dt", "2ms"], "--dt"),
        (["izhikevich", "--fi-curve", "5:1:1"], "--fi-curve"),
        (["neuron9000", "--current", "1"], "MODEL"),
        (["network", "hopfield"], "network"),
    ],
)
def test_bad_input_is_explained(argv, message):
    with pytest.raises(ValueError, match=message):
        run(parse(argv))


def test_network_calls_simulate_network_and_plot_network(monkeypatch, tmp_path, capsys):
    calls = {}

    class Result:
        spike_times = (0.001, 0.002)
        n_neurons = 10
        regime = "sr"

        def summary(self):
            return {"rate_hz": 12.5, "cv_isi": 0.1, "synchrony": 0.9}

    def simulate_network(name, *, regime=None, duration, dt, seed=0):
        calls["network"] = (name, regime, duration, dt, seed)
        return Result()

    def plot_network(result, path):
        calls["plot"] = path

    monkeypatch.setitem(
        sys.modules, "spikeforge.sim.networks", types.SimpleNamespace(simulate_network=simulate_network)
    )
    import spikeforge.viz

    monkeypatch.setattr(spikeforge.viz, "plot_network", plot_network, raising=False)
    out = run_json(
        [
            "network",
            "brunel",
            "--regime",
            "sr",
            "--duration",
            "200ms",
            "--dt",
            "0.1ms",
            "--plot",
            str(tmp_path / "net.png"),
        ],
        capsys,
    )
    assert calls["network"] == ("brunel", "sr", pytest.approx(0.2), pytest.approx(1e-4), 0)
    assert calls["plot"] == str(tmp_path / "net.png")
    assert out["summary"] == {"rate_hz": 12.5, "cv_isi": 0.1, "synchrony": 0.9} and out["n_neurons"] == 10
