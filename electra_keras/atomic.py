"""Files written whole or not at all: a reader (or a resumed run) never sees half a file.

`atomic_path(path)` gives a temporary name beside `path` to write; the name becomes `path` only
when the block ends without error, and is removed when it fails. A full disk (or quota) while
writing becomes `NoSpaceLeft`, which names `path`.
"""

import contextlib
import errno
import json
import os

DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


class NoSpaceLeft(OSError):
    """The device ran out of space (or quota) while writing `path`; nothing partial is left
    under that name. `str()` is the whole message."""

    def __init__(self, path, message=None):
        super().__init__(errno.ENOSPC, message or f"{path}: no space left on the device", path)
        self.path = path

    def __str__(self):
        return self.strerror


def is_disk_full(error):
    """Whether `error` (an OSError, or a framework's error that wraps one) means a full disk."""
    return getattr(error, "errno", None) in DISK_FULL or "No space left on device" in str(error)


@contextlib.contextmanager
def atomic_path(path, suffix=""):
    """Yield a temporary path beside `path` (ending in `suffix`, for writers that want an
    extension); it is renamed to `path` when the block succeeds and removed when it fails."""
    tmp = f"{path}.tmp-{os.getpid()}{suffix}"
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException as error:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        if isinstance(error, Exception) and not isinstance(error, NoSpaceLeft) and is_disk_full(error):
            raise NoSpaceLeft(path) from error
        raise


def atomic_json(obj, path):
    """Write `obj` as JSON under a temporary name, then rename it to `path`."""
    with atomic_path(path) as tmp, open(tmp, "w") as f:
        json.dump(obj, f, indent=1)


def atomic_text(text, path):
    """Write `text` (UTF-8) under a temporary name, then rename it to `path`."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
