"""`spikeforge report runs/NAME`: one self-contained HTML page per run folder, every section and figure present, every
image a real PNG that a browser renders, and clear errors for what is not a run."""

import base64
import functools
import io
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser

import numpy as np
import pytest

from formats import make_idx_folder
from spikeforge.cli import main

SECTIONS = ["config", "curves", "test-metrics", "confusion", "rasters", "membranes", "firing-rates", "efficiency"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class Page(HTMLParser):
    """Sections, images (with their alt text and the caption of their figure) and the text of a report page."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.sections: list[str] = []
        self.images: list[dict] = []
        self.captions: list[str] = []
        self.external: list[str] = []
        self.text: list[str] = []
        self._in_caption = False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section":
            self.sections.append(attrs.get("id"))
        if tag == "img":
            self.images.append(attrs)
        if tag == "figcaption":
            self._in_caption = True
            self.captions.append("")
        if tag in ("link", "iframe", "object", "embed") or (tag == "script" and "src" in attrs):
            self.external.append(tag)
        for key in ("src", "href"):
            if key in attrs and not attrs[key].startswith(("data:", "#")):
                self.external.append(attrs[key])

    def handle_endtag(self, tag):
        if tag == "figcaption":
            self._in_caption = False

    def handle_data(self, data):
        self.text.append(data)
        if self._in_caption:
            self.captions[-1] += data


def decode_png(src: str) -> np.ndarray:
    """The image of a PNG data URI, checked to decode and not to be blank."""
    from matplotlib.image import imread

    prefix = "data:image/png;base64,"
    assert src.startswith(prefix)
    data = base64.b64decode(src[len(prefix) :], validate=True)
    assert data.startswith(PNG_SIGNATURE)
    image = imread(io.BytesIO(data), format="png")
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
    assert float(image[..., :3].std()) > 0.01  # something is drawn
    return image


def check_page(path, *, images: int) -> Page:
    text = path.read_text()
    page = Page(text)
    assert page.sections == SECTIONS
    assert not page.external, page.external  # self-contained: no file, script or style from elsewhere
    assert "url(" not in text and "@import" not in text
    assert len(page.images) == images
    assert len(page.captions) == images and all(c.strip() for c in page.captions)
    for img in page.images:
        assert len(img.get("alt", "")) > 40, img.get("alt")
        decode_png(img["src"])
    return page


def train(argv, out):
    assert main(["train", *argv, "--out", str(out), "--quiet"]) == 0
    return out


@pytest.fixture(scope="module")
def image_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    data = make_idx_folder(root / "idx", n_train=48, n_test=20)
    argv = ["--dataset", f"idx:{data}", "--epochs", "2", "--timesteps", "8", "--hidden", "24"]
    return train([*argv, "--batch-size", "16", "--encoding", "rate", "--lr", "0.01"], root / "runs" / "bars")


def test_report_of_an_image_run_has_every_section_and_figure(image_run, capsys):
    assert main(["report", str(image_run), "--samples", "2", "--neurons", "10"]) == 0
    out = image_run / "report.html"
    assert capsys.readouterr().out.strip() == f"wrote {out}"
    # curves, confusion, 2 rasters, 2 membrane figures, firing rates
    page = check_page(out, images=7)
    text = " ".join(page.text)
    config = json.loads((image_run / "config.json").read_text())
    metrics = json.loads((image_run / "metrics.json").read_text())
    assert config["dataset"] in text and "Environment" in text and metrics["environment"]["torch"] in text
    assert f"{100 * metrics['test_accuracy']:.2f}%" in text  # recorded, and re-evaluated alike
    assert "Synaptic layers" in text and "Neuron layers" in text and "ESTIMATE" in text
    alts = [img["alt"] for img in page.images]
    rasters = [a for a in alts if a.startswith("Spike raster")]
    assert len(rasters) == 2
    assert all(
        "10 of 64 inputs shown" in a and "10 of 24 neurons shown" in a and "time axis in ms" in a for a in rasters
    )
    membranes = [a for a in alts if a.startswith("Line charts of membrane")]
    assert len(membranes) == 2 and all("LIF(24): membrane of 5 of 24 neurons" in a for a in membranes)
    assert not list(image_run.glob(".report.html*"))  # the temporary file was renamed


def test_inspect_split_reproduces_the_recorded_accuracy_and_rates(image_run, tmp_path):
    import torch

    from spikeforge.data import load_split
    from spikeforge.interop import load_model
    from spikeforge.learning import TrainConfig, encode_batch, scores
    from spikeforge.metrics import SpikeRecorder, inspect_split

    config = json.loads((image_run / "config.json").read_text())
    metrics = json.loads((image_run / "metrics.json").read_text())
    model, _ = load_model(image_run / "model.safetensors")
    split = load_split(config["dataset"], dt=config["model_config"]["dt"])
    cfg = TrainConfig.from_section(config["train"])
    act = inspect_split(model, split, cfg, score=functools.partial(scores, readout=cfg.readout), samples=3)
    assert act.accuracy == metrics["test_accuracy"]  # same batches, same rate-encoder draws as evaluate
    assert int(act.confusion.sum()) == metrics["n_test"] and act.confusion.shape == (split.n_classes,) * 2
    (name,) = act.neuron_rates
    assert name == metrics["layers"]["2"]
    assert float(act.neuron_rates[name].mean()) == pytest.approx(metrics["firing_rate_per_step"]["2"], rel=1e-5)
    sample = act.samples[0]
    assert sample.input.shape == (8, 64) and sample.spikes[name].shape == (8, 24) and sample.output.shape[0] == 8
    v, z = sample.membranes[name], sample.spikes[name]
    assert v.shape == z.shape and sample.thresholds[name] == 1.0 and z.sum() > 0
    # recording the membrane (the reference scan) leaves the spikes as the model makes them, on evaluate's input
    x_seq = encode_batch(split.x_test[: cfg.batch_size], cfg, torch.Generator().manual_seed(cfg.eval_seed))[:, :3]
    with torch.no_grad(), SpikeRecorder(model) as rec:
        model(x_seq)
    assert torch.equal(rec.spikes["2"][0][:, 0], z)
    assert [s.label for s in act.samples] == split.y_test[:3].tolist()
    assert torch.equal(act.y_true, split.y_test)
    # no samples: the page says so, and keeps every section
    from spikeforge.viz import write_report

    none = inspect_split(model, split, cfg, score=functools.partial(scores, readout=cfg.readout), samples=0)
    page = check_page(write_report(image_run, none, out=tmp_path / "none.html"), images=3)
    assert "No samples recorded" in " ".join(page.text)


def write_ts(path, series, labels, classes):
    lines = ["@problemName waves", "@univariate false", "@equalLength false"]
    lines += [f"@classLabel true {' '.join(classes)}", "@data"]
    for s, label in zip(series, labels):
        lines.append(":".join(",".join(f"{v:.4f}" for v in ch) for ch in s.T) + f":{label}")
    path.write_text("\n".join(lines) + "\n")


def make_waves(folder, *, n_train=30, n_test=9, seed=0):
    """Variable-length 2-channel series: channel 0 rises ("up"), falls ("down") or peaks mid-way ("peak")."""
    rng = np.random.default_rng(seed)
    classes = ["up", "down", "peak"]
    folder.mkdir(parents=True, exist_ok=True)
    for part, n in (("TRAIN", n_train), ("TEST", n_test)):
        series = []
        for k in range(n):
            ramp = np.arange(rng.integers(12, 19)) / 18
            wave = [2 * ramp - 1, 1 - 2 * ramp, 1 - 4 * np.abs(ramp - 0.5)][k % 3]
            series.append(np.stack([wave, rng.normal(0, 0.3, len(ramp))], 1))
        write_ts(folder / f"waves_{part}.ts", series, [classes[k % 3] for k in range(n)], classes)
    return folder / "waves_TRAIN.ts"


@pytest.mark.parametrize("model", ["recurrent", "gru"])
def test_report_of_a_series_run(tmp_path, model):
    data = make_waves(tmp_path / "data")
    argv = ["--dataset", str(data), "--model", model, "--epochs", "2", "--hidden", "12", "--batch-size", "8"]
    run = train(argv, tmp_path / "runs" / model)
    out = tmp_path / "pages" / "waves.html"
    assert main(["report", str(run), "--out", str(out), "--samples", "2"]) == 0
    assert not (run / "report.html").exists()
    spiking = model == "recurrent"
    page = check_page(out, images=2 + 2 + 2 + spiking)  # curves, confusion, rasters, membranes (+ rates)
    text = " ".join(page.text)
    alts = " ".join(img["alt"] for img in page.images)
    assert "Confusion matrix heat map of 3 classes" in " ".join(img["alt"] for img in page.images)
    assert "Test sample 0, label up, predicted " in " ".join(page.captions)  # class names, not indices
    if spiking:
        assert "RALIF(12)" in alts or "RLIF(12)" in alts
    else:
        assert "This model has no spiking layers." in text
        assert "no hidden membrane potentials" in " ".join(page.captions)


def test_report_errors_name_the_argument(image_run, tmp_path, capsys):
    missing = tmp_path / "nope"
    assert main(["report", str(missing)]) == 2
    assert f"spikeforge report: error: run: {missing} is not a folder" in capsys.readouterr().err
    half = tmp_path / "half"
    half.mkdir()
    shutil.copy(image_run / "config.json", half)
    assert main(["report", str(half)]) == 2
    assert f"run: {half} has no model.safetensors" in capsys.readouterr().err
    folder = tmp_path / "a-folder"
    folder.mkdir()
    assert main(["report", str(image_run), "--out", str(folder)]) == 2
    assert f"--out: {folder} is a directory" in capsys.readouterr().err
    assert not any(folder.iterdir())
    for flag, value in (("--samples", "-1"), ("--neurons", "0")):
        assert main(["report", str(image_run), flag, value, "--out", str(tmp_path / "x.html")]) == 2
        assert f"spikeforge report: error: {flag}:" in capsys.readouterr().err
    assert not (tmp_path / "x.html").exists()


def test_write_report_refuses_a_directory(image_run, tmp_path):
    from spikeforge.viz import write_report

    with pytest.raises(FileExistsError, match=r"out: .* is a directory"):
        write_report(image_run, None, out=tmp_path)
    with pytest.raises(FileNotFoundError, match=r"run_dir: .* not found"):
        write_report(tmp_path, None)


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not installed (apt-get install chromium)")
def test_report_renders_every_image_in_headless_chromium(image_run, tmp_path):
    out = tmp_path / "page.html"
    assert main(["report", str(image_run), "--out", str(out), "--samples", "1"]) == 0
    n_images = len(Page(out.read_text()).images)
    argv = [
        shutil.which("chromium"),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--virtual-time-budget=10000",  # let the page's load handler run before the DOM is dumped
        "--dump-dom",
        out.as_uri(),
    ]
    dom = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=True).stdout
    found = re.search(r'id="images-loaded"[^>]*data-loaded="(\d+)"[^>]*data-total="(\d+)"', dom)
    assert found, dom[-2000:]
    assert (int(found[1]), int(found[2])) == (n_images, n_images) and n_images == 5
