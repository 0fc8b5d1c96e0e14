"""The run's recent state on disk, so the window can reopen it if the training process dies
(killed, out of memory, a crash in a native library): the in-memory snapshot dies with it.

One folder per window (created and removed by the window). Two parts, so that keeping the
state costs little however long the run's history grows:
- state.pt: networks, optimizers, counters, RNG states (a checkpoint without its history),
  written atomically without fsync (it must survive the process, not the machine), naming
  the history file and how many of its rows belong to the state;
- history-N.f64: the history's rows as raw float64, only appended to. state.pt is the commit
  point: rows beyond its count (a write cut short) are ignored. A new run (reset, open, go
  back) starts a new file N+1, and the old one is removed once state.pt names the new one.
"""
from __future__ import annotations

import os

import numpy as np
import torch

from .atomic import WriteError
from .checkpoint import CheckpointError, read_checkpoint, save_checkpoint
from .config import Config, ConfigError
from .data import BUILTIN_DATASETS, points_dataset
from .history import COLUMNS

STATE = "state.pt"


class RecoveryStore:
    def __init__(self, folder: str):
        self.folder = folder
        self.generation = 0
        self.rows_on_disk = 0
        self.history_file = None

    def begin_run(self):
        """The trainer was swapped (reset, open, go back): its history starts a new file."""
        self.generation += 1
        self.rows_on_disk = 0
        self.history_file = f"history-{self.generation}.f64"

    def write(self, trainer, state: dict | None = None, rows: int | None = None):
        """Keep `state` (default: the trainer's now) and the first `rows` rows of its history.
        Raises WriteError (a full disk, a removed folder)."""
        if self.history_file is None:
            self.begin_run()
        rows = len(trainer.history) if rows is None else rows
        path = os.path.join(self.folder, self.history_file)
        try:
            with open(path, "r+b" if self.rows_on_disk else "wb") as f:
                f.truncate(self.rows_on_disk * len(COLUMNS) * 8)   # drop a tail cut short
                f.seek(0, os.SEEK_END)
                f.write(trainer.history.rows(self.rows_on_disk, rows).astype("<f8").tobytes())
        except OSError as e:
            raise WriteError(path, e) from None
        self.rows_on_disk = rows
        state = dict(trainer.state_dict(history=False) if state is None else state)
        state.update(history=None, recovery={"history_file": self.history_file, "rows": rows})
        save_checkpoint(trainer, os.path.join(self.folder, STATE), state=state, fsync=False)
        for name in os.listdir(self.folder):   # earlier runs' histories, now superseded
            if name.startswith("history-") and name != self.history_file:
                try:
                    os.unlink(os.path.join(self.folder, name))
                except OSError:
                    pass


def load_recovered(folder: str):
    """The Trainer kept in `folder`; raises CheckpointError saying why it cannot be used."""
    from .trainer import Trainer, dataset_for  # local: trainer is heavier

    path = os.path.join(folder, STATE)
    state = read_checkpoint(path)
    note = state.get("recovery") or {}
    try:
        config = Config.from_dict(state["config"])
        rows = int(note["rows"])
        history = np.fromfile(os.path.join(folder, note["history_file"]), dtype="<f8",
                              count=rows * len(COLUMNS))
    except (ConfigError, KeyError, TypeError, ValueError, OSError) as e:
        raise CheckpointError(f"{path}: recovery state is incomplete ({e})") from None
    if len(history) != rows * len(COLUMNS):
        raise CheckpointError(f"{path}: its history file holds fewer than {rows} rows")
    state["history"] = torch.from_numpy(history.reshape(rows, len(COLUMNS)).copy())
    if state.get("points") is not None and config.dataset not in BUILTIN_DATASETS:
        dataset = points_dataset(state["points"].numpy(), name=config.dataset)
    else:
        dataset = dataset_for(config)
    try:
        trainer = Trainer(config, dataset=dataset)
        trainer.load_state_dict(state)
    except (KeyError, RuntimeError, ValueError) as e:
        raise CheckpointError(f"{path}: recovery state does not match its model ({e})") from None
    return trainer
