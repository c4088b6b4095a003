"""Paths resolved and opened beneath the workspace root in one step (like `openat2`'s RESOLVE_BENEATH).

Checking a path and then opening it by name is a race: a concurrent `run_command` can swap a directory
for a symlink to the outside in between. So no name is ever handed to the kernel to follow: the root is
opened once per call and each component is opened relative to the directory before it with
`O_NOFOLLOW` (`os.open(name, ..., dir_fd=...)`). A symlink met on the way is read and followed here, and
only while it stays inside the root (absolute targets under the root, relative ones whose `..` never
climbs above it); one that leads outside is refused whenever it appears, so a swap gets an error, never
the outside file. Atomic writes create their temp file through the target directory's descriptor and
rename it there, so nothing is ever created outside either. (Directories cannot be moved out of the
workspace from inside the sandbox: it is its own mount, and renames do not cross mounts.)
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from .results import ToolError

MAX_SYMLINKS = 40  # the kernel's limit too: a loop of links is an error, not a hang
MAX_WALK_DEPTH = 128  # directories nested deeper are not walked (each level holds a descriptor)
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_SYMLINK_ERRNOS = (errno.ELOOP, errno.EMLINK)  # what O_NOFOLLOW answers for a symlink (EMLINK: FreeBSD)


@dataclass(frozen=True)
class Found:
    """Where a path leads: the entry `name` (None: the directory itself) in the directory open as
    `dir_fd`, which is not a symlink when found (the entry may not exist); `rel` is its path from the
    root."""

    dir_fd: int
    name: str | None
    rel: str


class Root:
    """The workspace root, opened for one tool call: `with Root(path, aliases) as root: ...`.
    `aliases` are other absolute spellings of the root (the path it was given, before symlinks)."""

    def __init__(self, path: Path, aliases: tuple[str, ...] = ()):
        self._prefixes = tuple(dict.fromkeys(str(p).rstrip(os.sep) for p in (path, *aliases)))
        self.fd = os.open(path, _DIR_FLAGS)

    def __enter__(self) -> "Root":
        return self

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)

    def _inside(self, absolute: str, shown: str) -> str:
        """`absolute` relative to the root, or ToolError when it does not start with the root."""
        for prefix in self._prefixes:
            if absolute == prefix or absolute.startswith(prefix + os.sep):
                return absolute[len(prefix) :]
        raise ToolError(f"path '{shown}' is outside the workspace")

    def locate(self, path: str, *, make_dirs: bool = False) -> Found:
        """Resolve `path` (relative to the root, or absolute under it) one component at a time; the
        caller owns `dir_fd`. FileNotFoundError when a directory on the way is missing or is a file
        (created instead with `make_dirs`); ToolError when the path or a symlink leads outside."""
        if "\0" in path:
            raise ToolError(f"path {path!r} contains a NUL character")
        todo = deque((self._inside(path, path) if os.path.isabs(path) else path).split("/"))
        dirs = [(os.dup(self.fd), "")]  # (descriptor, name) from the root down to where we are
        links = 0
        try:
            while todo:
                name = todo.popleft()
                if name in ("", "."):
                    continue
                if name == "..":
                    if len(dirs) == 1:
                        raise ToolError(f"path '{path}' is outside the workspace")
                    os.close(dirs.pop()[0])
                    continue
                here = dirs[-1][0]
                target = _readlink(name, here)
                if target is not None:
                    links += 1
                    if links > MAX_SYMLINKS:
                        raise ToolError(f"path '{path}' has more than {MAX_SYMLINKS} levels of symlinks")
                    if target.startswith("/"):
                        target = self._inside(target, path)
                        while len(dirs) > 1:
                            os.close(dirs.pop()[0])
                    todo.extendleft(reversed(target.split("/")))
                    continue
                if not any(p not in ("", ".") for p in todo):  # the last component: the caller opens it
                    return Found(os.dup(here), name, _join(dirs, name))
                try:
                    fd = os.open(name, _DIR_FLAGS, dir_fd=here)
                except OSError as e:
                    if e.errno in _SYMLINK_ERRNOS:  # became a symlink since we looked: look again
                        todo.appendleft(name)
                        links += 1
                        continue
                    if e.errno == errno.ENOENT and make_dirs:
                        os.mkdir(name, dir_fd=here)
                        todo.appendleft(name)
                        continue
                    if e.errno in (errno.ENOENT, errno.ENOTDIR):
                        raise FileNotFoundError(errno.ENOENT, f"'{path}' does not exist") from None
                    raise
                dirs.append((fd, name))
            return Found(os.dup(dirs[-1][0]), None, _join(dirs, None))
        finally:
            for fd, _ in dirs:
                os.close(fd)

    def open(self, found: Found, flags: int) -> int:
        """Open what `found` names without following a symlink (one swapped in since is refused)."""
        if found.name is None:
            return os.open(".", flags | os.O_CLOEXEC, dir_fd=found.dir_fd)
        try:
            return os.open(found.name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=found.dir_fd)
        except OSError as e:
            if e.errno in _SYMLINK_ERRNOS:
                raise ToolError(f"'{found.rel}' was replaced by a symlink while being opened; try again") from None
            raise

    def walk(self, found: Found, skip_dirs: frozenset[str]) -> list[str]:
        """The regular files under a directory (or the file itself) as paths from the root, sorted,
        skipping hidden entries, what is under `skip_dirs`, and symlinks that do not lead to a regular
        file inside the root (a link inside is listed under its own name; linked directories are not
        walked). Directories are opened with O_NOFOLLOW, so a swapped-in link is never walked."""
        if found.name is not None:  # FileNotFoundError when it does not exist
            st = os.stat(found.name, dir_fd=found.dir_fd, follow_symlinks=False)
            if not stat.S_ISDIR(st.st_mode):
                return [found.rel] if stat.S_ISREG(st.st_mode) else []
        files: list[str] = []
        links: list[str] = []
        fd = self.open(found, _DIR_FLAGS)
        try:
            _walk(fd, "" if found.rel == "." else found.rel + "/", files, links, skip_dirs, MAX_WALK_DEPTH)
        finally:
            os.close(fd)
        return sorted(files + [rel for rel in links if self._leads_to_regular(rel)])

    def _leads_to_regular(self, rel: str) -> bool:
        try:
            found = self.locate(rel)
        except (OSError, ToolError):
            return False
        try:
            st = os.stat(found.name or ".", dir_fd=found.dir_fd, follow_symlinks=False)
            return stat.S_ISREG(st.st_mode)
        except OSError:
            return False
        finally:
            os.close(found.dir_fd)


def _walk(dir_fd: int, prefix: str, files: list[str], links: list[str], skip_dirs: frozenset[str], depth: int) -> None:
    with os.scandir(dir_fd) as it:
        entries = list(it)
    for e in entries:
        if e.name.startswith("."):
            continue
        if e.is_dir(follow_symlinks=False):
            if e.name in skip_dirs or depth <= 1:
                continue
            try:
                sub = os.open(e.name, _DIR_FLAGS, dir_fd=dir_fd)
            except OSError:  # gone, or swapped for a link, since it was listed
                continue
            try:
                _walk(sub, f"{prefix}{e.name}/", files, links, skip_dirs, depth - 1)
            finally:
                os.close(sub)
        elif e.is_file(follow_symlinks=False):
            files.append(prefix + e.name)
        elif e.is_symlink():
            links.append(prefix + e.name)


def _readlink(name: str, dir_fd: int) -> str | None:
    """The symlink's target, or None when `name` is not a symlink (or does not exist)."""
    try:
        return os.readlink(name, dir_fd=dir_fd)
    except OSError as e:
        if e.errno in (errno.EINVAL, errno.ENOENT, errno.ENOTDIR):
            return None
        raise


def _join(dirs: list[tuple[int, str]], leaf: str | None) -> str:
    names = [n for _, n in dirs[1:]] + ([leaf] if leaf else [])
    return "/".join(names) or "."


def write_atomic(found: Found, data: bytes, *, shown: str) -> bool:
    """Replace (or create) the file `found` names with `data` through a temp file made in the same
    directory descriptor, fsynced and renamed over it; keeps an existing file's permission bits.
    Refuses directories, special files and hard-linked files (named `shown` in the error). True when
    the file is new.
    (`io.atomic_write_bytes` does the same by path, which would follow a swapped-in symlink.)"""
    if found.name is None:
        raise ToolError(f"'{shown}' is a directory")
    try:
        st: os.stat_result | None = os.stat(found.name, dir_fd=found.dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        st = None
    if st is not None:
        if stat.S_ISDIR(st.st_mode):
            raise ToolError(f"'{shown}' is a directory")
        if not stat.S_ISREG(st.st_mode):
            raise ToolError(f"'{shown}' is not a regular file (a FIFO, socket or device)")
        if st.st_nlink > 1:  # a rename would split the links; writing through one could reach outside
            raise ToolError(f"'{shown}' has {st.st_nlink} hard links; write_file leaves such files alone")
    tmp = f".{found.name[:100]}.{secrets.token_hex(6)}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(tmp, flags, 0o666, dir_fd=found.dir_fd)  # a new file gets the umask's mode
    try:
        with os.fdopen(fd, "wb") as f:
            if st is not None:
                os.fchmod(f.fileno(), stat.S_IMODE(st.st_mode))
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, found.name, src_dir_fd=found.dir_fd, dst_dir_fd=found.dir_fd)
    except BaseException:
        try:
            os.unlink(tmp, dir_fd=found.dir_fd)
        except OSError:
            pass
        raise
    return st is None
