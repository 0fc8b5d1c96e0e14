"""What a user relies on from ganviz.core.data: the built-in sets are the published ones,
their own files load, and a bad file says which file and what is wrong."""
import gzip
import struct

import numpy as np
import pytest
import torch
from PIL import Image

from ganviz.core.data import (BUILTIN_DATASETS, DataError, load_dataset, points_dataset)


def write_idx(path, images, magic=0x00000803, compress=False):
    """Write uint8 images (N, H, W) in MNIST's IDX format."""
    n, h, w = images.shape
    raw = struct.pack(">IIII", magic, n, h, w) + images.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(raw) if compress else raw)
    return path


# ---- built-in data ------------------------------------------------------------------------

def test_ring_has_eight_distinct_modes_and_samples_lie_near_them():
    ring = load_dataset("ring", n_points=2000)
    angles = np.round(np.degrees(np.arctan2(ring.modes[:, 1], ring.modes[:, 0])) % 360, 6)
    assert sorted(angles) == [0, 45, 90, 135, 180, 225, 270, 315]  # no repeated end point
    assert np.allclose(np.linalg.norm(ring.modes, axis=1), 1.0)
    assert ring.sigma == 0.01 and ring.kind == "points" and ring.sample_shape == (2,)
    points = ring.data.numpy()
    nearest = np.linalg.norm(points[:, None] - ring.modes[None], axis=2).min(axis=1)
    assert nearest.max() < 6 * ring.sigma
    assert ring.data.dtype == torch.float32 and len(ring) == 2000


def test_ring_options_and_seed_determinism():
    a = load_dataset("ring", n_points=100, ring_modes=5, ring_radius=2.0, seed=3)
    b = load_dataset("ring", n_points=100, ring_modes=5, ring_radius=2.0, seed=3)
    c = load_dataset("ring", n_points=100, ring_modes=5, ring_radius=2.0, seed=4)
    assert a.modes.shape == (5, 2) and np.allclose(np.linalg.norm(a.modes, axis=1), 2.0)
    assert torch.equal(a.data, b.data) and not torch.equal(a.data, c.data)


def test_grid_has_25_modes_on_the_published_lattice():
    grid = load_dataset("grid", n_points=1000)
    assert grid.modes.shape == (25, 2) and grid.sigma == 0.05
    assert set(map(tuple, grid.modes)) == {(x, y) for x in (-4, -2, 0, 2, 4) for y in (-4, -2, 0, 2, 4)}


@pytest.mark.parametrize("name", ["spiral", "moons", "circle"])
def test_shapes_without_modes_stay_in_view(name):
    data = load_dataset(name, n_points=1000)
    assert data.data.shape == (1000, 2) and data.modes is None and data.sigma is None
    assert data.data.abs().max() < 2.5


def test_digits_are_8x8_grey_in_range_with_labels():
    digits = load_dataset("digits")
    assert digits.data.shape == (1797, 1, 8, 8) and digits.is_image
    assert digits.channels == 1 and digits.image_size == 8
    assert digits.data.min() == -1 and digits.data.max() == 1
    assert set(digits.labels) == set(range(10)) and len(digits.labels) == len(digits)


def test_unknown_name_lists_valid_choices():
    with pytest.raises(DataError) as error:
        load_dataset("mnist")
    assert all(name in str(error.value) for name in BUILTIN_DATASETS + ("csv", "folder"))


def test_drawn_points_are_validated():
    assert len(points_dataset([[0, 0], [1, 1], [2, 0]])) == 3
    for bad, problem in [([[0, 0]], "at least 2"), ([1, 2, 3], "(N, 2)"),
                         ([[0, 0], [np.nan, 1]], "non-finite")]:
        with pytest.raises(DataError, match=problem):
            points_dataset(bad, name="drawn")


# ---- csv ----------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["x,y\n1,2\n3,4\n-5.5,6e1\n", "1 2\n3 4\n\n-5.5 6e1\n"])
def test_csv_loads_with_or_without_header(tmp_path, text):
    path = tmp_path / "pts.csv"
    path.write_text(text)
    data = load_dataset(f"csv:{path}")
    assert data.kind == "points" and data.name == f"csv:{path}"
    assert data.data.tolist() == [[1, 2], [3, 4], [-5.5, 60]]


@pytest.mark.parametrize("text, problem", [
    ("", "empty"),
    ("x,y\n", "no data rows"),
    ("x,y\n1,2\n3,4,5\n", "line 3 has 3 columns"),
    ("1,2\n3,abc\n", "line 2: value 'abc' is not a number"),
    ("1,2\n", "need at least 2"),
    ("1,2\n3,inf\n", "non-finite"),
])
def test_bad_csv_names_file_and_problem(tmp_path, text, problem):
    path = tmp_path / "pts.csv"
    path.write_text(text)
    with pytest.raises(DataError) as error:
        load_dataset(f"csv:{path}")
    assert "pts.csv" in str(error.value) and problem in str(error.value)


@pytest.mark.parametrize("kind", ["csv", "idx", "npy", "folder"])
def test_missing_path_names_the_file(tmp_path, kind):
    with pytest.raises(DataError, match=r"nowhere\.dat: no such"):
        load_dataset(f"{kind}:{tmp_path / 'nowhere.dat'}")


# ---- idx ----------------------------------------------------------------------------------

@pytest.mark.parametrize("compress, filename", [(False, "imgs-idx3-ubyte"), (True, "imgs.idx")])
def test_idx_round_trip_raw_and_gzip(tmp_path, compress, filename):
    images = np.random.default_rng(0).integers(0, 256, (5, 8, 8), dtype=np.uint8)
    images[0, 0, 0], images[0, 0, 1] = 0, 255
    path = write_idx(tmp_path / filename, images, compress=compress)  # gzip without .gz name
    data = load_dataset(f"idx:{path}")
    assert data.data.shape == (5, 1, 8, 8) and data.data.min() == -1 and data.data.max() == 1
    assert np.allclose((data.data.numpy()[:, 0] + 1) * 127.5, images, atol=1e-4)


def test_idx_resizes_28_to_32_when_asked(tmp_path):
    path = write_idx(tmp_path / "m.idx.gz", np.zeros((3, 28, 28)), compress=True)
    assert load_dataset(f"idx:{path}").image_size == 28
    assert load_dataset(f"idx:{path}", image_size=32).data.shape == (3, 1, 32, 32)


def test_idx_wrong_magic(tmp_path):
    path = tmp_path / "digits.idx"
    path.write_bytes(struct.pack(">IIII", 0x1234ABCD, 1, 8, 8) + bytes(64))
    with pytest.raises(DataError, match=r"digits\.idx: not an IDX images file \(magic 0x1234abcd"):
        load_dataset(f"idx:{path}")


def test_idx_labels_file_asks_for_images(tmp_path):
    path = tmp_path / "train-labels.idx"
    path.write_bytes(struct.pack(">II", 0x00000801, 3) + bytes(3))
    with pytest.raises(DataError, match=r"train-labels\.idx: this is an IDX labels file.*images file"):
        load_dataset(f"idx:{path}")


def test_idx_truncated_says_expected_and_actual_bytes(tmp_path):
    path = tmp_path / "short.idx"
    path.write_bytes(struct.pack(">IIII", 0x803, 10, 8, 8) + bytes(100))
    with pytest.raises(DataError, match=r"short\.idx: truncated.*say 656 bytes, file has 116"):
        load_dataset(f"idx:{path}")


def test_idx_unsupported_size_lists_supported(tmp_path):
    path = write_idx(tmp_path / "odd.idx", np.zeros((2, 20, 20)))
    with pytest.raises(DataError, match=r"odd\.idx: images are 20x20; supported sizes are 8, 16, 28"):
        load_dataset(f"idx:{path}")
    assert load_dataset(f"idx:{path}", image_size=16).image_size == 16


# ---- folder -------------------------------------------------------------------------------

def test_folder_skips_a_corrupt_image_and_crops_to_square(tmp_path):
    Image.new("RGB", (60, 40), (255, 0, 0)).save(tmp_path / "wide.png")
    (tmp_path / "sub").mkdir()
    Image.new("RGB", (30, 90), (0, 0, 255)).save(tmp_path / "sub" / "tall.JPG")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    (tmp_path / "notes.txt").write_text("ignored: not an image")
    grey = load_dataset(f"folder:{tmp_path}", image_size=16)
    assert grey.data.shape == (2, 1, 16, 16) and grey.skipped == 1
    colour = load_dataset(f"folder:{tmp_path}", grey=False)  # default size 32
    assert colour.data.shape == (2, 3, 32, 32) and colour.channels == 3
    assert colour.data.min() >= -1 and colour.data.max() <= 1


def test_folder_errors(tmp_path):
    with pytest.raises(DataError, match="no image files"):
        load_dataset(f"folder:{tmp_path}")
    (tmp_path / "bad.png").write_bytes(b"garbage")
    with pytest.raises(DataError, match="all 1 image files are unreadable"):
        load_dataset(f"folder:{tmp_path}")
    with pytest.raises(DataError, match=r"bad\.png: not a folder"):
        load_dataset(f"folder:{tmp_path / 'bad.png'}")


# ---- npy ----------------------------------------------------------------------------------

@pytest.mark.parametrize("array, expected", [
    (np.array([[[0, 255]] * 2] * 2, np.uint8), [-1, 1]),            # uint8: /127.5 - 1
    (np.array([[[0.0, 1.0]] * 2] * 2), [-1, 1]),                     # [0, 1] -> [-1, 1]
    (np.array([[[-0.5, 0.5]] * 2] * 2, np.float32), [-0.5, 0.5]),    # already in [-1, 1]
    (np.array([[[10.0, 30.0]] * 2] * 2), [-1, 1]),                   # other: min-max
])
def test_npy_image_scaling(tmp_path, array, expected):
    # (2, 2, 2) grey images are too small for the models: resize to 8 to load them.
    np.save(tmp_path / "x.npy", np.repeat(np.repeat(array, 4, axis=1), 4, axis=2))
    data = load_dataset(f"npy:{tmp_path / 'x.npy'}")
    assert data.data.shape == (2, 1, 8, 8)
    assert [data.data.min().item(), data.data.max().item()] == pytest.approx(expected)


def test_npy_points_and_channel_layouts(tmp_path):
    np.save(tmp_path / "p.npy", np.array([[1.0, 2.0], [3.0, 40.0]]))
    assert load_dataset(f"npy:{tmp_path / 'p.npy'}").data.tolist() == [[1, 2], [3, 40]]  # not rescaled
    np.save(tmp_path / "hwc.npy", np.zeros((4, 16, 16, 3), np.uint8))
    assert load_dataset(f"npy:{tmp_path / 'hwc.npy'}").data.shape == (4, 3, 16, 16)
    np.save(tmp_path / "chw.npy", np.zeros((4, 1, 8, 8), np.float32))
    assert load_dataset(f"npy:{tmp_path / 'chw.npy'}").data.shape == (4, 1, 8, 8)


@pytest.mark.parametrize("array, problem", [
    (np.zeros((5, 3)), "shape (5, 3)"),
    (np.zeros((2, 8, 8, 8, 1)), "shape (2, 8, 8, 8, 1)"),
    (np.zeros((2, 5, 8, 8)), "shape (2, 5, 8, 8)"),
    (np.zeros((2, 8, 16)), "not square"),
    (np.zeros((0, 2)), "empty"),
    (np.array([[0.0, np.nan], [1, 1]]), "non-finite"),
])
def test_bad_npy_names_file_and_problem(tmp_path, array, problem):
    np.save(tmp_path / "arr.npy", array)
    with pytest.raises(DataError) as error:
        load_dataset(f"npy:{tmp_path / 'arr.npy'}")
    assert "arr.npy" in str(error.value) and problem in str(error.value)


def test_npy_not_a_numpy_file(tmp_path):
    (tmp_path / "fake.npy").write_text("hello")
    with pytest.raises(DataError, match=r"fake\.npy: not a valid \.npy file"):
        load_dataset(f"npy:{tmp_path / 'fake.npy'}")
