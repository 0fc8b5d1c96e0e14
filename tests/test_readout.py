"""The Step explanation never contradicts the numbers printed above it (issue: "D(G(z))
0.497 → 0.497 ... so D now scores them higher")."""
import math

import pytest

from ganviz.core.history import Record
from ganviz.core.objectives import get_objective
from ganviz.gui.readout import direction, explain_step

NS = get_objective("nonsaturating")
HINGE = get_objective("hinge")


def record(phase, real=(0.5, 0.5), fake=(0.5, 0.5)):
    nan = math.nan
    return Record(update=1, iteration=1, x=0.5, phase=phase, epoch=0.0, loss_d=1.3, loss_d_real=0.6,
                  loss_d_fake=0.7, loss_g=nan, d_real_before=real[0], d_real_after=real[1],
                  d_fake_before=fake[0], d_fake_after=fake[1], acc_real=0.5, acc_fake=0.5,
                  grad_norm=0.1, lr=1e-3, duration=0.001)


@pytest.mark.parametrize("before, after, expected", [
    (0.4971, 0.4974, "same"),       # both print as 0.497
    (0.4971, 0.4971, "same"),
    (0.4994, 0.4996, "up"),         # 0.499 -> 0.500: the printed numbers differ
    (0.5004, 0.4996, "same"),       # 0.500 -> 0.500
    (0.5006, 0.4994, "down"),       # 0.501 -> 0.499
    (0.2, 0.9, "up"),
    (0.9, 0.2, "down"),
])
def test_direction_compares_the_printed_numbers(before, after, expected):
    assert direction(before, after) == expected


def readout_numbers(text):
    """(before, after) pairs as printed: 'a → b'."""
    tokens = text.replace(",", " ").split()
    return [(float(tokens[i - 1]), float(tokens[i + 1])) for i, t in enumerate(tokens) if t == "→"]


@pytest.mark.parametrize("real", [(0.50, 0.52), (0.52, 0.50), (0.5091, 0.5089)])
@pytest.mark.parametrize("fake", [(0.50, 0.48), (0.48, 0.50), (0.4921, 0.4923)])
def test_d_step_speaks_of_each_score_as_printed(real, fake):
    readout, why = explain_step(record("D", real, fake), NS)
    (rb, ra), (fb, fa) = readout_numbers(readout)
    assert (rb, ra) == (round(real[0], 3), round(real[1], 3))
    r_dir, f_dir = direction(*real), direction(*fake)
    if r_dir == f_dir == "same":
        assert "no visible change at this precision" in why
        assert "higher" not in why and "lower" not in why
        return
    assert ("scores real data higher" in why) == (r_dir == "up")
    assert ("scores real data lower" in why) == (r_dir == "down")
    assert ("D(x): no visible change" in why) == (r_dir == "same")
    assert ("scores the fakes lower" in why) == (f_dir == "down")
    assert ("scores the fakes higher" in why) == (f_dir == "up")
    assert ("D(G(z)): no visible change" in why) == (f_dir == "same")
    assert ("got better at telling real from fake" in why) == (r_dir == "up" and f_dir == "down")
    assert "generator did not change" in why


@pytest.mark.parametrize("fake, word", [((0.419, 0.433), "higher"), ((0.433, 0.419), "lower"),
                                        ((0.4971, 0.4974), "no visible change at this precision")])
def test_g_step_follows_the_printed_d_of_g_of_z(fake, word):
    readout, why = explain_step(record("G", (0.52, 0.52), fake), NS)
    assert readout_numbers(readout) == [(round(fake[0], 3), round(fake[1], 3))]
    assert word in why
    for other in {"higher", "lower", "no visible change"} - {word.split(" at")[0]}:
        assert other not in why
    assert "D did not change" in why and "stays 0.520" in readout


def test_critic_objectives_say_critic_not_probability():
    readout, why = explain_step(record("D", (0.9, 1.4), (-0.2, -0.8)), HINGE)
    assert readout.startswith("D update: critic(x) 0.900 → 1.400, critic(G(z)) -0.200 → -0.800")
    assert "critic(x) up" in why and "critic(G(z)) down" in why


def test_field_sentence_names_the_layer_that_changed():
    _, why_d = explain_step(record("D", (0.5, 0.52), (0.5, 0.48)), NS, field=True)
    _, why_g = explain_step(record("G", (0.5, 0.5), (0.48, 0.5)), NS, field=True)
    assert "heatmap (D) changed, the points (G) stayed put" in why_d
    assert "points (G) moved, the heatmap (D) stayed put" in why_g
