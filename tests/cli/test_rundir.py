"""Run folders that never lose anything: --overwrite replaces only what spikeforge wrote, concurrent runs cannot
replace each other, killed runs' folders are recognised, and the same run writes the same bytes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from spikeforge.cli import main
from spikeforge.cli._rundir import MARKER, partial_dir

TRAIN = ["train", "--dataset", "digits", "--epochs", "3", "--hidden", "48", "--timesteps", "24", "--backend", "torch"]


def _spikeforge(args: list[str], cwd: Path) -> subprocess.Popen:
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    code = "import sys, torch; torch.set_num_threads(1); from spikeforge.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.Popen(
        [sys.executable, "-c", code, *args], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def test_overwrite_refuses_a_folder_spikeforge_did_not_write_and_deletes_nothing(tmp_path, capsys):
    mine = tmp_path / "thesis"
    (mine / "chapters").mkdir(parents=True)
    (mine / "draft.tex").write_text("years of work")
    (mine / "chapters" / "one.tex").write_text("more")
    code = main([*TRAIN, "--epochs", "1", "--out", str(mine), "--overwrite", "--quiet"])
    assert code == 2
    assert "was not written by spikeforge" in capsys.readouterr().err
    assert (mine / "draft.tex").read_text() == "years of work" and (mine / "chapters" / "one.tex").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["thesis"]  # no partial folder left either


def test_overwrite_replaces_a_spikeforge_run_and_runs_are_byte_deterministic(tmp_path):
    out = tmp_path / "run"
    args = [*TRAIN, "--epochs", "1", "--out", str(out), "--quiet"]
    assert main(args) == 0
    first = (out / "model.safetensors").read_bytes()
    assert main(args) == 2  # exists: refused without --overwrite
    assert main([*args, "--overwrite"]) == 0
    assert (out / "model.safetensors").read_bytes() == first  # same seed, same bytes (sorted metadata)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_a_live_run_locks_its_folder_and_a_stale_partial_is_named(tmp_path, capsys):
    from spikeforge.cli._rundir import check_out_dir, run_dir

    out = tmp_path / "run"
    with run_dir(out, False) as partial:
        with pytest.raises(FileExistsError, match="another spikeforge run is writing"):
            check_out_dir(out, False)
        with pytest.raises(FileExistsError, match="another spikeforge run is writing"):
            check_out_dir(out, True)
        (partial / "checkpoints").mkdir()
        (partial / "checkpoints" / "ckpt-000000001.safetensors").write_bytes(b"x")
        marker = json.loads((partial / MARKER).read_text())
        assert marker["status"] == "running" and marker["pid"] == os.getpid()
    # complete: published, without its checkpoints, marked complete, unlocked
    assert out.is_dir() and not (out / "checkpoints").exists() and not partial_dir(out).exists()
    assert json.loads((out / MARKER).read_text())["status"] == "complete"
    check_out_dir(out, True)  # a complete spikeforge run may be overwritten
    # a killed run (simulated: a partial folder with a marker, no lock held) is refused until resumed or overwritten
    partial = partial_dir(tmp_path / "other")
    partial.mkdir()
    (partial / MARKER).write_text(json.dumps({"command": "train", "status": "running", "progress": "epoch 2, step 9"}))
    with pytest.raises(FileExistsError, match=r"killed process \(last checkpoint: epoch 2, step 9\).*--resume"):
        check_out_dir(tmp_path / "other", False)
    check_out_dir(tmp_path / "other", False, resume=True)
    with pytest.raises(FileNotFoundError, match="no unfinished run"):
        check_out_dir(tmp_path / "none", False, resume=True)


def test_interrupted_run_with_a_checkpoint_is_kept_and_without_one_leaves_nothing(tmp_path):
    from spikeforge.cli._rundir import run_dir

    with pytest.raises(KeyboardInterrupt), run_dir(tmp_path / "a", False) as partial:
        (partial / "checkpoints").mkdir()
        (partial / "checkpoints" / "ckpt-000000003.safetensors").write_bytes(b"x")
        raise KeyboardInterrupt
    assert json.loads((partial_dir(tmp_path / "a") / MARKER).read_text())["status"] == "interrupted"
    with pytest.raises(RuntimeError), run_dir(tmp_path / "b", False):
        raise RuntimeError("failed before any checkpoint")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".a.partial"]


def test_empty_partial_folders_of_older_versions_are_cleaned(tmp_path):
    from spikeforge.cli._rundir import run_dir

    (tmp_path / ".run.abc123.partial").mkdir()
    (tmp_path / ".run.keep.partial").mkdir()
    (tmp_path / ".run.keep.partial" / "notes.txt").write_text("not empty: left alone")
    with run_dir(tmp_path / "run", False):
        pass
    assert sorted(p.name for p in tmp_path.iterdir()) == [".run.keep.partial", "run"]


def test_two_runs_started_at_once_to_one_folder_cannot_replace_each_other(tmp_path):
    runs = [_spikeforge([*TRAIN, "--epochs", "1", "--out", "same", "--quiet"], tmp_path) for _ in range(2)]
    codes = sorted(p.wait() for p in runs)
    errors = b"".join(p.stderr.read() for p in runs).decode()
    assert codes == [0, 2], errors
    assert "another spikeforge run" in errors or "already exists" in errors
    assert sorted(p.name for p in tmp_path.iterdir()) == ["same"]
