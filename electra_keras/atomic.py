"""Files written whole or not at all: a reader (or a resumed run) never sees half a file."""

import json
import os


def atomic_json(obj, path):
    """Write `obj` as JSON under a temporary name, then rename it to `path`."""
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=1)
    os.replace(tmp, path)
