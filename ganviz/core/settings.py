"""Settings declared once: each Config field carries its own metadata (words for the screen,
valid range or choices, live or needs-Reset, help, panel widget), and the validation, the
`ganviz train` options, the control panel and the live/Reset split are all read from it.

Adding a setting is one line in config.py; nothing else lists the settings."""
from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass
from typing import Callable

WIDGETS = ("spin", "double", "choice")   # QSpinBox, QDoubleSpinBox, QComboBox


@dataclass(frozen=True)
class Setting:
    """What a person and the program need to know about one Config field."""
    label: str                      # on-screen words, lower case: "learning rate D"
    help: str                       # one phrase, lower case: CLI help and the panel's tooltip
    live: bool = False              # the trainer can change it between two updates
    choices: tuple | None = None    # the only values allowed
    range: str | None = None        # interval such as "(0, inf)" or "[0, 1)"
    why: str = ""                   # said after a range problem ("[0, 1): 0 for off, ...")
    most: float | None = None       # sanity limit: refused by name before anything is allocated
    whole: bool | None = None       # must be an integer (None: when the field is typed int)
    check: Callable | None = None   # value -> problem text after the name, or None
    cli: bool = True                # `ganviz train` has an option for it
    flag: str | None = None         # the option's name without "--" (default: name with dashes)
    metavar: str | None = None
    default_text: str | None = None  # how help shows the default (default: the value itself)
    widget: str | None = None       # shown on the panel with this kind of widget
    row: int = 0                    # the panel's order
    span: tuple | None = None       # the widget's range where it is not the valid range
    decimals: int = 3               # double widgets
    step: float = 1
    # filled in from the dataclass field by settings_of()
    name: str = ""
    default: object = None

    @property
    def option(self) -> str:
        return "--" + (self.flag or self.name.replace("_", "-"))

    def cli_help(self) -> str:
        shown = self.default_text if self.default_text is not None else _shown(self.default)
        return f"{self.help} (default {shown})"

    def tooltip(self) -> str:
        """The help as a sentence, saying when a change applies."""
        text = self.help if self.help[1:2] in (":", " ") else self.help[0].upper() + self.help[1:]
        return f"{text} ({'live' if self.live else 'on Reset'})."

    def widget_span(self) -> tuple:
        """The panel widget's (lowest, highest) value: the valid range, closed at the
        widget's precision, unless declared otherwise."""
        if self.span is not None:
            return self.span
        lo, lo_open, hi, hi_open = _interval(self.range or "(-inf, inf)")
        unit = 1 if self.widget == "spin" else 10 ** -self.decimals
        lo, hi = lo + unit * lo_open, hi - unit * hi_open
        hi = min(hi, self.most) if self.most is not None else hi   # the limit is allowed
        if self.widget == "spin":
            lo, hi = max(lo, -2**31), min(hi, 2**31 - 1)   # what a QSpinBox holds
            return int(lo), int(hi)
        return round(lo, self.decimals), round(hi, self.decimals)

    def problems(self, value):
        """Why `value` cannot be this setting, one sentence each, starting with the name."""
        name = self.name
        if self.choices is not None and value not in self.choices:
            yield f"{name} must be one of {', '.join(map(str, self.choices))} (got {value!r})"
        if self.range is not None and not _within(value, self.range):
            yield f"{name} {_range_words(self.range)}{self.why} (got {value!r})"
        if self.whole and (isinstance(value, bool) or not isinstance(value, numbers.Integral)):
            yield f"{name} must be a whole number (got {value!r})"
        if self.most is not None and _is_number(value) and value > self.most:
            yield f"{name} must be at most {_shown(self.most)} (got {value})"
        problem = self.check(value) if self.check else None
        if problem:
            yield f"{name} {problem}"


def setting(default, label: str, **meta):
    """A Config field with its metadata, e.g.
    lr_d: float = setting(1e-3, "learning rate D", help="...", range="(0, inf)", live=True)"""
    return dataclasses.field(default=default, metadata={"setting": Setting(label, **meta)})


def settings_of(cls) -> dict[str, Setting]:
    """name -> Setting for every field of a dataclass declared with setting(), in field order."""
    out = {}
    for f in dataclasses.fields(cls):
        meta = f.metadata.get("setting")
        if meta is None:
            raise TypeError(f"{cls.__name__}.{f.name} is not declared with setting()")
        whole = f.type in ("int", int) if meta.whole is None else meta.whole
        out[f.name] = dataclasses.replace(meta, name=f.name, default=f.default, whole=whole)
    return out


def problems_of(obj, settings: dict[str, Setting]):
    for name, s in settings.items():
        yield from s.problems(getattr(obj, name))


# ----------------------------------------------------------------------------- helpers
def _is_number(v) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def _interval(text: str) -> tuple[float, bool, float, bool]:
    """"[0, 1)" -> (0.0, False, 1.0, True): lowest, lowest excluded, highest, highest excluded."""
    lo, hi = (float(part) for part in text[1:-1].split(","))
    return lo, text[0] == "(", hi, text[-1] == ")"


def _within(v, text: str) -> bool:
    if not _is_number(v) or math.isnan(v):
        return False
    lo, lo_open, hi, hi_open = _interval(text)
    return (v > lo if lo_open else v >= lo) and (v < hi if hi_open else v <= hi)


def _range_words(text: str) -> str:
    if text == "(0, inf)":
        return "must be a positive number"
    if text == "[0, inf)":
        return "must not be negative"
    return f"must be in {text}"


def _shown(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)
