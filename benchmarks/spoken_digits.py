"""Build the spoken-digit corpus offline with the espeak-ng speech synthesiser (Debian package ``espeak-ng``).

Ten classes (``zero`` .. ``nine``), written in the class-folder layout that ``spikeforge train --dataset audio:DIR``
reads::

    OUT/train/<digit>/<id>.wav     OUT/test/<digit>/<id>.wav     OUT/manifest.json

Each utterance draws (from ``--seed``) an English accent, a voice variant, a speed (words per minute), a pitch
and a noise level, and is written as 16-bit PCM at 16 kHz (espeak-ng speaks at 22.05 kHz; resampled with a
polyphase filter). Noise is white Gaussian noise added at a stated signal-to-noise ratio,
``SNR = 10 log10(P_speech / P_noise)`` dB, where ``P_speech`` is the mean square of the samples above -40 dB of
the utterance's peak (so silence before and after the word does not dilute it); ``inf`` means clean.

The split is by voice: the test part uses voice variants that no training utterance uses, so the test measures
generalisation to unseen voices (with the same accents, speeds, pitches and noise levels drawn from the same
ranges).

Rebuilding from the same seed with the same espeak-ng version writes the same files, byte for byte: the manifest
lists every file's SHA-256, and ``--check`` rebuilds into a temporary folder and compares.

    python benchmarks/spoken_digits.py --out runs/corpora/spoken_digits            # 2000 files, ~30 s at 1 thread
    python benchmarks/spoken_digits.py --out runs/corpora/spoken_digits --check    # rebuild and compare hashes
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
#: English accents of espeak-ng's own voices (no MBROLA data needed)
ACCENTS = ["en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-029", "en-us-nyc"]
#: voice variants (``accent+variant``): the training part uses the first list, the test part the second
TRAIN_VARIANTS = ["m1", "m2", "m3", "m4", "m5", "f1", "f2", "f3", "klatt", "klatt2", "Andy", "Alicia", "Mike", "Max"]
TEST_VARIANTS = ["m6", "m7", "f4", "f5", "klatt3", "Annie", "Gene"]
SPEEDS = (120, 200)  # words per minute, uniform
PITCHES = (20, 80)  # espeak-ng pitch 0..99, uniform
SNRS_DB = [float("inf"), 20.0, 10.0]  # chosen uniformly per utterance
SAMPLE_RATE = 16000
SYNTH_RATE = 22050


def _espeak() -> str:
    exe = shutil.which("espeak-ng")
    if exe is None:
        sys.exit(
            "espeak-ng: not found. Install the Debian package first (as root: apt-get install -y espeak-ng), "
            "or pass --install to let this script run that command."
        )
    return exe


def _install() -> None:
    if shutil.which("espeak-ng") is None:
        subprocess.run(["apt-get", "install", "-y", "espeak-ng"], check=True)


def _synth(exe: str, text: str, voice: str, speed: int, pitch: int) -> np.ndarray:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.wav"
        cmd = [exe, "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(path), text]
        subprocess.run(cmd, check=True, capture_output=True)
        from scipy.io import wavfile

        rate, data = wavfile.read(path)
    if rate != SYNTH_RATE or data.dtype != np.int16:
        raise RuntimeError(f"espeak-ng: expected {SYNTH_RATE} Hz int16 output, got {rate} Hz {data.dtype}")
    return data.astype(np.float64) / 2**15


def _resample(x: np.ndarray) -> np.ndarray:
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(SAMPLE_RATE, SYNTH_RATE)
    return resample_poly(x, SAMPLE_RATE // g, SYNTH_RATE // g)


def add_noise(x: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """``x`` plus white Gaussian noise at ``snr_db`` re the mean square of the samples above -40 dB of the peak."""
    if snr_db == float("inf"):
        return x
    loud = np.abs(x) >= np.abs(x).max() * 10 ** (-40 / 20)
    p_speech = float(np.mean(x[loud] ** 2))
    noise = rng.standard_normal(len(x)) * np.sqrt(p_speech / 10 ** (snr_db / 10))
    return x + noise


def plan(seed: int, per_class_train: int, per_class_test: int) -> list[dict]:
    """Every utterance's settings, drawn from ``seed`` (the same list for the same arguments)."""
    rng = np.random.default_rng(seed)
    items = []
    for part, variants, n in (("train", TRAIN_VARIANTS, per_class_train), ("test", TEST_VARIANTS, per_class_test)):
        for label, word in enumerate(DIGITS):
            for i in range(n):
                items.append(
                    {
                        "part": part,
                        "digit": word,
                        "label": label,
                        "file": f"{part}/{word}/{word}_{i:04d}.wav",
                        "voice": f"{ACCENTS[rng.integers(len(ACCENTS))]}+{variants[rng.integers(len(variants))]}",
                        "speed": int(rng.integers(SPEEDS[0], SPEEDS[1] + 1)),
                        "pitch": int(rng.integers(PITCHES[0], PITCHES[1] + 1)),
                        "snr_db": SNRS_DB[rng.integers(len(SNRS_DB))],
                        "noise_seed": int(rng.integers(2**31)),
                        "gain_db": float(np.round(rng.uniform(-12.0, -3.0), 2)),
                    }
                )
    return items


def build(out: Path, seed: int, per_class_train: int, per_class_test: int) -> dict:
    """Write the corpus into ``out`` (must not exist; written to a temporary sibling and renamed when complete)."""
    from scipy.io import wavfile

    exe = _espeak()
    version = subprocess.run([exe, "--version"], check=True, capture_output=True, text=True).stdout.strip()
    if out.exists():
        sys.exit(f"--out: {out} exists; remove it or choose another folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=out.name + ".partial-", dir=out.parent))
    try:
        items = plan(seed, per_class_train, per_class_test)
        for item in items:
            x = _resample(_synth(exe, item["digit"], item["voice"], item["speed"], item["pitch"]))
            x = x / max(np.abs(x).max(), 1e-9) * 10 ** (item["gain_db"] / 20)  # peak at gain_db dBFS
            x = add_noise(x, item["snr_db"], np.random.default_rng(item["noise_seed"]))
            pcm = np.clip(np.round(x * 2**15), -(2**15), 2**15 - 1).astype(np.int16)
            path = tmp / item["file"]
            path.parent.mkdir(parents=True, exist_ok=True)
            wavfile.write(path, SAMPLE_RATE, pcm)
            item["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
            item["seconds"] = round(len(pcm) / SAMPLE_RATE, 4)
            item["snr_db"] = None if item["snr_db"] == float("inf") else item["snr_db"]  # JSON has no inf
        manifest = {
            "seed": seed,
            "espeak_ng": version,
            "sample_rate": SAMPLE_RATE,
            "classes": DIGITS,
            "accents": ACCENTS,
            "train_variants": TRAIN_VARIANTS,
            "test_variants": TEST_VARIANTS,
            "speeds_wpm": list(SPEEDS),
            "pitches": list(PITCHES),
            "snrs_db": [None if s == float("inf") else s for s in SNRS_DB],
            "files": items,
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=Path("runs/corpora/spoken_digits"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--train-per-class", type=int, default=160, dest="train")
    p.add_argument("--test-per-class", type=int, default=40, dest="test")
    p.add_argument("--check", action="store_true", help="rebuild into a temporary folder and compare with --out")
    p.add_argument("--install", action="store_true", help="install espeak-ng with apt-get if it is missing")
    args = p.parse_args(argv)
    if args.install:
        _install()
    if args.check:
        old = json.loads((args.out / "manifest.json").read_text())
        with tempfile.TemporaryDirectory() as tmp:
            new = build(Path(tmp) / "corpus", old["seed"], *_counts(old))
        a = {f["file"]: f["sha256"] for f in old["files"]}
        b = {f["file"]: f["sha256"] for f in new["files"]}
        on_disk = {f: hashlib.sha256((args.out / f).read_bytes()).hexdigest() for f in a}
        differ = sorted(f for f in a.keys() | b.keys() if a.get(f) != b.get(f) or on_disk.get(f) != b.get(f))
        print(f"{len(b)} files rebuilt from seed {old['seed']}: {len(differ)} differ from {args.out}")
        return 1 if differ else 0
    m = build(args.out, args.seed, args.train, args.test)
    n = {part: sum(f["part"] == part for f in m["files"]) for part in ("train", "test")}
    print(f"{args.out}: {n['train']} training and {n['test']} test files, 10 classes, {m['espeak_ng']}")
    return 0


def _counts(manifest: dict) -> tuple[int, int]:
    files = manifest["files"]
    per = {part: sum(f["part"] == part for f in files) // len(manifest["classes"]) for part in ("train", "test")}
    return per["train"], per["test"]


if __name__ == "__main__":
    raise SystemExit(main())
