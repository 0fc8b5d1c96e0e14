"""Checks made before a byte of user input is read: is it a file that ends, and will what it
declares fit? A file's header can claim any size and a device or pipe never ends, so sizes are
checked against a budget before memory is spent on them (compressed data is inflated only
as far as its header declares: see readers.read_idx)."""
from __future__ import annotations

import contextlib
import contextvars
import os
import stat
from pathlib import Path

# No dataset ganviz trains on needs more: 8 GiB of float32 is 2 billion values (e.g. 500 000
# colour images of 64x64), far past what these models learn from in a session.
MAX_DATA_BYTES = 8_000_000_000
# Of the memory the machine has free, data may take this share: loading holds the file's own
# values and their float32 copy for a moment, and training needs room beside them.
MEMORY_SHARE = 0.5


class DataError(ValueError):
    """Bad user data. The message names the file and the problem, e.g.
    "digits.idx: not an IDX file (magic 0x1234abcd, expected 0x0803 or 0x0801)"."""


def available_memory() -> int:
    """Bytes the machine can give without swapping (MemAvailable), or its total memory where
    /proc/meminfo is missing (macOS)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return MAX_DATA_BYTES


def data_budget() -> tuple[int, str]:
    """(bytes, why): the most memory one dataset may take."""
    free = int(available_memory() * MEMORY_SHARE)
    if free < MAX_DATA_BYTES:
        return free, f"half of the {human_bytes(2 * free)} of memory free now"
    return MAX_DATA_BYTES, "ganviz's limit for one dataset"


def check_size(name, what: str, nbytes: int, loading: int | None = None) -> None:
    """Refuse input that declares `nbytes` of data (`what`, e.g. "header declares shape (N, 2)
    of float64") when it, or the `loading` bytes held while it is converted to float32,
    passes the budget. Called before anything is allocated."""
    budget, why = data_budget()
    need = max(nbytes, loading or 0)
    if need > budget:
        extra = f" ({human_bytes(loading)} in memory while loading)" if loading and loading > nbytes else ""
        raise DataError(f"{name}: {what}: {human_bytes(nbytes)} of data{extra}; ganviz loads at "
                        f"most {human_bytes(budget)} ({why})")


def human_bytes(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def check_regular_file(path: Path) -> int:
    """The file's size in bytes, after checking it is a regular file: a device (/dev/zero),
    a FIFO or a socket never ends, and opening a FIFO waits forever for a writer, so they are
    refused from their stat alone, before any open."""
    st = _stat(path, "file")
    if stat.S_ISDIR(st.st_mode):
        raise DataError(f"{path}: is a folder, not a file (use folder:PATH for a folder of images)")
    if not stat.S_ISREG(st.st_mode):
        raise DataError(f"{path}: is {_file_kind(st.st_mode)}, not a regular file; ganviz reads "
                        "only files and folders of files (a stream like this may never end)")
    return st.st_size


def _stat(path: Path, what: str) -> os.stat_result:
    try:
        return os.stat(path)
    except FileNotFoundError:
        raise DataError(f"{path}: no such {what}") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror or e})") from None


def check_folder(path: Path) -> None:
    st = _stat(path, "folder")
    if not stat.S_ISDIR(st.st_mode):
        raise DataError(f"{path}: not a folder (use csv:, idx: or npy: for a single file)")


def _file_kind(mode: int) -> str:
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISFIFO(mode):
        return "a pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a plain file"


# A callback for long loads: progress(done_bytes, total_bytes) and note(text) for what a person
# should hear about (skipped files). The CLI sets one that writes to stderr; the window its own.
_reporter: contextvars.ContextVar = contextvars.ContextVar("ganviz_data_reporter", default=None)


@contextlib.contextmanager
def reporting(reporter):
    """While active, loads report to `reporter` (an object with progress(done, total, name)
    and note(text) methods)."""
    token = _reporter.set(reporter)
    try:
        yield reporter
    finally:
        _reporter.reset(token)


def report_progress(done: int, total: int, name: str) -> None:
    reporter = _reporter.get()
    if reporter is not None:
        reporter.progress(done, total, name)


def report_note(text: str) -> None:
    reporter = _reporter.get()
    if reporter is not None:
        reporter.note(text)
