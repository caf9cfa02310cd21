"""Fuzzing the data-file readers (issue 15): random and mutated ``.ts``, IDX, SHD/SSC HDF5, NIR, ``.wav`` and model
files. Property: a reader either returns or raises one of its documented errors (``ValueError`` and its subclasses
such as ``ModelFileError``, ``FileNotFoundError``); never another exception type, a hang (hypothesis ``deadline``)
or a crash. Derandomised, with a modest number of examples per reader, so CI is reproducible and fast.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import struct
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

#: SPIKEFORGE_FUZZ_EXAMPLES=5000 for a long, randomised local hunt; CI runs the fixed, derandomised default
_EXAMPLES = int(os.environ.get("SPIKEFORGE_FUZZ_EXAMPLES", "0"))
FUZZ = settings(
    max_examples=_EXAMPLES or 100,
    derandomize=not _EXAMPLES,
    deadline=5000,  # ms per example: a reader that hangs fails here
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)
DOCUMENTED = (ValueError, FileNotFoundError)


def only_documented(read, *args, **kwargs):
    """Call the reader; a documented error is fine, anything else fails the property."""
    try:
        return read(*args, **kwargs)
    except DOCUMENTED as err:
        assert str(err), f"{type(err).__name__} without a message"
        return None


@st.composite
def mutated(draw, original: bytes, max_edits: int = 6) -> bytes:
    """``original`` with a few random byte flips, insertions, deletions and a possible truncation."""
    data = bytearray(original)
    for _ in range(draw(st.integers(0, max_edits))):
        if not data:
            break
        kind = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        at = draw(st.integers(0, len(data) - 1))
        if kind == "flip":
            data[at] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 8))]
        else:
            del data[at:]
    return bytes(data)


def _file(data: bytes, name: str) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="sf-fuzz-"))
    path = folder / name
    path.write_bytes(data)
    return path


# -- .ts (data/_timeseries) ----------------------------------------------------------------------------------------------------
TS_TOKENS = st.sampled_from(
    ["1", "-2.5", "3e8", "?", "nan", "NaN", "inf", "-inf", "", "x", "1e999", "(0,1)", " ", "0x10", "1_0", "\u00e9"]
)
TS_LINE = st.one_of(
    st.sampled_from(
        [
            "@problemName toy",
            "@classLabel true a b",
            "@classLabel true",
            "@classLabel false",
            "@classlabel TRUE a",
            "@timeStamps true",
            "@targetLabel true",
            "@equalLength false",
            "@data",
            "@",
            "# comment",
            "",
        ]
    ),
    st.builds(
        lambda chans, label: ":".join([",".join(c) for c in chans] + [label]),
        st.lists(st.lists(TS_TOKENS, min_size=0, max_size=4), min_size=0, max_size=3),
        st.sampled_from(["a", "b", "c", "", "1"]),
    ),
    st.text(max_size=30),
)


@FUZZ
@given(lines=st.lists(TS_LINE, max_size=12))
def test_fuzz_read_ts(lines):
    from spikeforge.data import read_ts

    only_documented(read_ts, _file("\n".join(lines).encode("utf-8", "surrogatepass"), "toy_TRAIN.ts"))


@FUZZ
@given(
    train=st.lists(TS_LINE, max_size=8).map(lambda ls: "@classLabel true a b\n@data\n" + "\n".join(ls)),
    test=st.lists(TS_LINE, max_size=8).map(lambda ls: "@classLabel true a b\n@data\n" + "\n".join(ls)),
    missing=st.sampled_from(["error", "interpolate"]),
)
def test_fuzz_load_ts_pair(train, test, missing):
    from spikeforge.data import load_ts_pair

    a = _file(train.encode("utf-8", "surrogatepass"), "p_TRAIN.ts")
    b = a.with_name("p_TEST.ts")
    b.write_bytes(test.encode("utf-8", "surrogatepass"))
    split = only_documented(load_ts_pair, a, b, missing=missing)
    if split is not None:
        assert torch.isfinite(split.x_train).all() and torch.isfinite(split.x_test).all()


@FUZZ
@given(data=mutated(b"@problemName toy\n@classLabel true a b\n@data\n1,2,3:4,5,6:a\n7,8,9:1,2,3:b\n"))
def test_fuzz_read_ts_bytes(data):
    from spikeforge.data import read_ts

    only_documented(read_ts, _file(data, "toy_TRAIN.ts"))


# -- IDX (data/_images) --------------------------------------------------------------------------------------------------------
def _idx_bytes(array: np.ndarray) -> bytes:
    return struct.pack(">BBBB", 0, 0, 8, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


IDX_VALID = _idx_bytes(np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3))


@FUZZ
@given(
    data=st.one_of(
        mutated(IDX_VALID),
        st.binary(max_size=64),
        st.builds(
            lambda magic, dims, body: bytes(magic) + struct.pack(f">{len(dims)}I", *dims) + body,
            st.lists(st.integers(0, 255), min_size=4, max_size=4),
            st.lists(st.integers(0, 2**32 - 1), max_size=4),
            st.binary(max_size=64),
        ),
    ),
    gz=st.booleans(),
)
def test_fuzz_read_idx(data, gz):
    from spikeforge.data import read_idx

    if gz and data:
        data = gzip.compress(data)[: len(data) + 20]  # sometimes truncated
    array = only_documented(read_idx, _file(data, "f-idx3-ubyte.gz" if gz else "f-idx3-ubyte"))
    if array is not None:
        assert array.dtype == np.uint8


@FUZZ
@given(
    labels=st.lists(st.integers(0, 255), min_size=0, max_size=12), test_labels=st.lists(st.integers(0, 255), max_size=6)
)
def test_fuzz_load_idx_labels(labels, test_labels):
    from spikeforge.data import IDX_FILES, load_idx

    folder = Path(tempfile.mkdtemp(prefix="sf-fuzz-"))
    parts = {"train": np.asarray(labels, np.uint8), "test": np.asarray(test_labels, np.uint8)}
    for part, y in parts.items():
        (folder / IDX_FILES[f"{part}_images"]).write_bytes(_idx_bytes(np.zeros((len(y), 4, 4), np.uint8)))
        (folder / IDX_FILES[f"{part}_labels"]).write_bytes(_idx_bytes(y))
    split = only_documented(load_idx, folder)
    if split is not None:
        assert split.n_classes == len(set(labels)) and int(split.y_test.max()) < split.n_classes


# -- SHD/SSC HDF5 (data/_spikes) -------------------------------------------------------------------------------------------------
H5_ROW = st.one_of(
    st.lists(st.integers(0, 800), max_size=6).map(lambda v: np.asarray(v, dtype=np.int64)),
    st.lists(st.floats(allow_nan=True, allow_infinity=True, width=16), max_size=6).map(
        lambda v: np.asarray(v, dtype=np.float32)
    ),
    st.lists(st.integers(0, 2**16 - 1), max_size=6).map(lambda v: np.asarray(v, dtype=np.uint16)),
)
H5_ARRAY = st.one_of(
    H5_ROW,
    st.lists(st.integers(-5, 800), max_size=6).map(lambda v: np.asarray(v, dtype=np.int64)),
    st.just(np.array([b"ab", b"c"])),
    st.just(np.zeros((2, 2))),
)


@st.composite
def heidelberg_file(draw) -> Path:
    import h5py

    path = Path(tempfile.mkdtemp(prefix="sf-fuzz-")) / "shd_train.h5"
    n = draw(st.integers(0, 4))
    with h5py.File(path, "w") as f:
        for key, dtype in (("spikes/times", np.float16), ("spikes/units", np.uint16)):
            how = draw(st.sampled_from(["vlen", "vlen", "dense", "missing", "group"]))
            if how == "vlen":
                rows = draw(st.integers(max(0, n - 1), n + 1))
                d = f.create_dataset(key, (rows,), dtype=h5py.vlen_dtype(np.dtype(dtype)))
                for i in range(rows):
                    with np.errstate(invalid="ignore", over="ignore"):  # float -> float16/uint16 overflows: fine
                        d[i] = draw(H5_ROW).astype(dtype) if draw(st.booleans()) else np.zeros(0, dtype)
            elif how == "dense":
                f.create_dataset(key, data=draw(H5_ARRAY))
            elif how == "group":
                f.create_group(key)
        how = draw(st.sampled_from(["good", "good", "array", "missing", "scalar"]))
        if how == "good":
            f.create_dataset(
                "labels", data=np.asarray(draw(st.lists(st.integers(0, 30), min_size=n, max_size=n)), np.uint16)
            )
        elif how == "array":
            f.create_dataset("labels", data=draw(H5_ARRAY))
        elif how == "scalar":
            f.create_dataset("labels", data=3)
        if draw(st.booleans()):
            f.create_dataset("extra/keys", data=draw(H5_ARRAY))
        if draw(st.booleans()):
            f.create_dataset("extra/speaker", data=draw(H5_ARRAY))
    return path


def _read_all(path: Path, **kwargs) -> None:
    from spikeforge.data import HeidelbergSpikes

    data = HeidelbergSpikes(path, **kwargs)
    try:
        for i in range(min(len(data), 4)):
            x, _ = data[i]
            assert x.dim() == 2 and torch.isfinite(x).all()
        _ = data.labels, data.speakers
    finally:
        data.close()


@FUZZ
@given(path=heidelberg_file(), on_invalid=st.sampled_from(["raise", "drop"]), pool=st.sampled_from([1, 5]))
def test_fuzz_heidelberg_structure(path, on_invalid, pool):
    only_documented(_read_all, path, dt=0.01, duration=0.1, on_invalid=on_invalid, pool=pool)


def _valid_h5_bytes() -> bytes:
    from formats import write_heidelberg

    path = Path(tempfile.mkdtemp(prefix="sf-fuzz-")) / "shd_train.h5"
    write_heidelberg(path, [(np.array([0.01, 0.02]), np.array([1, 2]))] * 2, [0, 1])
    return path.read_bytes()


@FUZZ
@given(data=mutated(_valid_h5_bytes(), max_edits=4))
def test_fuzz_heidelberg_bytes(data):
    only_documented(_read_all, _file(data, "shd_train.h5"), dt=0.01, duration=0.1)


# -- NIR (interop read_nir / import_nir) --------------------------------------------------------------------------------------------
def _nir_bytes() -> bytes:
    from spikeforge import LI, LIF
    from spikeforge.interop import write_nir
    from spikeforge.nn import SequentialState

    net = SequentialState(torch.nn.Linear(3, 4), LIF(4, reset="zero"), torch.nn.Linear(4, 2), LI(2))
    path = Path(tempfile.mkdtemp(prefix="sf-fuzz-")) / "m.nir"
    write_nir(path, net, [3])
    return path.read_bytes()


def _read_and_import(path: Path) -> None:
    from spikeforge.interop import import_nir, read_nir

    graph = read_nir(path)
    model = import_nir(graph, dt=1e-3)
    out, _ = model(torch.rand(3, 2, 3))
    assert torch.isfinite(out).all()


@FUZZ
@given(data=mutated(_nir_bytes(), max_edits=4))
def test_fuzz_nir_bytes(data):
    only_documented(_read_and_import, _file(data, "m.nir"))


FLOATS = st.floats(allow_nan=True, allow_infinity=True, width=32)


@st.composite
def nir_graph(draw):
    import nir

    n_in, n = draw(st.integers(1, 3)), draw(st.integers(1, 3))

    def arr(*shape):
        return np.asarray(
            draw(st.lists(FLOATS, min_size=int(np.prod(shape)), max_size=int(np.prod(shape)))), np.float32
        ).reshape(shape)

    kind = draw(st.sampled_from(["LIF", "LI", "CubaLIF", "IF"]))
    params = {
        "LIF": lambda: nir.LIF(tau=arr(n), r=arr(n), v_leak=arr(n), v_threshold=arr(n)),
        "LI": lambda: nir.LI(tau=arr(n), r=arr(n), v_leak=arr(n)),
        "CubaLIF": lambda: nir.CubaLIF(
            tau_syn=arr(n), tau_mem=arr(n), r=arr(n), v_leak=arr(n), v_threshold=arr(n), w_in=arr(n)
        ),
        "IF": lambda: nir.IF(r=arr(n), v_threshold=arr(n)),
    }[kind]
    w_shape = draw(st.sampled_from([(n, n_in), (n + 1, n_in), (n, n_in + 1)]))
    nodes = {
        "input": nir.Input(input_type=np.array([n_in])),
        "fc": nir.Affine(weight=arr(*w_shape), bias=arr(w_shape[0])),
        "neuron": params(),
        "output": nir.Output(output_type=np.array([n])),
    }
    edges = [("input", "fc"), ("fc", "neuron"), ("neuron", "output")]
    if draw(st.booleans()):
        edges = draw(st.permutations([*edges, ("neuron", "fc")]))[: draw(st.integers(1, 4))]
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


@FUZZ
@given(graph=nir_graph(), dt=st.sampled_from([1e-3, 1e-4, 0.05]), integrator=st.sampled_from(["exact", "euler"]))
def test_fuzz_import_nir_graph(graph, dt, integrator):
    from spikeforge.interop import import_nir

    model = only_documented(import_nir, graph, dt=dt, integrator=integrator, backend="torch")
    if model is not None:
        n_in = int(np.asarray(graph.nodes["input"].input_type["input"]).reshape(-1)[0])
        try:
            model(torch.rand(2, 1, n_in))
        except ValueError:
            pass  # e.g. a neuron refusing a shape: documented


# -- wav (encoding/_audio) --------------------------------------------------------------------------------------------------------------
def _wav_bytes(dtype=np.int16, channels: int = 1) -> bytes:
    from scipy.io import wavfile

    buffer = io.BytesIO()
    samples = (np.arange(64 * channels).reshape(64, channels) % 17).astype(dtype)
    wavfile.write(buffer, 8000, samples if channels > 1 else samples[:, 0])
    return buffer.getvalue()


@FUZZ
@pytest.mark.filterwarnings("ignore::scipy.io.wavfile.WavFileWarning")
@given(
    data=st.one_of(
        mutated(_wav_bytes()),
        mutated(_wav_bytes(np.float32, 2)),
        mutated(_wav_bytes(np.uint8)),
        st.binary(max_size=80).map(lambda b: b"RIFF" + struct.pack("<I", len(b) + 4) + b"WAVE" + b),
    ),
    rate=st.sampled_from([None, 8000, 16000]),
)
def test_fuzz_read_wav(data, rate):
    from spikeforge.encoding import read_wav

    out = only_documented(read_wav, _file(data, "a.wav"), rate, resample=rate == 16000)
    if out is not None:
        x, got = out
        assert x.dim() == 1 and torch.isfinite(x).all() and got > 0


# -- model files (interop read_model_file / load_model) ------------------------------------------------------------------------------
def _model_bytes() -> bytes:
    from spikeforge.interop import save_model
    from spikeforge.models import build_model

    config = {"model": "mlp", "input_shape": [4], "n_classes": 2, "hidden": [3]}
    path = Path(tempfile.mkdtemp(prefix="sf-fuzz-")) / "m.safetensors"
    save_model(path, build_model(config), config)
    return path.read_bytes()


@FUZZ
@given(data=st.one_of(mutated(_model_bytes()), st.binary(max_size=64)))
def test_fuzz_model_file_bytes(data):
    from spikeforge.interop import load_model

    only_documented(load_model, _file(data, "m.safetensors"))


JSON_VALUE = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**40), 2**40), st.floats(allow_nan=False), st.text(max_size=8)),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=8,
)


@st.composite
def model_header(draw) -> bytes:
    """A safetensors file whose JSON header is drawn: tensor entries with odd dtypes, shapes and offsets, odd
    metadata (the config the model is rebuilt from)."""
    body = draw(st.binary(min_size=0, max_size=96))
    tensors = {}
    for name in draw(st.lists(st.sampled_from(["0.weight", "0.bias", "1.log_tau_mem", "x"]), max_size=3, unique=True)):
        start = draw(st.integers(-4, 100))
        tensors[name] = {
            "dtype": draw(st.sampled_from(["F32", "F64", "I64", "BOOL", "F16", "U8", "Q4", 5])),
            "shape": draw(st.lists(st.integers(-1, 6), max_size=3)),
            "data_offsets": [start, start + draw(st.integers(-4, 100))],
        }
    config = draw(
        st.one_of(
            JSON_VALUE,
            st.fixed_dictionaries(
                {"model": st.sampled_from(["mlp", "conv", "nope"]), "input_shape": JSON_VALUE, "n_classes": JSON_VALUE}
            ),
        )
    )
    meta = {
        "format": draw(st.sampled_from(["spikeforge-model", "other"])),
        "version": "1",
        "config": json.dumps(config),
    }
    header = json.dumps({"__metadata__": meta, **tensors}).encode()
    return struct.pack("<Q", len(header)) + header + body


@FUZZ
@given(data=model_header())
def test_fuzz_model_file_header(data):
    from spikeforge.interop import load_model

    only_documented(load_model, _file(data, "m.safetensors"))


# -- training checkpoints (learning.Checkpointer) ---------------------------------------------------------------------
def _checkpoint_folder() -> tuple[Path, bytes]:
    from spikeforge.data import Split
    from spikeforge.learning import Checkpointer, fit

    folder = Path(tempfile.mkdtemp(prefix="sf-fuzz-ckpt-"))
    x, y = torch.rand(12, 1, 2, 2), torch.arange(12) % 2
    fit(_tiny_checkpoint_model(), Split("t", x, y, x, y, x, y, 2), _CKPT_CFG, checkpoints=Checkpointer(folder))
    (path,) = folder.glob("ckpt-*.safetensors")
    return path, path.read_bytes()


def _tiny_checkpoint_model():
    from spikeforge.models import build_model

    torch.manual_seed(0)
    return build_model({"model": "mlp", "input_shape": [1, 2, 2], "n_classes": 2, "hidden": [3]})


def _checkpoint_config():
    from spikeforge.learning import TrainConfig

    return TrainConfig(epochs=1, batch_size=6, timesteps=2)


_CKPT_CFG = _checkpoint_config()
_CKPT_PATH, _CKPT_BYTES = _checkpoint_folder()


@FUZZ
@given(data=st.one_of(mutated(_CKPT_BYTES), st.binary(max_size=64)), fix_checksum=st.booleans())
def test_fuzz_checkpoint_bytes(data, fix_checksum):
    """A damaged checkpoint (checksum updated to match, so the decoder and the restore see it, or left stale) makes
    resuming either work or raise CheckpointError; never another error."""
    import warnings

    from spikeforge._tensorfile import sha256
    from spikeforge.data import Split
    from spikeforge.learning import Checkpointer, fit
    from spikeforge.learning.supervised._checkpoint import CheckpointError

    folder = Path(tempfile.mkdtemp(prefix="sf-fuzz-ckpt-"))
    (folder / _CKPT_PATH.name).write_bytes(data)
    checksum = sha256(data) if fix_checksum else sha256(_CKPT_BYTES)
    (folder / _CKPT_PATH.name).with_suffix(".sha256").write_text(checksum + "\n")
    x, y = torch.rand(12, 1, 2, 2), torch.arange(12) % 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            fit(
                _tiny_checkpoint_model(),
                Split("t", x, y, x, y, x, y, 2),
                _CKPT_CFG,
                checkpoints=Checkpointer(folder),
                resume=True,
            )
        except CheckpointError as err:
            assert str(err)
