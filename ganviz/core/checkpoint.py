"""Save and load a whole run: networks, optimizers, config, counters, phase, RNG states and
metric history. Written atomically; a bad file gets a clear error and overwrites nothing."""
from __future__ import annotations

import os
import pickle
import zipfile

import torch

from .atomic import atomic_write
from .config import Config, ConfigError
from .data import points_dataset

FORMAT = "ganviz-checkpoint"
VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message names the file and the problem."""


def save_checkpoint(trainer, path) -> None:
    state = {"format": FORMAT, "version": VERSION, **trainer.state_dict()}
    try:
        with atomic_write(path, "wb") as f:
            torch.save(state, f)
    except OSError as e:
        raise CheckpointError(f"{path}: cannot write checkpoint ({e.strerror or e})") from None


def read_checkpoint(path) -> dict:
    """The raw state dict, checked for format; raises CheckpointError."""
    name = os.fspath(path)
    if not os.path.exists(name):
        raise CheckpointError(f"{name}: no such file")
    if os.path.isdir(name):
        raise CheckpointError(f"{name}: is a folder, not a checkpoint file")
    try:
        state = torch.load(name, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile, OSError, ValueError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"{name}: truncated or corrupt checkpoint ({first[:160]})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{name}: not a ganviz checkpoint")
    if state.get("version") != VERSION:
        raise CheckpointError(f"{name}: checkpoint version {state.get('version')} is not supported "
                              f"(this ganviz reads version {VERSION})")
    return state


def load_checkpoint(path, device=None, dataset=None):
    """A Trainer that continues exactly where the saved run stood."""
    from .trainer import Trainer  # local: trainer imports data, which is heavier

    state = read_checkpoint(path)
    try:
        config = Config.from_dict(state["config"])
    except (ConfigError, TypeError) as e:
        raise CheckpointError(f"{path}: checkpoint config is invalid ({e})") from None
    if dataset is None and state.get("points") is not None:
        dataset = points_dataset(state["points"].numpy(), name=config.dataset)
    try:
        trainer = Trainer(config, dataset=dataset, device=device)
        trainer.load_state_dict(state)
    except (KeyError, RuntimeError, ValueError) as e:
        first = str(e).strip().splitlines()[0]
        raise CheckpointError(f"{path}: checkpoint does not match its model or data ({first[:200]})") from None
    return trainer
