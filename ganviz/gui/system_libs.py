"""The system libraries Qt's X11 platform plugin needs, checked before Qt starts.

Without one of them, Qt aborts the process with "Could not load the Qt platform plugin xcb"
(or "xcb-cursor0 or libxcb-cursor0 is needed"). A fresh Linux desktop often lacks a few, so
the window names the missing Debian/Ubuntu packages and the apt command instead. No Qt (and
nothing outside the standard library) is imported here: main.py runs this before the
environment with PySide6 even exists.
"""
from __future__ import annotations

import ctypes
import os
import sys

# Every system library PySide6 6.11's platforms/libqxcb.so and lib/libQt6XcbQpa.so.6 link
# (`objdump -p … | grep NEEDED`, Qt's own libraries and the C/C++ runtime left out), with
# QtGui's (libEGL, fontconfig, freetype, D-Bus), and the Debian/Ubuntu package of each.
XCB_LIBRARIES = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-util.so.1": "libxcb-util1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb.so.1": "libxcb1",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libX11.so.6": "libx11-6",
    "libGL.so.1": "libgl1",
    "libEGL.so.1": "libegl1",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libdbus-1.so.3": "libdbus-1-3",
    "libglib-2.0.so.0": "libglib2.0-0",   # Ubuntu 24.04 installs libglib2.0-0t64 for this name
}


def uses_xcb(env=None, platform: str | None = None) -> bool:
    """Whether Qt will open the window through X11 (xcb): Linux with an X display, unless
    QT_QPA_PLATFORM names another platform (offscreen, wayland) or a Wayland session makes
    Qt pick Wayland first."""
    env = os.environ if env is None else env
    if not (platform or sys.platform).startswith("linux"):
        return False
    chosen = env.get("QT_QPA_PLATFORM", "")
    if chosen:
        return chosen.split(";")[0].split(":")[0] == "xcb"
    if env.get("XDG_SESSION_TYPE") == "wayland" and env.get("WAYLAND_DISPLAY"):
        return False
    return bool(env.get("DISPLAY"))


def loadable(soname: str) -> bool:
    """dlopen finds the library where Qt's loader would."""
    try:
        ctypes.CDLL(soname)
    except OSError:
        return False
    return True


def missing_libraries(load=None) -> list[str]:
    load = load or loadable
    return [name for name in XCB_LIBRARIES if not load(name)]


def missing_message(missing: list[str]) -> str:
    """One line: what is missing, and the command that installs it."""
    packages = " ".join(dict.fromkeys(XCB_LIBRARIES[name] for name in missing))
    return (f"ganviz: error: the window needs system libraries that are not installed "
            f"({', '.join(missing)}); on Debian or Ubuntu: sudo apt install {packages} "
            "(the commands train, sample and eval work without them)")


def check_window_libraries(env=None, load=None) -> str | None:
    """None when the window can start as far as system libraries go, else the message."""
    if not uses_xcb(env):
        return None
    missing = missing_libraries(load)
    return missing_message(missing) if missing else None
