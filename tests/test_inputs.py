"""Inputs that lie: headers declaring gigabytes, compression bombs, streams that never end,
absurd settings, images that are not plain 8-bit RGB, checkpoints from another machine and
runs whose data has moved. Each is refused (or read correctly) quickly, with a message that
names the problem, and before memory is spent on it."""
import gzip
import os
import resource
import subprocess
import sys
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cli_here import ganviz
from ganviz.core import inputs, readers
from ganviz.core.checkpoint import load_checkpoint, save_checkpoint
from ganviz.core.config import Config, ConfigError
from ganviz.core.data import DataError, load_dataset
from ganviz.core.trainer import Trainer

ROOT = Path(__file__).resolve().parents[1]
TINY = Config(dataset="ring", batch_size=32, hidden=16, noise_dim=4, probe_size=8, decay_steps=0)


def ganviz_process(*argv, cwd, timeout=60):
    """`python -m ganviz ...` in a fresh process, for inputs that could hang a reader (pipes,
    devices): a hang fails the test instead of blocking the suite."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    env.pop("GANVIZ_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "ganviz", *map(str, argv)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def assert_one_line_error(result, *words):
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ganviz: error: "), result.stderr
    for word in words:
        assert word in lines[0], lines[0]


class Spent:
    """Peak traced allocation (numpy and Python) and RSS growth of a block. (No seconds: how
    long a refusal takes is the shared machine's business; what it reads and builds is ours.)"""

    def __enter__(self):
        self.rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        tracemalloc.start()
        return self

    def __exit__(self, *exc):
        self.peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        self.rss_growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - self.rss0
        return False


# ---- declared sizes ---------------------------------------------------------------------

def write_npy_header(path, shape, descr="<f8", payload=b"\0" * 64):
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(
            f, {"descr": descr, "fortran_order": False, "shape": shape})
        f.write(payload)
    return path


def test_npy_header_declaring_80_gb_is_refused_at_once_without_allocating(tmp_path):
    path = write_npy_header(tmp_path / "huge.npy", (10000, 1, 1024, 1024))  # 83.9 GB float64
    with Spent() as spent, pytest.raises(DataError) as error:
        load_dataset(f"npy:{path}")
    message = str(error.value)
    assert "huge.npy" in message and "83.9 GB" in message and "(10000, 1, 1024, 1024)" in message
    assert "loads at most" in message
    assert spent.peak < 5e6 and spent.rss_growth < 50e6


def test_npy_that_fits_but_is_truncated_says_so(tmp_path):
    path = write_npy_header(tmp_path / "short.npy", (100, 2))
    with pytest.raises(DataError, match=r"short\.npy: truncated: .* 1600 bytes of data; the file holds 64"):
        load_dataset(f"npy:{path}")


def test_npy_with_object_dtype_is_refused_from_its_header(tmp_path):
    path = write_npy_header(tmp_path / "obj.npy", (3, 2), descr="|O")
    with pytest.raises(DataError, match="dtype object is not a real number type"):
        load_dataset(f"npy:{path}")


def gzip_of_zeros(path, megabytes, head=b""):
    """A gzip whose content is `head` then `megabytes` MB of zeros (about 1000:1)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: gzip container
    chunk = bytes(1 << 20)
    parts = [packer.compress(head)] + [packer.compress(chunk) for _ in range(megabytes)]
    path.write_bytes(b"".join(parts) + packer.flush())
    return path


@pytest.fixture
def inflated(monkeypatch):
    """How many bytes the readers inflate from gzip files: a list with one running total."""
    total, inside = [0], []

    class Counting(gzip.GzipFile):
        def read(self, size=-1):
            data = super().read(size)
            total[0] += 0 if inside else len(data)  # readinto may read through read
            return data

        def readinto(self, buffer):
            inside.append(1)
            try:
                k = super().readinto(buffer)
            finally:
                inside.pop()
            total[0] += k or 0
            return k

    monkeypatch.setattr(readers.gzip, "GzipFile", Counting)
    return total


def test_idx_gzip_bomb_declaring_gigabytes_is_refused_before_inflating(tmp_path, inflated):
    head = (0x803).to_bytes(4, "big") + (200_000).to_bytes(4, "big") + (256).to_bytes(4, "big") * 2
    bomb = gzip_of_zeros(tmp_path / "bomb-idx3-ubyte.gz", 200, head)
    assert bomb.stat().st_size < 1e6
    with Spent() as spent, pytest.raises(DataError) as error:
        load_dataset(f"idx:{bomb}")
    assert "200000 images of 256x256" in str(error.value) and "GB" in str(error.value)
    assert inflated[0] == 16 and spent.peak < 5e6  # the header, nothing more


def test_gzip_bomb_without_a_header_is_refused_after_four_bytes(tmp_path, inflated):
    bomb = gzip_of_zeros(tmp_path / "zeros.gz", 200)
    with Spent() as spent, pytest.raises(DataError, match=r"not an IDX images file \(magic 0x00000000"):
        load_dataset(f"idx:{bomb}")
    assert inflated[0] == 16 and spent.peak < 5e6  # the old reader inflated all 200 MB first


def test_idx_gzip_is_inflated_only_as_far_as_its_header_declares(tmp_path, inflated):
    images = np.arange(2 * 8 * 8, dtype=np.uint8).reshape(2, 8, 8)
    head = (0x803).to_bytes(4, "big") + (2).to_bytes(4, "big") + (8).to_bytes(4, "big") * 2
    path = gzip_of_zeros(tmp_path / "trailing.gz", 100, head + images.tobytes())
    with Spent() as spent:
        data = load_dataset(f"idx:{path}")
    assert data.data.shape == (2, 1, 8, 8) and inflated[0] == 16 + 2 * 8 * 8  # not the 100 MB after
    assert torch.allclose(data.data[:, 0], torch.from_numpy(images / 127.5 - 1).float())
    assert spent.peak < 5e6


def test_the_budget_follows_the_machine(monkeypatch, tmp_path):
    monkeypatch.setattr(inputs, "available_memory", lambda: 200_000_000)  # 200 MB free
    np.save(tmp_path / "img.npy", np.zeros((10, 8, 8), np.uint8))
    assert len(load_dataset(f"npy:{tmp_path / 'img.npy'}")) == 10
    path = write_npy_header(tmp_path / "big.npy", (30_000_000, 2), descr="<f4")  # 240 MB
    with pytest.raises(DataError, match=r"half of the 200\.0 MB of memory free now"):
        load_dataset(f"npy:{path}")


# ---- streams that never end ---------------------------------------------------------------

@pytest.mark.parametrize("kind", ["csv", "npy", "idx"])
def test_dev_zero_is_refused_up_front(kind):
    with Spent() as spent, pytest.raises(DataError, match=r"/dev/zero: is a device, not a regular file"):
        load_dataset(f"{kind}:/dev/zero")
    assert spent.peak < 1e6


def test_a_fifo_is_refused_without_opening_it(tmp_path):
    fifo = tmp_path / "points.csv"
    os.mkfifo(fifo)  # opening it would wait forever for a writer
    result = ganviz_process("train", "--dataset", f"csv:{fifo}", "--steps", "1", "--out", tmp_path / "run",
                            cwd=tmp_path, timeout=60)
    assert_one_line_error(result, "points.csv: is a pipe (FIFO), not a regular file")
    assert not (tmp_path / "run").exists()


def test_dev_zero_on_the_command_line(tmp_path):
    result = ganviz_process("train", "--dataset", "npy:/dev/zero", "--steps", "1", cwd=tmp_path)
    assert_one_line_error(result, "/dev/zero: is a device")


def test_a_fifo_among_images_is_skipped_and_counted(tmp_path):
    Image.new("L", (8, 8), 0).save(tmp_path / "a.png")
    os.mkfifo(tmp_path / "b.png")
    data = load_dataset(f"folder:{tmp_path}", image_size=8)
    assert len(data) == 1 and data.skipped == 1 and "b.png: not a regular file" in data.skipped_example


def test_a_checkpoint_pointing_at_a_fifo_is_refused_before_reading(tmp_path):
    np.savetxt(tmp_path / "pts.csv", np.random.default_rng(0).normal(size=(64, 2)), delimiter=",")
    trainer = Trainer(TINY.replace(dataset=f"csv:{tmp_path / 'pts.csv'}"))
    run = tmp_path / "run"
    run.mkdir()
    save_checkpoint(trainer, run / "checkpoint.pt")
    state = torch.load(run / "checkpoint.pt", weights_only=True)
    fifo = tmp_path / "elsewhere.npy"
    os.mkfifo(fifo)
    state["config"]["dataset"], state["points"] = f"npy:{fifo}", None  # as if edited by hand
    torch.save(state, run / "checkpoint.pt")
    result = ganviz_process("train", "--resume", run, "--steps", "1", cwd=tmp_path, timeout=60)
    assert_one_line_error(result, "elsewhere.npy: is a pipe (FIFO)")


def test_a_checkpoint_that_is_a_device_is_refused():
    from ganviz.core.checkpoint import CheckpointError
    with pytest.raises(CheckpointError, match="/dev/zero: not a regular file"):
        load_checkpoint("/dev/zero")


# ---- absurd settings ----------------------------------------------------------------------

@pytest.mark.parametrize("option, value, setting", [
    ("--noise-dim", "100000000", "noise_dim must be at most 4096 (got 100000000)"),
    ("--batch-size", "10000000", "batch_size must be at most 65536 (got 10000000)"),
])
def test_absurd_sizes_on_the_command_line_name_the_setting(tmp_path, option, value, setting):
    result = ganviz("train", "--dataset", "ring", "--steps", "1", option, value, cwd=tmp_path)
    assert_one_line_error(result, setting)


@pytest.mark.parametrize("changes, setting", [
    ({"image_size": 100000}, "image_size must be 8, 16, 28, 32 or 64 (got 100000)"),
    ({"hidden": 10 ** 9}, "hidden must be at most 8192"),
    ({"depth": 10 ** 6}, "depth must be at most 64"),
    ({"channels": 10 ** 6}, "channels must be at most 1024"),
    ({"probe_size": 10 ** 7}, "probe_size must be at most 4096"),
    ({"grid_size": 10 ** 7}, "grid_size must be at most 4096"),
    ({"noise_dim": 64.5}, "noise_dim must be a whole number"),
])
def test_absurd_settings_are_refused_by_name(changes, setting):
    with pytest.raises(ConfigError, match=f"^{setting.replace('(', '[(]').replace(')', '[)]')}"):
        Config(**changes)


def test_networks_too_big_for_the_machine_are_refused_before_they_are_built(monkeypatch):
    from ganviz.core import model_memory, models
    monkeypatch.setattr(model_memory, "available_memory", lambda: 4_000_000_000)
    built, real_build = [], models._build_pair

    def build(*args, **kwargs):  # the devices of every network built, shapes-only "meta" or real
        g, d = real_build(*args, **kwargs)
        built.extend({p.device.type for p in [*g.parameters(), *d.parameters()]})
        return g, d
    monkeypatch.setattr(models, "_build_pair", build)
    with Spent() as spent, pytest.raises(ConfigError) as error:
        Trainer(TINY.replace(hidden=8192, depth=32))  # 2.1 billion weights: 42 GB to train
    assert "hidden 8192, depth 32" in str(error.value) and "lower hidden or depth" in str(error.value)
    assert built == ["meta"] and spent.peak < 20e6  # measured on shapes, never built
    with pytest.raises(ConfigError, match=r"batch_size 65536 needs about .* use a batch_size of at most \d+"):
        Trainer(Config(dataset="digits", image_size=64, channels=64, batch_size=65536))


def test_image_size_outside_the_models_is_refused_for_data():
    with pytest.raises(DataError, match="image size 100000 is not supported"):
        load_dataset("digits", image_size=100000)


# ---- large CSV in bounded pieces ----------------------------------------------------------

def test_csv_read_in_blocks_matches_a_plain_parse_and_reports_progress(tmp_path, monkeypatch):
    monkeypatch.setattr(readers, "CSV_BLOCK_BYTES", 4096)  # many blocks from a small file
    rng = np.random.default_rng(1)
    points = rng.normal(size=(5000, 2)) * 100
    path = tmp_path / "big.csv"
    np.savetxt(path, points, delimiter=",", header="x,y", comments="")
    seen = []

    class Reporter:
        def progress(self, done, total, name):
            seen.append((done, total))

        def note(self, text):
            pass

    with inputs.reporting(Reporter()):
        data = load_dataset(f"csv:{path}")
    assert data.data.dtype == torch.float32 and data.data.shape == (5000, 2)
    assert np.allclose(data.data.numpy(), points.astype(np.float32))
    assert len(seen) > 10 and seen[-1][0] == seen[-1][1] == path.stat().st_size
    assert all(a[0] < b[0] for a, b in zip(seen, seen[1:]))


@pytest.mark.parametrize("bad, problem", [
    ("1.5,abc", "line 4000: value 'abc' is not a number"),
    ("1.5,,2", "line 4000 has 3 columns"),
    ("1.5", "line 4000 has 1 columns"),
    ("1.5,nan", "line 4000 has a non-finite value"),
    ("1.5,1e300", "line 4000 has a value too large for float32"),
])
def test_a_bad_line_deep_in_a_big_csv_is_named(tmp_path, monkeypatch, bad, problem):
    monkeypatch.setattr(readers, "CSV_BLOCK_BYTES", 4096)
    lines = ["x,y"] + [f"{i}.25,{-i}.5" for i in range(1, 5000)]
    lines[3999] = bad  # line 4000 of the file
    path = tmp_path / "pts.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=problem):
        load_dataset(f"csv:{path}")


def test_csv_with_comments_blank_lines_and_mixed_separators(tmp_path, monkeypatch):
    monkeypatch.setattr(readers, "CSV_BLOCK_BYTES", 64)
    text = "\ufeff# made by hand\nx;y\n1;2\n\n3\t4\r\n5 6\n# end\n7,8"
    (tmp_path / "p.csv").write_text(text, encoding="utf-8")
    data = load_dataset(f"csv:{tmp_path / 'p.csv'}")
    assert data.data.tolist() == [[1, 2], [3, 4], [5, 6], [7, 8]]


def test_checkpoint_of_a_large_csv_keeps_the_points_once_and_no_permutation(tmp_path):
    n = 200_000
    np.savetxt(tmp_path / "pts.csv", np.random.default_rng(0).normal(size=(n, 2)), delimiter=",")
    trainer = Trainer(TINY.replace(dataset=f"csv:{tmp_path / 'pts.csv'}"))
    trainer.train(2)
    save_checkpoint(trainer, tmp_path / "run.pt")
    size = (tmp_path / "run.pt").stat().st_size
    assert n * 8 < size < n * 8 + 500_000  # the points (8 bytes each), not a 1.6 MB permutation too
    resumed = load_checkpoint(tmp_path / "run.pt")
    assert torch.equal(resumed.sampler.perm, trainer.sampler.perm)
    assert torch.equal(resumed.sampler.next(32), trainer.sampler.next(32))


# ---- images as they are -------------------------------------------------------------------

def load_one(tmp_path, image, grey, name="img.png", **save):
    folder = tmp_path / "imgs"
    folder.mkdir(exist_ok=True)
    image.save(folder / name, **save)
    data = load_dataset(f"folder:{folder}", image_size=8, grey=grey)
    assert len(data) == 1 and data.skipped == 0
    return (data.data[0].numpy() + 1) / 2 * 255  # back to 0..255 for readable expectations


def test_16_bit_png_keeps_its_values_instead_of_clipping_to_white(tmp_path):
    levels = np.array([0, 16384, 32768, 65535], np.uint16)
    image = Image.fromarray(np.repeat(levels, 16).reshape(8, 8).astype(np.uint16))
    assert image.mode == "I;16"
    values = load_one(tmp_path, image, grey=True)[0] / 255 * 65535
    assert np.allclose(values[::2, 0], levels, atol=40)  # rows of 0, 1/4, 1/2, full scale
    colour = load_one(tmp_path, image, grey=False)
    assert np.allclose(colour[0], colour[2]) and np.allclose(colour[1, 2, 0], 63.75, atol=0.5)


def test_palette_image_with_a_transparent_entry(tmp_path):
    image = Image.new("P", (8, 8), 1)
    image.putpalette([0, 0, 0, 200, 30, 10, 20, 40, 220] + [0] * 759)
    image.paste(2, (0, 0, 8, 4))  # top half blue-ish, bottom half red-ish
    image.paste(0, (0, 0, 2, 2))  # a transparent corner
    image.info["transparency"] = 0
    rgb = load_one(tmp_path, image, grey=False, transparency=0)
    assert np.allclose(rgb[:, 6, 6], [200, 30, 10], atol=0.5)
    assert np.allclose(rgb[:, 3, 6], [20, 40, 220], atol=0.5)
    assert np.allclose(rgb[:, 0, 0], [255, 255, 255], atol=0.5)  # transparent: the white background
    grey = load_one(tmp_path, image, grey=True)
    assert np.isclose(grey[0, 6, 6], 0.299 * 200 + 0.587 * 30 + 0.114 * 10, atol=1)


def test_cmyk_jpeg_is_converted_to_rgb(tmp_path):
    image = Image.new("CMYK", (8, 8), (0, 255, 255, 0))  # no cyan, full magenta and yellow: red
    rgb = load_one(tmp_path, image, grey=False, name="red.jpg", quality=100)
    assert np.allclose(rgb.mean(axis=(1, 2)), [255, 0, 0], atol=6)


@pytest.mark.parametrize("mode, transparent, half, expected_half", [
    ("RGBA", (255, 0, 0, 0), (0, 0, 255, 128), [127, 127, 255]),
    ("LA", (0, 0), (0, 128), [127]),
])
def test_transparency_is_composited_on_white(tmp_path, mode, transparent, half, expected_half):
    image = Image.new(mode, (8, 8), transparent)
    image.paste(Image.new(mode, (8, 4), half), (0, 4))
    values = load_one(tmp_path, image, grey=(mode == "LA"))
    assert np.allclose(values[:, 1, 1], 255, atol=0.5)  # fully transparent: white, not red/black
    assert np.allclose(values[:, 6, 1], expected_half, atol=1.5)  # half: halfway to white


def test_exif_orientation_is_applied(tmp_path):
    array = np.full((8, 8), 255, np.uint8)
    array[:4, :4] = 0  # a black top-left quarter as stored
    image = Image.fromarray(array)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    grey = load_one(tmp_path, image, grey=True, exif=exif)[0]
    assert grey[:4, 4:].max() < 1 and grey[:4, :4].min() > 254  # shown: black top-right quarter


def test_skipped_images_are_reported_on_the_command_line(tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(3):
        Image.new("RGB", (8, 8), (i * 60, 0, 0)).save(folder / f"ok{i}.png")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    result = ganviz("train", "--dataset", f"folder:{folder}", "--steps", "1", "--batch-size", "4",
                    "--noise-dim", "4", "--out", tmp_path / "run", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "skipped 1 of 4 image files that could not be read (e.g. broken.png:" in result.stderr


def test_an_image_over_the_pixel_limit_is_skipped_by_its_header(tmp_path, monkeypatch):
    from ganviz.core import images
    monkeypatch.setattr(images, "MAX_IMAGE_PIXELS", 1000)
    Image.new("L", (8, 8), 0).save(tmp_path / "small.png")
    Image.new("L", (100, 100), 0).save(tmp_path / "big.png")
    data = load_dataset(f"folder:{tmp_path}", image_size=8)
    assert len(data) == 1 and data.skipped == 1
    assert "big.png: 100x100 pixels, over ganviz's limit" in data.skipped_example


# ---- checkpoints that travel --------------------------------------------------------------

def save_as_if_on_cuda(trainer, path):
    """A checkpoint as a CUDA machine writes it: config device "cuda", every tensor stored
    with location "cuda:0", and G's noise generator in CUDA's 16-byte Philox state."""
    from torch import serialization
    state = {"format": "ganviz-checkpoint", "version": 1, **trainer.state_dict()}
    state["config"]["device"] = "cuda"
    state["noise_gen"] = torch.tensor([7, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0], dtype=torch.uint8)
    entry = (-1, lambda storage: "cuda:0", lambda storage, location: None)
    serialization._package_registry.insert(0, entry)
    try:
        torch.save(state, path)
    finally:
        serialization._package_registry.remove(entry)
    with pytest.raises(RuntimeError, match="CUDA"):  # really marked as CUDA tensors
        torch.load(path, weights_only=True)


@pytest.fixture
def cuda_checkpoint(tmp_path):
    trainer = Trainer(TINY)
    trainer.train(3)
    path = tmp_path / "cuda.pt"
    save_as_if_on_cuda(trainer, path)
    return path, trainer


def test_a_cuda_checkpoint_opens_on_the_cpu_with_a_note(cuda_checkpoint):
    path, original = cuda_checkpoint
    trainer = load_checkpoint(path)
    assert trainer.device.type == "cpu" and trainer.config.device == "auto"
    assert trainer.load_note == ("saved on cuda, opened on cpu (no CUDA here); "
                                 "the noise for the next batches is drawn afresh")
    assert trainer.iteration == 3
    assert all(torch.equal(a, b) for a, b in zip(trainer.generator.state_dict().values(),
                                                 original.generator.state_dict().values()))
    trainer.train(2)  # and it trains on
    assert trainer.iteration == 5


def test_a_checkpoint_whose_config_says_cuda_opens_on_the_cpu(tmp_path):
    trainer = Trainer(TINY)
    save_checkpoint(trainer, tmp_path / "c.pt")
    state = torch.load(tmp_path / "c.pt", weights_only=True)
    state["config"]["device"] = "cuda"
    torch.save(state, tmp_path / "c.pt")
    loaded = load_checkpoint(tmp_path / "c.pt")
    assert loaded.device.type == "cpu"
    assert loaded.load_note == "saved on cuda, opened on cpu (no CUDA here)"
    assert load_checkpoint(tmp_path / "c.pt", device="cpu").load_note == \
        "saved on cuda, opened on cpu (as asked)"


def test_the_cli_opens_a_cuda_checkpoint_without_device_and_says_so(cuda_checkpoint, tmp_path):
    path, _ = cuda_checkpoint
    result = ganviz("sample", "--checkpoint", path, "--n", "10", "--out", tmp_path / "s.npy", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == f"ganviz: {path}: saved on cuda, opened on cpu (no CUDA here)"
    assert np.load(tmp_path / "s.npy").shape == (10, 2)
    result = ganviz("eval", "--checkpoint", path, cwd=tmp_path)
    assert result.returncode == 0 and "modes" in result.stdout and "opened on cpu" in result.stderr


def test_the_window_opens_a_cuda_checkpoint_and_shows_the_note(window, qtbot, cuda_checkpoint):
    path, _ = cuda_checkpoint
    window.open_checkpoint(str(path))
    qtbot.waitUntil(lambda: window.statusBar().currentMessage().startswith(
        "Saved on cuda, opened on cpu (no CUDA here)"), timeout=20000)
    assert window.run_info.device == "cpu"
    qtbot.waitUntil(lambda: window.status["iteration"].text() == "iteration 3", timeout=10000)
    assert window.errorDialog is None or not window.errorDialog.isVisible()
    window.grab().save("/tmp/input-cuda-checkpoint.png")


# ---- sample and eval after the data moved ------------------------------------------------

def test_sample_and_eval_after_the_csv_is_deleted(tmp_path):
    csv = tmp_path / "pts.csv"
    np.savetxt(csv, np.random.default_rng(0).normal(size=(300, 2)), delimiter=",")
    run = tmp_path / "run"
    assert ganviz("train", "--dataset", f"csv:{csv}", "--steps", "3", "--batch-size", "32",
                  "--noise-dim", "4", "--out", run, cwd=tmp_path).returncode == 0
    csv.unlink()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()  # another working directory too
    result = ganviz("sample", "--checkpoint", run / "checkpoint.pt", "--n", "50", "--out", "s.npy",
                    cwd=elsewhere)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert np.load(elsewhere / "s.npy").shape == (50, 2)
    result = ganviz("eval", "--checkpoint", run / "checkpoint.pt", cwd=elsewhere)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (f"iteration 3: no quality score for csv:{csv} "
                                     "(ganviz scores ring, grid and digits)")


def test_sample_and_eval_after_the_image_folder_moved(tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(6):
        Image.new("RGB", (12, 10), (40 * i, 100, 255 - 40 * i)).save(folder / f"{i}.png")
    run = tmp_path / "run"
    trained = ganviz("train", "--dataset", f"folder:{folder}", "--steps", "2", "--batch-size", "4",
                     "--noise-dim", "4", "--out", run, cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr
    folder.rename(tmp_path / "moved")
    result = ganviz("sample", "--checkpoint", run / "checkpoint.pt", "--n", "5", "--out",
                    tmp_path / "s.npy", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    samples = np.load(tmp_path / "s.npy")
    assert samples.shape == (5, 1, 32, 32) and np.abs(samples).max() <= 1
    result = ganviz("eval", "--checkpoint", run / "checkpoint.pt", "--json", cwd=tmp_path)
    assert result.returncode == 0 and '"iteration": 2' in result.stdout


def test_the_saved_generator_draws_the_same_samples_as_the_trainer(tmp_path):
    from ganviz.core.evaluate import evaluate
    from ganviz.core.saved_generator import open_generator
    for config in (TINY.replace(g_ema=0.9), Config(dataset="digits", batch_size=16, channels=8,
                                                   noise_dim=8, probe_size=8)):
        trainer = Trainer(config)
        trainer.train(2)
        save_checkpoint(trainer, tmp_path / "run.pt")
        alone = open_generator(tmp_path / "run.pt")
        assert np.array_equal(alone.generate(300), trainer.generate(300))
        assert alone.iteration == 2 and alone.dataset.name == config.dataset
        assert evaluate(alone).keys() == evaluate(trainer).keys()


def test_the_window_shows_the_progress_of_reading_a_csv(window, qtbot, tmp_path, monkeypatch):
    from ganviz.gui import main_window
    monkeypatch.setattr(main_window, "LOAD_PROGRESS_BYTES", 0)  # every file counts as big here
    path = tmp_path / "pts.csv"
    np.savetxt(path, np.random.default_rng(0).normal(size=(2000, 2)), delimiter=",")
    progress, messages = [], []
    window.worker.loadProgress.connect(progress.append)
    window.statusBar().messageChanged.connect(messages.append)
    window.controls.set_config(window.config.replace(dataset=f"csv:{path}"))
    window.reset()
    qtbot.waitUntil(lambda: window.run_info.dataset_name == f"csv:{path}", timeout=20000)
    size = path.stat().st_size
    assert progress and progress[-1] == (size, size, str(path))
    assert "Reading pts.csv: 100 % (0 of 0 MB)" in messages


def test_the_window_counts_skipped_images_in_the_status_bar(window, qtbot, tmp_path):
    for i in range(3):
        Image.new("RGB", (8, 8), (i * 60, 0, 0)).save(tmp_path / f"ok{i}.png")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    messages = []
    window.statusBar().messageChanged.connect(messages.append)
    window.controls.set_config(window.config.replace(dataset=f"folder:{tmp_path}", image_size=8,
                                                     channels=8, batch_size=4))
    window.reset()
    qtbot.waitUntil(lambda: window.run_info.dataset_name == f"folder:{tmp_path}", timeout=20000)
    assert f"New run: {tmp_path}, 3 images, 1 unreadable image skipped" in messages
    window.grab().save("/tmp/input-skipped-images.png")
