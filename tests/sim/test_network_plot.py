"""plot_network writes a raster + population-rate image atomically."""

import os

import pytest

from spikeforge.sim.networks import simulate_network
from spikeforge.viz._network import plot_network


def test_plot_network_writes_a_png_and_no_temporary_file(tmp_path):
    pytest.importorskip("matplotlib")
    res = simulate_network("brunel", regime="ai", duration=0.03, n_exc=200, scaling="density")
    out = plot_network(res, tmp_path / "net.png")
    assert out.exists() and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["net.png"]
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask


def test_plot_network_rejects_other_objects(tmp_path):
    with pytest.raises(TypeError, match="result: expected a NetworkResult"):
        plot_network({"spikes": []}, tmp_path / "x.png")
