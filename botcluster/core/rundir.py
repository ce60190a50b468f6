"""The bot's private runtime directory, and files opened inside it without following links.

`$XDG_RUNTIME_DIR/botcluster` when the session has one, else `<tmp>/botcluster-<uid>`. Either
way it is created 0700 by a single `mkdir` (which fails if anything, a symlink included, already
has the name) and then checked through a descriptor opened with O_NOFOLLOW: a directory that is
a symlink, belongs to another user or is open to group or others is refused with `UnsafePath`,
never repaired, because whoever planted it may still hold files or links inside it.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from botcluster.errors import UnsafePath

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK


def runtime_dir() -> Path:
    """Where locks and other runtime files go (not created here: see `private_dir`)."""
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg:
        return Path(xdg) / "botcluster"
    return Path(tempfile.gettempdir()) / f"botcluster-{os.getuid()}"


@contextlib.contextmanager
def private_dir(path: Path) -> Iterator[int]:
    """A descriptor of `path`, a directory only we can use; created 0700 if missing."""
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass  # checked below, through a descriptor that cannot be swapped under us
    except OSError as exc:
        raise UnsafePath(f"cannot create {path}: {exc.strerror or exc}") from None
    try:
        fd = os.open(path, _DIR_FLAGS)
    except OSError as exc:
        raise UnsafePath(_why_not_a_dir(path, exc)) from None
    try:
        check_private(path, os.fstat(fd))
        yield fd
    finally:
        os.close(fd)


def check_private(path: Path, st: os.stat_result) -> None:
    if st.st_uid != os.geteuid():
        raise UnsafePath(f"{path} is owned by uid {st.st_uid}, not by this user "
                         f"(uid {os.geteuid()}); remove it or point XDG_RUNTIME_DIR elsewhere")
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077:
        raise UnsafePath(f"{path} has mode {oct(mode)}: other users could plant files in it; "
                         f"remove it (the bot creates it 0700) or chmod 700 it")


def _why_not_a_dir(path: Path, exc: OSError) -> str:
    if path.is_symlink():
        return f"{path} is a symlink; refusing to follow it (remove it: the bot creates it)"
    return f"{path} is not a usable directory: {exc.strerror or exc}"


def open_own_file(path: Path, dir_fd: int | None = None) -> int:
    """Open (creating 0600) a regular file that is ours alone, without following a symlink.

    Refused: a symlink, anything but a regular file, a file of another user, and a file with
    more than one link (a hard link planted to a file we can write). Nothing is truncated here.
    """
    name = path.name if dir_fd is not None else str(path)
    try:
        fd = os.open(name, _FILE_FLAGS, 0o600, dir_fd=dir_fd)
    except OSError as exc:
        if os.path.islink(path):
            raise UnsafePath(f"{path} is a symlink; refusing to follow it "
                             f"(remove it: the bot creates it)") from None
        raise UnsafePath(f"cannot open {path}: {exc.strerror or exc}") from None
    st = os.fstat(fd)
    problem = ("is not a regular file" if not stat.S_ISREG(st.st_mode) else
               f"is owned by uid {st.st_uid}, not by this user" if st.st_uid != os.geteuid()
               else f"has {st.st_nlink} hard links" if st.st_nlink != 1 else "")
    if problem:
        os.close(fd)
        raise UnsafePath(f"{path} {problem}; refusing to use it as a lock (remove it)")
    os.set_blocking(fd, True)
    return fd
