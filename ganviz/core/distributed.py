"""Data-parallel training over torch.distributed processes (`torchrun ... ganviz train
--distributed`): NCCL between GPUs, gloo between CPU processes.

Every rank holds the whole run: the same networks, the same random generators, the same
shuffled order of the data. Of each batch the run draws (real samples, noise, the penalties'
random mixes), rank r trains on its own part, the r-th of N equal slices, as torch's
DistributedSampler deals out indices. After each backward pass the updated network's
gradients (and its running statistics, if it has BatchNorm) and the update's losses are
averaged over the ranks in one all-reduce (as StyleGAN3 does, instead of DDP, which fits one
network per update and avoids DDP's BatchNorm trap of a network called twice before backward).
Every rank then takes the same optimizer step: the networks stay identical, bit for bit, and a
run on N processes is the run one process trains with the same total batch, up to
floating-point rounding (BatchNorm aside: each rank normalises with its own part's statistics).
The other network is not touched: one network per update, as without ranks.
"""
from __future__ import annotations

import os

import torch
import torch.distributed as dist

from .config import ConfigError


class Ranks:
    """This process's place among the ranks, and the collectives training needs."""

    def __init__(self, rank: int, world: int, device: torch.device):
        self.rank, self.world, self.device = rank, world, device

    @property
    def writer(self) -> bool:
        """Rank 0 alone writes the run's folder and prints."""
        return self.rank == 0

    def part(self, batch_size: int) -> slice:
        """This rank's slice of a batch of batch_size (which the ranks split evenly)."""
        if batch_size % self.world:
            raise ConfigError(f"the batch size {batch_size} does not split evenly over {self.world} "
                              f"processes; use a multiple of {self.world}")
        size = batch_size // self.world
        return slice(self.rank * size, (self.rank + 1) * size)

    def copy_from_first(self, nets) -> None:
        """Rank 0's parameters and buffers of each network (None: skipped) on every rank."""
        for net in filter(None, nets):
            for t in list(net.parameters()) + list(net.buffers()):
                dist.broadcast(t.data, 0)

    def average(self, net: torch.nn.Module, values: list[torch.Tensor]) -> list[torch.Tensor]:
        """Average `net`'s gradients, its floating-point buffers and `values` (0-d tensors: the
        update's losses) over the ranks, in one all-reduce; returns the averaged values."""
        grads = [p.grad for p in net.parameters() if p.grad is not None]
        buffers = [b for b in net.buffers() if b.is_floating_point()]
        parts = grads + buffers + [v.detach().reshape(1) for v in values]
        flat = torch.cat([t.reshape(-1).to(torch.float32) for t in parts])
        dist.all_reduce(flat)
        flat /= self.world
        at = 0
        for t in grads + buffers:
            t.copy_(flat[at: at + t.numel()].view_as(t))
            at += t.numel()
        return [flat[at + i] for i in range(len(values))]

    def agree(self, chunk: int, stop: bool) -> tuple[int, bool]:
        """The ranks' common next chunk of iterations (the smallest asked for) and whether any
        rank was asked to stop (Ctrl+C): every rank trains the same updates, or none."""
        t = torch.tensor([-chunk, int(stop)], dtype=torch.int64, device=self.device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return int(-t[0]), bool(t[1])

    def tell(self, call) -> None:
        """Rank 0, serving windows: the trainer call every rank makes next, (name, args,
        kwargs), or None for the end. Pickled among this run's own processes only."""
        dist.broadcast_object_list([call], src=0)

    def end_together(self) -> None:
        """Rank 0 tells the end; every rank then waits for the others before the group closes
        (a rank still sending while another tears its connections down aborts the process)."""
        if self.writer:
            self.tell(None)
        dist.barrier()

    def hear(self):
        """The other ranks: the call rank 0 told (see tell)."""
        box = [None]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def close(self):
        if dist.is_initialized():
            dist.destroy_process_group()


class Lockstep:
    """Rank 0's trainer while it serves windows (`ganviz train --distributed --serve`): each
    call that changes the run (an update, a Step's stages, new settings) is told to the other
    ranks before it is made, and they make it too (follow()); everything else (samples, scores,
    snapshots) is rank 0's alone, as in `ganviz train --distributed`."""
    CALLS = ("step", "step_iteration", "update_config")

    def __init__(self, trainer, ranks: Ranks):
        object.__setattr__(self, "_trainer", trainer)
        object.__setattr__(self, "_ranks", ranks)

    def __getattr__(self, name):
        value = getattr(self._trainer, name)
        if name not in self.CALLS:
            return value

        def told(*args, **kwargs):
            if name == "update_config":   # settings refused here are refused before any rank hears them
                self._trainer.config.replace(**kwargs)
            self._ranks.tell((name, args, kwargs))
            return value(*args, **kwargs)
        return told

    def __setattr__(self, name, value):
        setattr(self._trainer, name, value)


def follow(trainer, ranks: Ranks) -> None:
    """A rank other than 0 while rank 0 serves: make every call it tells, until it says the end.
    The records are rank 0's to keep: here they are dropped as they come."""
    while (call := ranks.hear()) is not None:
        name, args, kwargs = call
        try:
            getattr(trainer, name)(*args, **kwargs)
        except (ValueError, TypeError):   # settings refused (ConfigError): refused on rank 0 too,
            pass                          # which says so to the window; the run goes on unchanged
        trainer.fetch_records()
        trainer.history.truncate(0)
    ranks.end_together()


def start(device: str | None) -> Ranks:
    """Join the process group that torchrun set up (its RANK, WORLD_SIZE, LOCAL_RANK and
    MASTER_ADDR / MASTER_PORT): NCCL with one GPU per process, else gloo on the CPU."""
    missing = [k for k in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT") if k not in os.environ]
    if missing:
        raise ConfigError("--distributed runs under torchrun, which sets " + ", ".join(missing) +
                          ": torchrun --nproc_per_node N -m ganviz train --distributed ...")
    if not dist.is_available():
        raise ConfigError("this PyTorch has no torch.distributed")
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local = int(os.environ.get("LOCAL_RANK", rank))
    want = (device or "auto").split(":")[0]
    if want == "cuda" or (want == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise ConfigError("--device cuda: no CUDA GPU here")
        if local >= torch.cuda.device_count():
            raise ConfigError(f"process {local} on this machine has no GPU of its own "
                              f"({torch.cuda.device_count()} GPUs): use --nproc_per_node "
                              f"{torch.cuda.device_count()} or fewer")
        torch.cuda.set_device(local)
        where, backend = torch.device("cuda", local), "nccl"
    elif want in ("cpu", "auto"):
        where, backend = torch.device("cpu"), "gloo"
    else:
        raise ConfigError(f"--distributed trains on cuda or cpu, not {device}")
    dist.init_process_group(backend, rank=rank, world_size=world)
    return Ranks(rank, world, where)
