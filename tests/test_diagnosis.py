"""Named states (collapse, D overpowering G, near equilibrium) hold exactly when their numbers
say so, and quote those numbers."""
import numpy as np
import pytest

from ganviz.core.config import Config
from ganviz.core.diagnosis import diagnose
from ganviz.core.evaluate import evaluate
from ganviz.core.history import COLUMNS
from ganviz.core.objectives import get_objective
from ganviz.core.presets import apply_preset
from ganviz.core.trainer import Trainer

NS, MINIMAX, HINGE = (get_objective(n) for n in ("nonsaturating", "minimax", "hinge"))


def rows(n, d_real, d_fake, acc_real, acc_fake, g_norm=0.05, start=0):
    """n iterations of D then G updates, every update's probe measured."""
    out = []
    for i in range(start, start + n):
        for phase in (0, 1):
            r = np.full(len(COLUMNS), np.nan)
            r[COLUMNS.index("iteration")] = i + 1
            r[COLUMNS.index("phase")] = phase
            for name, v in (("d_real_after", d_real), ("d_fake_after", d_fake),
                            ("acc_real", acc_real), ("acc_fake", acc_fake)):
                r[COLUMNS.index(name)] = v
            r[COLUMNS.index("grad_norm")] = g_norm if phase else 0.3
            out.append(r)
    return np.array(out)


def keys(states):
    return [s.key for s in states]


def test_nothing_is_named_before_any_measurement():
    assert diagnose(np.empty((0, len(COLUMNS))), np.empty((0, len(COLUMNS))), None, NS) == []


def test_near_equilibrium_quotes_the_averages_it_tested():
    r = rows(300, 0.51, 0.49, 0.52, 0.50)
    [state] = diagnose(r, r, None, NS)
    assert state.key == "equilibrium" and state.severity == "good"
    assert "D(x) 0.51 and D(G(z)) 0.49, accuracy 51 %" in state.what
    assert "more D updates per G" in state.advice


def test_an_untrained_discriminator_near_half_is_not_called_equilibrium():
    r = rows(20, 0.50, 0.50, 0.5, 0.5)
    assert diagnose(r, r, None, NS) == []


@pytest.mark.parametrize("d_real, d_fake, acc", [(0.65, 0.49, 0.5), (0.51, 0.38, 0.5), (0.5, 0.5, 0.65)])
def test_outside_the_band_is_not_equilibrium(d_real, d_fake, acc):
    r = rows(300, d_real, d_fake, acc, acc)
    assert "equilibrium" not in keys(diagnose(r, r, None, NS))


def test_d_overpowering_g_and_the_minimax_gradient_that_vanishes():
    early = rows(50, 0.6, 0.4, 0.7, 0.7, g_norm=0.5)
    late = rows(50, 0.97, 0.02, 1.0, 0.99, g_norm=0.004, start=1000)
    [state] = diagnose(late, early, None, MINIMAX)
    assert state.key == "d_overpowers"
    assert "scores real data 0.97 and G's samples 0.02" in state.what
    assert "gradient vanishes" in state.what and "0.8 % of its early value" in state.what
    assert "non-saturating loss" in state.advice
    # the non-saturating loss keeps G's gradient: the same scores name no vanishing gradient
    [state] = diagnose(late, early, None, NS)
    assert state.key == "d_overpowers" and "vanishes" not in state.what
    # nor is a gradient that did not fall called vanishing
    steady = rows(50, 0.97, 0.02, 1.0, 0.99, g_norm=0.5, start=1000)
    [state] = diagnose(steady, early, None, MINIMAX)
    assert "vanishes" not in state.what


def test_critic_objectives_are_judged_by_accuracy_not_probability():
    r = rows(300, 3.0, -3.0, 0.99, 0.97)
    [state] = diagnose(r, r, None, HINGE)
    assert state.key == "d_overpowers" and "98 % of the probe batch" in state.what


SETTLED_ROWS = rows(250, 0.6, 0.3, 0.8, 0.8)   # past the first 200 iterations, not near equilibrium


def mixture(held, near, total=8, share=97.0, spread=80.0, nearest=None):
    return {"modes_covered": held, "n_modes": total, "high_quality": 1.0, "reverse_kl": 2.0,
            "modes_held": held, "near_mode": near, "held_share": share, "spread": spread,
            "modes_nearest": total if nearest is None else nearest}


@pytest.mark.parametrize("metrics, named", [
    (mixture(1, 49.0), True),
    (mixture(4, 20.0), True),
    (mixture(5, 40.0), False),             # more than half the modes held
    (mixture(1, 5.0), False),              # few samples near any mode: not yet a picture of collapse
    (mixture(25, 90.0, total=25), False),
])
def test_mixture_collapse_needs_crowding_on_few_modes(metrics, named):
    states = diagnose(SETTLED_ROWS, SETTLED_ROWS, metrics, NS)
    assert ("collapse" in keys(states)) == named
    if named:
        assert (f"crowd onto {metrics['modes_held']} of the {metrics['n_modes']} modes: "
                f"{metrics['near_mode']:.0f} % of them lie close to a mode, and 97 % of those") in states[0].what


@pytest.mark.parametrize("name", ["ring", "grid"])
def test_samples_as_good_as_real_data_are_not_called_collapse(name):
    """Real points of the mixture itself: every mode held and nothing named. On the grid an
    even share is 4 % of the samples, so a fixed 5 % bar once counted 0 modes held there and
    named a collapse for a perfect run."""
    from ganviz.core.data import load_dataset
    from ganviz.core.metrics import mode_quality
    data = load_dataset(name, seed=3)
    metrics = mode_quality(data.data.numpy()[:2500], data.modes, data.sigma)
    assert metrics["modes_held"] == metrics["modes_nearest"] == len(data.modes)
    assert "collapse" not in keys(diagnose(SETTLED_ROWS, SETTLED_ROWS, metrics, NS))


def test_a_small_blob_between_modes_is_named_by_its_spread():
    blob = mixture(0, 0.2, spread=14.0, nearest=1)
    [state] = diagnose(SETTLED_ROWS, SETTLED_ROWS, blob, NS)
    assert ("crowd into one small region: their spread is 14 % of the data's, and they are nearest "
            "to only 1 of the 8 modes") in state.what
    # a small spread that still reaches most modes is no collapse
    assert diagnose(SETTLED_ROWS, SETTLED_ROWS, mixture(8, 30.0, spread=30.0, nearest=6), NS) == []


def test_collapse_is_not_also_called_equilibrium():
    """A collapsed G fools D on its modes: D's scores near 0.5 then mean collapse, not success."""
    balanced = rows(300, 0.51, 0.49, 0.5, 0.5)
    assert keys(diagnose(balanced, balanced, None, NS)) == ["equilibrium"]
    states = diagnose(balanced, balanced, mixture(0, 0.2, spread=14.0, nearest=1), NS)
    assert keys(states) == ["collapse"]
    assert "stricter count, modes with a sample within 3 σ, is 0 of 8" in states[0].what


def test_an_untrained_blob_is_not_called_collapse():
    young = rows(50, 0.6, 0.3, 0.8, 0.8)
    assert diagnose(young, young, mixture(1, 100.0), NS) == []
    # the run is past the settling point, but the quality was measured before it: not yet
    older = rows(300, 0.6, 0.3, 0.8, 0.8)
    assert "collapse" not in keys(diagnose(older, older, mixture(1, 100.0), NS, metrics_iteration=139))
    assert "collapse" in keys(diagnose(older, older, mixture(1, 100.0), NS, metrics_iteration=300))


def test_digit_collapse_counts_the_classes_that_hold_the_samples():
    hist = np.zeros(10)
    hist[[1, 7]] = [0.7, 0.27]
    hist[3] = 0.03
    [state] = diagnose(SETTLED_ROWS, SETTLED_ROWS, {"histogram": hist}, NS)
    assert "97 % of G's samples in 2 of 10 classes" in state.what
    spread = np.full(10, 0.1)
    assert diagnose(SETTLED_ROWS, SETTLED_ROWS, {"histogram": spread}, NS) == []


@pytest.mark.slow(seconds=13)
def test_the_vanilla_preset_collapse_is_named_on_a_real_run():
    """The Vanilla GAN preset on the ring, headless: by 500 iterations it sits on a mode or
    two, and the diagnosis says how many of the 8 are left."""
    trainer = Trainer(apply_preset(Config(dataset="ring", seed=0, device="cpu"), "Vanilla GAN"))
    trainer.train(500)
    metrics = evaluate(trainer)
    rows_ = trainer.history.array()
    states = diagnose(rows_[-4000:], rows_[:4000], metrics, NS)
    assert metrics["modes_nearest"] <= 2 and metrics["spread"] < 40
    collapse = next(s for s in states if s.key == "collapse")
    assert f"nearest to only {metrics['modes_nearest']} of the 8 modes" in collapse.what
    # the default settings on the same data, a little longer: all 8 modes held, no collapse named
    trainer = Trainer(Config(dataset="ring", seed=0, device="cpu"))
    trainer.train(800)
    metrics = evaluate(trainer)
    rows_ = trainer.history.array()
    assert metrics["modes_held"] == 8 and metrics["spread"] > 80
    assert "collapse" not in keys(diagnose(rows_[-4000:], rows_[:4000], metrics, NS))


def test_image_collapse_is_named_from_coverage_beside_real_data():
    """Believable samples (precision high) that reach few real neighbourhoods: collapse;
    low coverage from samples that do not look real yet (early blobs) is not called so."""
    real = {"coverage": 0.96}
    balanced = rows(300, 0.51, 0.49, 0.5, 0.5)
    few = {"precision": 0.9, "coverage": 0.15, "real": real}
    states = diagnose(balanced, balanced, few, NS)
    assert keys(states) == ["collapse"] and "reach only 15 % of the real images' neighbourhoods" in states[0].what
    assert "96 %" in states[0].what
    assert "collapse" not in keys(diagnose(balanced, balanced, {"precision": 0.1, "coverage": 0.05, "real": real}, NS))
    assert "collapse" not in keys(diagnose(balanced, balanced, {"precision": 0.9, "coverage": 0.8, "real": real}, NS))
