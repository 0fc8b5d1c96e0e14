"""Every file ganviz writes goes through here: a reader sees the old version or the new one,
never half of either, and a failure names the file and the cause.

How: write to a temp file in the same folder, flush, fsync, then os.replace it over the
target. On any failure the temp file is deleted and the target is untouched. The writes go
through os.write on the temp file's descriptor (buffered here), never through a library's own
C writer: torch, numpy and Pillow each turn a full disk into their own message ("file write
failed", "50144 written", "encoder error") and lose the cause; through os.write the cause
(ENOSPC, EROFS, ...) is kept and reported. It also makes a full disk easy to simulate in tests.
"""
from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
import threading

BUFFER = 1 << 20   # bytes gathered before each os.write

CAUSES = {
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EISDIR: "it is a folder",
    errno.EFBIG: "the file is too large for this file system",
    errno.EIO: "input/output error (a failing disk or a removed drive)",
}


class WriteError(OSError):
    """A file that could not be written; .path names it, str() is one sentence for a person:
    "Cannot write /x/checkpoint.pt: no space left on device". An OSError, so code that
    catches OSError keeps working."""

    def __init__(self, path, cause):
        self.path = os.fspath(path)
        self.cause = cause if isinstance(cause, str) else describe(cause, self.path)
        super().__init__(getattr(cause, "errno", None), self.cause)
        self.filename = self.path

    def __str__(self):
        return f"Cannot write {self.path}: {self.cause}"


def describe(error: OSError, path: str) -> str:
    """The cause of a failed write in a few plain words."""
    folder = os.path.dirname(os.path.abspath(path))
    code = getattr(error, "errno", None)
    if code == errno.ENOENT:
        return f"folder {folder} does not exist"
    if code == errno.ENOTDIR:
        parent = folder
        while parent and not os.path.exists(parent):
            parent = os.path.dirname(parent)
        return f"{parent} is a file, not a folder"
    if code in CAUSES:
        return CAUSES[code]
    text = (getattr(error, "strerror", None) or str(error) or type(error).__name__).strip()
    return text[:1].lower() + text[1:]


class _Target:
    """The temp file as a minimal binary or text file object (write, flush, tell): writes are
    gathered and handed to os.write, and the first OSError is kept for the report (a library
    may wrap it in its own exception)."""

    def __init__(self, fd: int, text: bool, encoding: str):
        self.fd, self.text, self.encoding = fd, text, encoding
        self.buffer = bytearray()
        self.position = 0
        self.error: OSError | None = None

    def write(self, data):
        if self.text:
            data = data.encode(self.encoding)
        self.buffer += data
        if len(self.buffer) >= BUFFER:
            self.flush()
        return len(data)

    def flush(self):
        view = memoryview(self.buffer)
        done = 0
        try:
            while done < len(view):
                done += os.write(self.fd, view[done:])
        except OSError as e:
            self.error = self.error or e
            raise
        finally:
            view.release()
            del self.buffer[:done]
            self.position += done

    def tell(self):
        return self.position + len(self.buffer)

    def writable(self):
        return True

    def seekable(self):
        return False


_umask_lock = threading.Lock()


def umask() -> int:
    """The process's umask, read without changing it where Linux tells (another thread may be
    creating files this instant)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    with _umask_lock:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_write(path, mode: str = "wb", encoding: str = "utf-8", newline=None, fsync: bool = True):
    """Yield a file object for `path`'s new content; on success it replaces `path` in one step.
    mode "wb" (bytes) or "w" (text, written as is: no newline translation). A new file gets
    the umask's permissions, an overwritten one keeps its mode. Raises WriteError naming the
    file and the cause; the previous file is then byte-identical and no temp file is left.
    fsync=False skips the flush to disk (for files that only need to survive the process,
    not the machine)."""
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_write: mode must be 'wb' or 'w', not {mode!r}")
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    except OSError as e:
        raise WriteError(path, e) from None
    target = _Target(fd, text=mode == "w", encoding=encoding)
    try:
        try:
            yield target
            target.flush()
            if fsync:
                os.fsync(fd)
            os.fchmod(fd, _mode_for(path))
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, WriteError):
            raise
        if isinstance(e, OSError):
            raise WriteError(path, target.error or e) from None
        if target.error is not None:   # torch, numpy or Pillow wrapped our OSError in its own
            raise WriteError(path, target.error) from None
        raise
    if fsync:
        _fsync_folder(folder)


def write_bytes(path, data: bytes, fsync: bool = True) -> None:
    """All of `data` in `path`, or nothing changed (WriteError)."""
    with atomic_write(path, "wb", fsync=fsync) as f:
        f.write(data)


def check_folder(path) -> None:
    """Raise WriteError now if `path`'s folder is missing or not writable: for commands that
    would otherwise compute for a while before finding out."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        ancestor = folder
        while not os.path.exists(ancestor):
            ancestor = os.path.dirname(ancestor)
        raise WriteError(path, OSError(errno.ENOENT if os.path.isdir(ancestor) else errno.ENOTDIR, ""))
    if not os.access(folder, os.W_OK):
        try:
            read_only = bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
        except OSError:
            read_only = False
        raise WriteError(path, CAUSES[errno.EROFS] if read_only else f"folder {folder} is not writable")


def _mode_for(path: str) -> int:
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return 0o666 & ~umask()


def _fsync_folder(folder: str) -> None:
    """Make the rename itself durable; not every file system allows it, and the file is
    complete either way."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
