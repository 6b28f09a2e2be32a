"""One process at a time in a run directory.

`RunLock(run_dir)` holds an exclusive `flock` on ``run_dir/.lock`` while a run writes there; the
file names the holder (host, PID, start time). A second process gets `RunDirectoryBusy`, which
names the holder. The kernel drops the lock when its process ends, however it ends, so a lock
file left by a killed run is stale: the next run takes it over and says whose it was. Linux
emulates `flock` on NFS with POSIX locks, so processes on different hosts sharing a run
directory see each other's locks there too.
"""

import contextlib
import datetime
import fcntl
import json
import os
import socket

LOCK_FILE = ".lock"


class RunDirectoryBusy(RuntimeError):
    """Another process holds the run directory's lock."""


def describe(holder):
    return (f"host {holder.get('host', '?')}, PID {holder.get('pid', '?')}, "
            f"since {holder.get('started', '?')}") if holder else "a process that has not written its name yet"


class RunLock:
    """Context manager: the run directory `run_dir` (made if missing) locked for this process.

    `took_over` is the holder a stale lock named (None when the directory was free). On release
    the lock file goes, and so does the directory if nothing else was written in it.
    """

    def __init__(self, run_dir):
        self.run_dir = os.fspath(run_dir)
        self.path = os.path.join(self.run_dir, LOCK_FILE)
        self.took_over = None
        self._fd = None

    def acquire(self):
        os.makedirs(self.run_dir, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read(fd)
                os.close(fd)
                raise RunDirectoryBusy(
                    f"{self.run_dir} is in use by another run ({describe(holder)}; lock file {self.path}); "
                    f"wait for it to end, or pick another --run-name") from None
            # A holder releasing removes the file: if it went between our open and our lock,
            # the lock is on a file no one else will see; start again on the one at the path.
            with contextlib.suppress(FileNotFoundError):
                if os.stat(self.path).st_ino == os.fstat(fd).st_ino:
                    break
            os.close(fd)
        self.took_over = _read(fd)
        me = {"host": socket.gethostname(), "pid": os.getpid(),
              "started": datetime.datetime.now().astimezone().isoformat(timespec="seconds")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(me).encode(), 0)
        self._fd = fd
        return self

    def release(self):
        if self._fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            os.remove(self.path)  # while still held: no one can lock a file that is about to go
        os.close(self._fd)
        self._fd = None
        with contextlib.suppress(OSError):
            os.rmdir(self.run_dir)  # only if empty: a run that failed before writing anything

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()


def _read(fd):
    """The holder a lock file names, or None (empty, or not ours)."""
    text = os.pread(fd, 4096, 0).decode("utf-8", "replace")
    try:
        holder = json.loads(text) if text.strip() else None
    except json.JSONDecodeError:
        return None
    return holder if isinstance(holder, dict) else None
