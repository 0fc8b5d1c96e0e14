"""Imported once by the test suite's fork server (conftest.py) before it forks the training
processes: a tiny run's first updates and evaluation, so that what torch and ganviz set up
lazily on first use (about 2 s of a fresh process: modules, optimizer and autograd machinery)
is done once in the server, not in each of the few hundred processes forked from it."""
import torch

from ganviz.core.config import Config
from ganviz.core.evaluate import evaluate
from ganviz.core.trainer import Trainer

torch.set_num_threads(1)
_trainer = Trainer(Config(dataset="ring", batch_size=32, hidden=16, probe_size=16))
_trainer.train(2)
evaluate(_trainer)
del _trainer
