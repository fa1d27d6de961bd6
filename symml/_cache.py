"""On-disk caches that repair themselves: where they live, atomic writes and verified reads.

Every file symml generates once and reuses (rotated MNIST arrays, N-body trajectories, the
compiled contraction kernel) goes through this module, so a damaged cache file is handled the same
way everywhere: one `RuntimeWarning` naming the file and why it is unusable, the file deleted, the
content made again and written back. A sweep that runs for hours never fails on a truncated file
left by a crash, a full disk or a killed process, and never needs the user to find it by hand.

Writes are atomic: the content goes to a temporary file in the same folder (named
``.<name>.<random>.tmp``, so no cache lookup ever matches it), is flushed to disk and only then
renamed over the final name, so concurrent processes and interrupted writes never leave a partial
file under the final name. Temporary files orphaned by a killed process are removed by a later
write of the same file once they are `STALE_TEMP_S` old.

Layering: this module imports no other symml package (tests/test_architecture.py), so every layer,
from `symml.nn` to `symml.data`, can use it.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import tempfile
import time
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import torch

__all__ = [
    "CACHE_ENV",
    "STALE_TEMP_S",
    "CorruptCacheError",
    "atomic_write",
    "cache_dir",
    "cached_torch",
    "load_or_make",
    "load_torch",
    "read",
    "save_torch",
    "store",
]

T = TypeVar("T")

CACHE_ENV = "SYMML_CACHE_DIR"
# A temporary file this old is an orphan of a killed process: no write here takes an hour between
# creating its temporary file and renaming it (the slowest, a kernel build, times out at 5 min).
STALE_TEMP_S = 3600.0
_REASON_CHARS = 160  # a warning stays one readable line
_ZIP_MAGIC = b"PK\x03\x04"


class CorruptCacheError(ValueError):
    """A cache file's content is not what the cache should hold (raised by loaders and checks)."""


# What loaders raise on a damaged file. Measured on torch.load over truncated, bit-flipped and
# random files: EOFError (empty), OSError and RuntimeError (truncated zip), UnpicklingError
# (not a torch file), UnicodeDecodeError (a ValueError), IndexError and KeyError; ctypes raises
# OSError. Anything else (MemoryError, KeyboardInterrupt, a bug) propagates.
_CORRUPT: tuple[type[BaseException], ...] = (
    EOFError,
    OSError,
    RuntimeError,
    ValueError,
    LookupError,
    pickle.UnpicklingError,
    zipfile.BadZipFile,
)


def cache_dir() -> Path:
    """Writable directory for generated files: ``$SYMML_CACHE_DIR`` or ``~/.cache/symml/cache``,
    created if missing.

    Raises:
        OSError: the directory cannot be created, naming it and the variable that moves it.
    """
    env = os.environ.get(CACHE_ENV)
    path = Path(env).expanduser() if env else Path.home() / ".cache" / "symml" / "cache"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OSError(
            f"{path}: cannot create symml's cache folder ({err.strerror or err}); set "
            f"{CACHE_ENV} to a writable folder"
        ) from err
    return path


def _reason(error: BaseException) -> str:
    """``Type: first sentence of the message``, on one line and at most ~160 characters (no type
    for `CorruptCacheError`, whose message is already the reason)."""
    text = " ".join(str(error).split())
    first = text.split(". ", 1)[0]
    if len(first) > _REASON_CHARS:
        first = first[: _REASON_CHARS - 1] + "…"
    if isinstance(error, CorruptCacheError) and first:
        return first
    return f"{type(error).__name__}: {first}" if first else type(error).__name__


def _identity(path: Path) -> tuple[int, int, int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def read(path: Path, load: Callable[[Path], T]) -> T | None:
    """``load(path)``, or None when there is no usable file there.

    A missing file gives None. A damaged one (``load`` raises `CorruptCacheError` or one of the
    errors a loader raises on bad bytes: EOFError, OSError, RuntimeError, ValueError, LookupError,
    pickle or zip errors) is deleted, then reported with one `RuntimeWarning`
    ``"<path>: corrupt cache file (<reason>); deleted, regenerating it"``, and None is returned so
    the caller makes the content again.

    Args:
        path: the cache file.
        load: reads and validates the file; raises `CorruptCacheError` when the content is wrong.

    Raises:
        OSError: the damaged file could not be deleted (read-only cache folder), naming it.
    """
    for _ in range(3):
        before = _identity(path)
        if before is None:
            return None
        try:
            return load(path)
        except FileNotFoundError:  # deleted by a concurrent process since the stat
            return None
        except _CORRUPT as error:
            # Another process may have replaced the file with a good one since we read it:
            # read the new file rather than delete it.
            if _identity(path) != before:
                continue
            reason = _reason(error)
            try:
                path.unlink(missing_ok=True)
            except OSError as err:
                raise OSError(
                    f"{path}: corrupt cache file ({reason}) that cannot be deleted "
                    f"({err.strerror or err}); delete it by hand"
                ) from error
            warnings.warn(
                f"{path}: corrupt cache file ({reason}); deleted, regenerating it",
                RuntimeWarning,
                stacklevel=2,
            )
            return None
    return None  # replaced under us three times: make it here rather than keep chasing


def _remove_stale_temps(path: Path) -> None:
    cutoff = time.time() - STALE_TEMP_S
    for tmp in path.parent.glob(f".{path.name}.*.tmp"):
        # gone already, or not ours to remove: harmless either way
        with contextlib.suppress(OSError):
            if tmp.stat().st_mtime < cutoff:
                tmp.unlink()


def _fsync(path: Path, flags: int = os.O_RDONLY) -> None:
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, write: Callable[[Path], T]) -> T:
    """Create ``path`` atomically: ``write(tmp)`` fills a fresh temporary file in the same folder,
    which is flushed to disk and renamed over ``path``.

    Until the rename, ``path`` is absent or holds its previous content; if ``write`` raises (or the
    process dies) nothing appears under ``path`` and the temporary file is removed (or, after a
    kill, by a later write once `STALE_TEMP_S` old). Concurrent writers each rename a complete
    file; the last one wins.

    Args:
        path: the final file name; its folder is created if needed.
        write: writes the content to the path it is given (which exists, empty) and returns
            whatever the caller wants back (e.g. the value just saved).

    Returns:
        What ``write`` returned.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(path)
    handle, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    tmp = Path(tmp_name)
    try:
        value = write(tmp)
        _fsync(tmp)  # the bytes are on disk before the name points at them (no empty file after
        os.replace(tmp, path)  # a power cut)
    finally:
        tmp.unlink(missing_ok=True)
    # and the rename itself is durable; some filesystems cannot fsync a folder (still atomic)
    with contextlib.suppress(OSError):
        _fsync(path.parent)
    return value


def store(path: Path, write: Callable[[Path], object]) -> bool:
    """`atomic_write`, but a failure to write only warns: the caller keeps the value it made.

    For caches of content that took long to make (a full disk must not throw away an hour of
    generation). Errors raised by ``write`` that are not OSError or RuntimeError (bugs) propagate.

    Returns:
        Whether the file was written.
    """
    try:
        atomic_write(path, write)
    except (OSError, RuntimeError) as error:  # torch.save reports a full disk as RuntimeError
        warnings.warn(
            f"{path}: could not write the cache file ({_reason(error)}); continuing without "
            f"it. Free disk space or make {path.parent} writable, or set {CACHE_ENV} to move "
            "the cache",
            RuntimeWarning,
            stacklevel=2,
        )
        return False
    return True


def load_or_make(path: Path, load: Callable[[Path], T], write: Callable[[Path], T]) -> T:
    """The cached value at ``path`` (`read`), or, when absent or damaged, ``write``'s value
    (`atomic_write`): ``write(tmp)`` makes the content, writes it to ``tmp`` and returns it.

    Errors from ``write`` propagate (nothing is left under ``path``). A damaged file gives one
    `RuntimeWarning` naming it, and is replaced by a good one.
    """
    value = read(path, load)
    if value is None:
        value = atomic_write(path, write)
    return value


def load_torch(path: Path, check: Callable[[Any], None] | None = None) -> Any:
    """``torch.load(path)`` (tensors and plain containers only, onto the CPU), then ``check`` on
    the result, which raises `CorruptCacheError` when the content is not what it should be."""
    with open(path, "rb") as handle:
        head = handle.read(4)
    # torch.save writes zip archives; anything else would reach torch's legacy pickle reader,
    # which fails with a page of advice and extra warnings about the wrong problem
    if head != _ZIP_MAGIC:
        raise CorruptCacheError("empty file" if not head else "not a torch file (no zip header)")
    value = torch.load(path, map_location="cpu", weights_only=True)
    if check is not None:
        check(value)
    return value


def save_torch(value: object, path: Path) -> None:
    """``torch.save(value, path)``, for `atomic_write`'s temporary file."""
    torch.save(value, path)


def cached_torch(
    path: Path, make: Callable[[], T], check: Callable[[Any], None] | None = None
) -> T:
    """The torch-saved value at ``path``, or ``make()``, saved there for next time.

    A file that does not load or fails ``check`` (which raises `CorruptCacheError`) is reported
    with one `RuntimeWarning` naming it, deleted, and replaced by ``make()``'s value. A failure to
    write only warns (`store`): the value made is returned regardless.

    Args:
        path: the cache file.
        make: computes the value (called only when the cache has no usable file).
        check: validates a loaded value; raise `CorruptCacheError` with what is wrong.
    """
    found = read(path, lambda p: load_torch(p, check))
    if found is not None:
        return found
    value = make()
    store(path, lambda tmp: save_torch(value, tmp))
    return value
