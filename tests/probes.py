"""Functions the tests run inside the training process (window.worker.call(fn, ...)).
Each takes the trainer first; what it returns comes back pickled (numpy, not tensors)."""
import torch

from ganviz.core.field import network_weights


def networks(trainer):
    """Copies of both networks' state and the update count."""
    return {**network_weights(trainer), "updates": trainer.updates}


def optimizer_d(trainer):
    """D's learning rate and whether its Adam state is still there."""
    return trainer.opt_d.param_groups[0]["lr"], bool(trainer.opt_d.state)


def identity(trainer):
    return id(trainer)


def poison_discriminator(trainer, value=float("nan")):
    """Fill D's weights with NaN or inf, as a diverged run would."""
    with torch.no_grad():
        for p in trainer.discriminator.parameters():
            p.fill_(value)


def break_step(trainer):
    """Make the next update raise, as a bug in the trainer would."""
    def boom(fetch=True, **kwargs):   # any signature step() has (stages= for slow motion)
        raise RuntimeError("simulated failure in the trainer")
    trainer.step = boom


def mend_step(trainer):
    del trainer.step   # back to the class's method


def points(trainer):
    return trainer.dataset.data.cpu().numpy()


def config(trainer):
    return trainer.config


def updates(trainer):
    return trainer.updates


def fail(trainer):
    raise RuntimeError("asked to fail")


def next_phase(trainer):
    return trainer.next_phase
