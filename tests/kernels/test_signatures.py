"""The ctypes signature table (kernels/cpu/_signatures.py) against the C prototypes in sf_kernels.h."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from spikeforge import surrogate
from spikeforge.kernels import RESETS
from spikeforge.kernels.cpu import _build
from spikeforge.kernels.cpu._signatures import SIGNATURES

HEADER, SOURCE = _build.SOURCE_FILES[1], _build.SOURCE_FILES[0]
_PROTOTYPE = re.compile(r"^(void|long)\s+(sf_\w+)_(f32|f64)\s*\(([^)]*)\)\s*;", re.MULTILINE)


def _kind(param: str, suffix: str) -> str:
    """One C parameter declaration as a table type name (``ptr``, ``long``, ``int``, ``real``)."""
    if "*" in param:
        return "ptr"
    words = param.replace("const", "").split()
    ctype = words[0]
    if ctype in ("float", "double"):
        assert ctype == {"f32": "float", "f64": "double"}[suffix], f"{param!r} in a _{suffix} function"
        return "real"
    assert ctype in ("long", "int"), f"unexpected C parameter type in {param!r}"
    return ctype


def _header_prototypes() -> dict[tuple[str, str], tuple[str, str]]:
    found = {}
    for restype, name, suffix, params in _PROTOTYPE.findall(HEADER.read_text()):
        kinds = "" if params.strip() == "void" else " ".join(_kind(p.strip(), suffix) for p in params.split(","))
        found[(name, suffix)] = (restype, kinds)
    return found


def test_every_table_row_matches_both_prototypes_in_the_header():
    header = _header_prototypes()
    assert header, "no prototypes parsed from sf_kernels.h"
    for name, (restype, args) in SIGNATURES.items():
        for suffix in ("f32", "f64"):
            assert (name, suffix) in header, f"{name}_{suffix} is in _signatures.py but not in sf_kernels.h"
            assert header[(name, suffix)] == (restype, " ".join(args.split())), f"{name}_{suffix} differs"
    extra = {name for name, _ in header} - set(SIGNATURES)
    assert not extra, f"sf_kernels.h declares functions the ctypes table lacks: {sorted(extra)}"


def test_a_wrong_row_would_be_caught():
    header = _header_prototypes()
    restype, args = header[("sf_lif_fwd", "f32")]
    assert (restype, args.replace("real", "int", 1)) != SIGNATURES["sf_lif_fwd"]  # the comparison sees one type


def _copy_sources(tmp_path: Path) -> Path:
    """The source and the files it includes, but not the header, copied into ``tmp_path`` (a quoted include looks
    beside the source first); the source's path there."""
    for path in (SOURCE, *_build.SOURCE_FILES[2:]):
        (tmp_path / path.name).write_text(path.read_text())
    return tmp_path / SOURCE.name


def _preprocessed(tmp_path: Path, header_text: str) -> subprocess.CompletedProcess:
    """``gcc -E`` of the real source against ``header_text`` (the real header or a changed copy)."""
    (tmp_path / "sf_kernels.h").write_text(header_text)
    _copy_sources(tmp_path)
    return subprocess.run(["gcc", "-E", "-P", str(tmp_path / "sf_kernels.c")], capture_output=True, text=True)


needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc to preprocess the source")


@needs_gcc
def test_every_function_the_source_exports_is_declared_in_the_header(tmp_path):
    res = _preprocessed(tmp_path, HEADER.read_text())
    assert res.returncode == 0, res.stderr
    body = " ".join(line for line in res.stdout.splitlines() if not line.lstrip().startswith("#"))
    defined = set(re.findall(r"(?<!static )(?<!inline )(?:void|long) (sf_\w+_f(?:32|64))\([^;{]*\)\s*\{", body))
    assert len(defined) >= 2 * len(SIGNATURES), sorted(defined)  # the pattern finds the definitions
    declared = {f"{name}_{suffix}" for name, suffix in _header_prototypes()}
    assert defined == declared, (sorted(defined - declared), sorted(declared - defined))


@needs_gcc
def test_the_compiler_checks_the_definitions_against_the_header(tmp_path):
    """The source includes the header: a prototype that differs from the macro-generated definition is a compile
    error, so the header (and with it the ctypes table) describes what is really compiled."""
    text = HEADER.read_text()
    changed = text.replace("float *vs, long nt_, long n, int threads);", "float *vs, long nt_, long n, long threads);")
    assert changed != text
    source = _copy_sources(tmp_path)
    (tmp_path / "sf_kernels.h").write_text(changed)
    res = subprocess.run(["gcc", "-fsyntax-only", str(source)], capture_output=True, text=True)
    assert res.returncode != 0 and "conflicting types" in res.stderr
    (tmp_path / "sf_kernels.h").write_text(text)
    res = subprocess.run(["gcc", "-fsyntax-only", str(source)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


def test_codes_shared_with_the_c_source_are_those_the_header_states():
    text = HEADER.read_text()
    assert "reset 0 subtract, 1 zero, 2 none" in text and RESETS == ("subtract", "zero", "none")
    ids = {
        cls.name: cls.kernel_id
        for cls in (
            surrogate.FastSigmoid,
            surrogate.Sigmoid,
            surrogate.ATan,
            surrogate.Triangle,
            surrogate.Boxcar,
            surrogate.StraightThrough,
        )
    }
    stated = "0 fast sigmoid, 1 sigmoid, 2 atan, 3 triangle, 4 boxcar, 5 straight through"
    assert ", ".join(f"{i} {name.replace('_', ' ')}" for name, i in ids.items()) == stated
    assert stated in " ".join(text.split())
