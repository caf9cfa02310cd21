"""The streaming example (examples/streaming_eprop.py) runs, learns from the stream and keeps constant memory."""

from __future__ import annotations

import runpy
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "streaming_eprop.py"


def test_streaming_example_keeps_constant_memory():
    main = runpy.run_path(str(EXAMPLE), run_name="example")["main"]
    result = main(["--steps", "1200", "--window", "300", "--update-every", "5"])
    assert len(result["accuracy"]) == 4
    assert len(result["kept_bytes"]) == 1  # the same bytes at every window: nothing grows with the stream
