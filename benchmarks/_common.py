"""Shared by the benchmark scripts: machine description, preset lookup, small table helpers."""
from __future__ import annotations

import datetime
import os
import platform
import statistics
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import torch  # noqa: E402

from ganviz.core.config import Config  # noqa: E402


def machine_info(device: torch.device | str | None = None) -> dict:
    """What a reader needs to compare numbers across machines."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    info = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "host": platform.node(),
        "platform": platform.platform(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "device": str(device) if device is not None else "cpu",
    }
    if device is not None and torch.device(device).type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(torch.device(device))
    return info


def print_machine(info: dict) -> None:
    gpu = f", GPU {info['gpu']}" if "gpu" in info else ""
    print(f"machine: {info['cpu']} ({info['cpu_count']} CPUs, {info['cpus_usable']} usable); "
          f"python {info['python']}, torch {info['torch']}, torch threads {info['torch_threads']}, "
          f"device {info['device']}{gpu}; {info['date']}")


def resolve_device(name: str) -> torch.device:
    from ganviz.core.trainer import resolve_device as resolve
    return resolve(name)


# ---------------------------------------------------------------- presets (guarded)
def presets() -> dict:
    """ganviz.core.presets.PRESETS, or {} while that module does not exist."""
    try:
        from ganviz.core.presets import PRESETS
    except ImportError:
        return {}
    return dict(PRESETS)


def preset_changes(preset) -> dict:
    """A preset's Config changes, whatever the attribute is called (changes / config_changes)."""
    for name in ("changes", "config_changes"):
        value = getattr(preset, name, None)
        if isinstance(value, dict):
            return dict(value)
    return {}


def preset_config(name: str, base: Config | None = None) -> Config | None:
    """base with the named preset applied, or None (with a note) if there is no such preset."""
    base = base or Config()
    table = presets()
    if name not in table:
        known = ", ".join(sorted(table)) or "none: ganviz/core/presets.py not found"
        print(f"note: preset {name!r} not found (known: {known})")
        return None
    try:
        from ganviz.core.presets import apply_preset
        return apply_preset(base, name)
    except ImportError:
        return base.replace(**preset_changes(table[name]))


def digits_preset_name() -> str | None:
    """The preset for the digits data set, if one exists: it sets dataset="digits" or is named so."""
    for name, p in presets().items():
        if preset_changes(p).get("dataset") == "digits":
            return name
    return next((n for n in presets() if "digit" in n.lower()), None)


def digits_config() -> tuple[str, Config]:
    """(label, config) for the digits benchmarks: the digits preset, else a plain fallback."""
    name = digits_preset_name()
    if name is not None:
        config = preset_config(name, Config(dataset="digits"))
        if config is not None:
            return f"preset {name!r}", config.replace(dataset="digits")
    return "Config(dataset='digits', batch_size=64)", Config(dataset="digits", batch_size=64)


def changed_fields(config: Config, base: Config | None = None) -> str:
    """The settings that differ from the defaults, e.g. "lr_d=0.0001, batch_size=512"."""
    base_d, d = (base or Config()).to_dict(), config.to_dict()
    return ", ".join(f"{k}={v}" for k, v in d.items() if base_d[k] != v) or "defaults"


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def mean_std(xs) -> tuple[float, float]:
    if not xs:
        return float("nan"), float("nan")
    return statistics.fmean(xs), (statistics.stdev(xs) if len(xs) > 1 else 0.0)


# ---------------------------------------------------------------- a folder of images, made here
def make_image_folder(folder, n: int = 2048, size: int = 64, seed: int = 0) -> str:
    """n PNGs of coloured ellipses and boxes on a shaded background, written into `folder`
    (kept if already there): a stand-in for a user's image folder, since nothing may be
    downloaded. Returns the path."""
    import numpy as np
    from PIL import Image, ImageDraw
    os.makedirs(folder, exist_ok=True)
    if len([f for f in os.listdir(folder) if f.endswith(".png")]) >= n:
        return folder
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, 1, size)[None, :, None]
    for i in range(n):
        a, b = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
        background = (a * (1 - ramp) + b * ramp).repeat(size, 0).astype(np.uint8)
        image = Image.fromarray(background)
        draw = ImageDraw.Draw(image)
        for _ in range(rng.integers(1, 4)):
            x0, y0 = rng.integers(0, size * 3 // 4, 2)
            w, h = rng.integers(size // 6, size // 2, 2)
            shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
            shape((x0, y0, x0 + w, y0 + h), fill=tuple(int(c) for c in rng.integers(0, 256, 3)))
        image.save(os.path.join(folder, f"{i:05d}.png"))
    return folder


def folder64_config(folder) -> tuple[str, Config]:
    """(label, config) for the 64x64 image-folder preset on make_image_folder's images."""
    make_image_folder(folder)
    config = preset_config("Image folder 64 (DCGAN)", Config(dataset=f"folder:{folder}"))
    return "preset 'Image folder 64 (DCGAN)' on 2048 generated 64x64 PNGs", config
