"""Save and load a whole run: networks, optimizers, config, counters, phase, RNG states and
metric history. Written atomically (core/atomic.py); a bad file gets a clear error and overwrites nothing."""
from __future__ import annotations

import os
import pickle

import torch

from .atomic import atomic_write
from .config import Config, ConfigError
from .data import BUILTIN_DATASETS, points_dataset

FORMAT = "ganviz-checkpoint"
VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message names the file and the problem."""


def save_checkpoint(trainer, path, state: dict | None = None, fsync: bool = True) -> None:
    """Write the trainer's whole run (or `state`, a state_dict of it) to `path`, all or
    nothing; raises atomic.WriteError naming the file and the cause (a full disk, ...)."""
    state = {"format": FORMAT, "version": VERSION, **(trainer.state_dict() if state is None else state)}
    with atomic_write(path, "wb", fsync=fsync) as f:
        torch.save(state, f)


def read_checkpoint(path) -> dict:
    """The raw state dict, checked for format; raises CheckpointError."""
    name = os.fspath(path)
    if not os.path.exists(name):
        raise CheckpointError(f"{name}: no such file")
    if os.path.isdir(name):
        raise CheckpointError(f"{name}: is a folder, not a checkpoint file")
    try:
        state = torch.load(name, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - arbitrary bytes make torch.load raise nearly
        # anything (KeyError, IndexError, UnicodeDecodeError, ... from the unpickler)
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        if not isinstance(e, (RuntimeError, pickle.UnpicklingError)) or not first:
            first = f"{type(e).__name__}: {first}" if first else type(e).__name__
        raise CheckpointError(f"{name}: truncated or corrupt checkpoint ({first[:160]})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{name}: not a ganviz checkpoint")
    if state.get("version") != VERSION:
        raise CheckpointError(f"{name}: checkpoint version {state.get('version')} is not supported "
                              f"(this ganviz reads version {VERSION})")
    return state


def load_checkpoint(path, device=None, dataset=None):
    """A Trainer that continues exactly where the saved run stood."""
    from .trainer import Trainer, dataset_for, resolve_device  # local: trainer is heavier

    state = read_checkpoint(path)
    try:
        config = Config.from_dict(state["config"])
    except (ConfigError, TypeError, KeyError) as e:
        raise CheckpointError(f"{path}: checkpoint config is invalid ({e})") from None
    # Asked for before the model is built, so these errors keep their own words (ValueError,
    # DataError) instead of reading as a mismatch between checkpoint and model.
    device = resolve_device(device or config.device)
    if dataset is None:
        # Built-in data is regenerated from the config (same seed, same points) so it keeps
        # its mode centres for the scores; other points (drawn, csv) come from the checkpoint.
        if state.get("points") is not None and config.dataset not in BUILTIN_DATASETS:
            dataset = points_dataset(state["points"].numpy(), name=config.dataset)
        else:
            dataset = dataset_for(config)
    try:
        trainer = Trainer(config, dataset=dataset, device=device)
        trainer.load_state_dict(state)
    except (KeyError, RuntimeError, ValueError) as e:
        first = str(e).strip().splitlines()[0]
        raise CheckpointError(f"{path}: checkpoint does not match its model or data ({first[:200]})") from None
    return trainer
