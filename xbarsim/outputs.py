"""Exclusive, atomic outputs: traces, reports and accuracy-study results.

Every file or folder xbarsim writes for the user goes through :class:`Output`, which makes
three promises:

* **exclusive**: the destination is claimed when the writer starts, by an exclusive lock on
  ``.NAME.lock`` next to it (``flock``; the kernel drops it when the process dies, even by
  ``kill -9``, so a crashed writer never blocks the next one). A second writer of the same
  name fails at once with :class:`~xbarsim.errors.OutputError` naming the first one's pid,
  whatever ``overwrite`` says: two runs racing for one name would lose one of them.
* **atomic**: content goes to a temporary ``.NAME.<pid>.tmp`` (file or folder) that becomes
  ``NAME`` in one rename when complete; a failed or killed run leaves no ``NAME``.
* **no clobbering**: an existing ``NAME`` is refused at the start unless ``overwrite``; the
  final step cannot replace one that appeared meanwhile (a hard link, which fails if the
  name exists); the new output is then kept under another name and the error says where.

Temporaries carry the writer's pid. The next writer in the same folder removes those whose
pid is gone (and every temporary of the name it has just claimed), so killed runs leave no
orphans behind for long. :func:`check_destination` validates a destination without claiming
it, so commands can refuse a bad ``--out`` before any compute.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
from pathlib import Path
from typing import Optional, Sequence, Union

from .errors import OutputError, one_line

try:  # POSIX advisory locks; elsewhere an exclusive create with a pid stands in
    import fcntl
except ImportError:  # pragma: no cover - not on the Linux machines xbarsim is tested on
    fcntl = None

__all__ = ["Output", "check_destination", "remove_stale", "temporary_name"]

PathLike = Union[str, os.PathLike]

_TEMPORARY = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.(?:tmp|old)$")
_LOCK = re.compile(r"^\.(?P<name>.+)\.lock$")
_FORCE_HINT = "pass overwrite=True (or --force) to replace it, or choose another name"


def temporary_name(name: str, pid: Optional[int] = None, suffix: str = "tmp") -> str:
    """``.NAME.<pid>.tmp``: the hidden name of a writer's temporary (``.gitignore`` covers it)."""
    return f".{name}.{os.getpid() if pid is None else pid}.{suffix}"


def _reason(exc: OSError) -> str:
    return one_line(exc.strerror or str(exc) or type(exc).__name__)


def _alive(pid: int) -> bool:
    """Whether process ``pid`` exists (conservatively True where that cannot be asked)."""
    if pid == os.getpid():
        return True
    if os.name != "posix" or pid <= 0:  # pragma: no cover - os.kill(pid, 0) terminates on Windows
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists, it is someone else's
        return True
    return True


def _first_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if os.path.lexists(candidate):
            return candidate
    return Path(".")  # pragma: no cover - "/" always exists


def check_destination(path: PathLike, *, what: str = "output", folder: bool = False, overwrite: bool = False,
                      members: Optional[Sequence[str]] = None) -> Path:
    """Validate an output destination without writing anything; returns it as a Path.

    ``folder``: the output is a folder (a report). ``members``: the output is these files inside
    the folder ``path``, which may already hold others (study results). Raises
    :class:`~xbarsim.errors.OutputError`: a regular file where a folder must go (or the reverse),
    an existing output without ``overwrite``, a folder that cannot be created or written.
    """
    text = os.fspath(path)
    if not isinstance(text, str) or not text.strip():
        raise OutputError(f"{what}: expected a file or folder name, got {text!r}")
    if "\0" in text:
        raise OutputError(f"{what}: expected a file or folder name, got {one_line(repr(text))} (a NUL character)")
    target = Path(text)
    shown = one_line(text)
    inside = members is not None
    parent = target if inside else target.parent
    anchor = _first_existing(parent)
    if not anchor.is_dir():
        raise OutputError(f"{shown}: cannot create the {what} there: {one_line(str(anchor))} is a file, not a folder")
    if not os.access(anchor, os.W_OK | os.X_OK):
        raise OutputError(f"{shown}: cannot create the {what} there: no permission to write in "
                          f"{one_line(str(anchor))}")
    if inside:
        for name in members:
            member = target / name
            if member.is_dir():
                raise OutputError(f"{one_line(str(member))} is a folder, not a file: choose another --out")
            if os.path.lexists(member) and not overwrite:
                raise OutputError(f"{one_line(str(member))} exists: {_FORCE_HINT}")
        return target
    if folder and os.path.lexists(target) and not target.is_dir():
        raise OutputError(f"{shown} is a file, not a folder: choose another name for the {what}")
    if not folder and target.is_dir():
        raise OutputError(f"{shown} is a folder, not a {what} file name")
    if os.path.lexists(target) and not overwrite:
        raise OutputError(f"{shown} exists: {_FORCE_HINT}")
    return target


class _Lock:
    """An exclusive claim on ``folder/.NAME.lock``, released by :meth:`release` or by process death."""

    def __init__(self, path: Path, shown: str):
        self.path = path
        self.fd: Optional[int] = None
        for _ in range(20):  # the previous holder may unlink the file between our open and our lock
            if fcntl is None:  # pragma: no cover
                self._claim_by_create(shown)
                return
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                holder = _read_pid(fd)
                os.close(fd)
                if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    who = f"process {holder}" if holder else "another process"
                    raise OutputError(f"{shown} is being written by {who} right now: wait for it to finish "
                                      "or choose another name") from None
                raise
            try:
                same = os.stat(path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                continue
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            self.fd = fd
            return
        raise OutputError(f"{shown}: could not claim it (its lock file kept changing); try again")  # pragma: no cover

    def _claim_by_create(self, shown: str) -> None:  # pragma: no cover - systems without flock
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                with open(self.path, "rb") as handle:
                    holder = _parse_pid(handle.read())
                if holder and _alive(holder):
                    raise OutputError(f"{shown} is being written by process {holder} right now: wait for it "
                                      "to finish or choose another name") from None
                os.unlink(self.path)
                continue
            os.write(fd, f"{os.getpid()}\n".encode())
            self.fd = fd
            return
        raise OutputError(f"{shown}: could not claim it; try again")

    def release(self) -> None:
        if self.fd is None:
            return
        try:
            os.unlink(self.path)
        except OSError:
            pass
        os.close(self.fd)
        self.fd = None


def _parse_pid(data: bytes) -> Optional[int]:
    text = data.decode("ascii", "replace").strip()
    return int(text) if text.isdigit() else None


def _read_pid(fd: int) -> Optional[int]:
    try:
        return _parse_pid(os.pread(fd, 32, 0))
    except OSError:  # pragma: no cover
        return None


def _remove(path: Path) -> None:
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink()
    except OSError:
        pass


def remove_stale(folder: PathLike, claimed: Optional[str] = None) -> int:
    """Remove temporaries in ``folder`` left by writers that are gone; returns how many.

    A temporary ``.NAME.<pid>.tmp`` (or ``.old``) is stale when its pid no longer runs, or when
    NAME is ``claimed`` by the caller (who holds its lock, so no one else writes it). A lock
    file holding the pid of a process that is gone, which no process has locked, is stale too.
    """
    removed = 0
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    for entry in entries:
        match = _TEMPORARY.match(entry.name)
        if match:
            pid = int(match["pid"])
            if pid != os.getpid() and (match["name"] == claimed or not _alive(pid)):
                _remove(Path(entry.path))
                removed += 1
            continue
        match = _LOCK.match(entry.name)
        if match and match["name"] != claimed and fcntl is not None and _unheld(Path(entry.path)):
            removed += 1
    return removed


def _unheld(path: Path) -> bool:
    """Remove ``path`` if it is one of our lock files (a pid) that no process holds and whose
    writer is gone; whether it was removed."""
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return False
    try:
        holder = _read_pid(fd)
        if holder is None or _alive(holder):  # not ours, or its writer still runs
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False
        try:
            if os.stat(path).st_ino != os.fstat(fd).st_ino:
                return False
        except FileNotFoundError:
            return False
        os.unlink(path)
        return True
    finally:
        os.close(fd)


class Output:
    """One output being written: claim at construction, write to :attr:`temp`, then :meth:`commit`.

    ``folder=False``: ``temp`` is a file path; ``folder=True``: ``temp`` is a folder that becomes
    ``path``; ``members``: ``temp`` is a folder whose files (named in ``members``) move into the
    folder ``path``, which may hold other files. As a context manager, leaving with an exception
    calls :meth:`abort`.
    """

    def __init__(self, path: PathLike, *, what: str = "output", folder: bool = False, overwrite: bool = False,
                 members: Optional[Sequence[str]] = None):
        self.path = check_destination(path, what=what, folder=folder, overwrite=overwrite, members=members)
        self.what, self.folder, self.overwrite = what, folder, overwrite
        self.members = tuple(members) if members is not None else None
        self._shown = one_line(str(self.path))
        self._whole = self.members is not None and not self.path.exists()  # a new folder: rename it whole
        if self.members is not None and not self._whole:
            home, name = self.path, f"{self.members[0]}"  # claim the first member's name inside the folder
        else:
            home, name = self.path.parent, self.path.name
        try:
            home.mkdir(parents=True, exist_ok=True)
            self._lock = _Lock(home / f".{name}.lock", self._shown)
        except OutputError:
            raise
        except OSError as exc:
            raise OutputError(f"{self._shown}: cannot create the {what} there: {_reason(exc)}") from None
        self._name = name
        self._home = home
        self.temp = home / temporary_name(name)
        """Where the content goes until :meth:`commit`."""
        self._done = False
        try:
            remove_stale(home, claimed=name)
            # checked again now that we hold the claim: it may have appeared since check_destination
            check_destination(path, what=what, folder=folder, overwrite=overwrite, members=members)
            if folder or self.members is not None:
                self.temp.mkdir()
        except BaseException as exc:
            self._lock.release()
            if isinstance(exc, OSError) and not isinstance(exc, OutputError):
                raise OutputError(f"{self._shown}: cannot create the {what} there: {_reason(exc)}") from None
            raise

    def __enter__(self) -> "Output":
        return self

    def __exit__(self, kind, value, tb) -> None:
        if kind is not None:
            self.abort()

    def abort(self) -> None:
        """Remove the temporary and release the claim; the destination is untouched."""
        if self._done:
            return
        self._done = True
        _remove(self.temp)
        self._lock.release()

    def commit(self) -> Path:
        """Move the finished content into place (see the module notes) and release the claim."""
        if self._done:
            raise RuntimeError("this output was already committed or aborted")
        try:
            if self.members is not None:
                if not (self._whole and self._rename_whole()):
                    self._commit_members()
            elif self.folder:
                self._commit_folder()
            else:
                self._commit_file()
        except OSError as exc:
            if isinstance(exc, OutputError):
                raise
            raise OutputError(f"{self._shown}: cannot move the finished {self.what} into place: "
                              f"{_reason(exc)}") from None
        finally:
            self._done = True
            self._lock.release()
        return self.path

    # -- the final moves --------------------------------------------------------------------------

    def _kept(self, source: Path, final: Path) -> OutputError:
        """Keep ``source`` under a visible name next to ``final``; the error to raise."""
        stem, dot, suffix = final.name.partition(".")
        keep = final.with_name(f"{stem}.{os.getpid()}{dot}{suffix}")
        os.replace(source, keep)
        return OutputError(f"{one_line(str(final))} appeared while this run was writing it; the new {self.what} "
                           f"is kept as {one_line(str(keep))} (pass --force to replace instead)")

    def _place_file(self, source: Path, final: Path) -> None:
        if self.overwrite:
            os.replace(source, final)
            return
        try:
            os.link(source, final)  # fails if ``final`` exists: never replaces one that appeared meanwhile
        except FileExistsError:
            raise self._kept(source, final) from None
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
                raise
            if os.path.lexists(final):  # no hard links here (e.g. FAT): check, then rename
                raise self._kept(source, final) from None
            os.replace(source, final)
            return
        os.unlink(source)

    def _commit_file(self) -> None:
        self._place_file(self.temp, self.path)

    def _commit_folder(self) -> None:
        final = self.path
        if os.path.lexists(final):
            if not self.overwrite or not final.is_dir():
                raise self._kept(self.temp, final)
            aside = final.parent / temporary_name(final.name, suffix="old")
            os.rename(final, aside)
            os.rename(self.temp, final)
            _remove(aside)
            return
        try:
            os.rename(self.temp, final)  # fails if a non-empty folder of that name appeared meanwhile
        except OSError as exc:
            if exc.errno in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR, errno.EISDIR):
                raise self._kept(self.temp, final) from None
            raise

    def _rename_whole(self) -> bool:
        """Rename the temporary folder to a new ``path``; False if a folder of that name appeared meanwhile."""
        try:
            os.rename(self.temp, self.path)
        except OSError as exc:
            if exc.errno in (errno.ENOTEMPTY, errno.EEXIST) and self.path.is_dir():
                return False
            raise
        return True

    def _commit_members(self) -> None:
        for name in self.members:
            self._place_file(self.temp / name, self.path / name)
        _remove(self.temp)
