"""What is kept between runs, under one directory: `default_cache_dir()`, that is
$ELECTRA_KERAS_CACHE or ~/.cache/electra_keras (downloaded corpora, built pretraining data,
tensorflow-text's compiled tokenizer models).

`cached_bytes` keeps bytes that are a pure function of a key. A file is named by the hash of
its key and begins with the SHA-256 of its contents, so a file built from other inputs is never
found and a damaged one is built again. A cache that cannot be read or written only means
building again; nothing here is the truth of anything (a vocabulary stays its vocab.txt).
"""

import contextlib
import hashlib
import json
import os

from electra_keras.atomic import atomic_path

_DIGEST = hashlib.sha256().digest_size


def default_cache_dir():
    return os.environ.get("ELECTRA_KERAS_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "electra_keras"))


def cached_bytes(kind, key, build):
    """The bytes `build()` returns for `key` (JSON-serializable): read from the cache when a
    whole file for it is there, else built and written there (atomically) for the next process."""
    name = hashlib.sha256(json.dumps(key, sort_keys=True).encode("utf-8")).hexdigest()[:40]
    path = os.path.join(default_cache_dir(), kind, name)
    with contextlib.suppress(OSError), open(path, "rb") as f:
        digest, data = f.read(_DIGEST), f.read()
        if hashlib.sha256(data).digest() == digest:
            return data
    data = bytes(build())
    with contextlib.suppress(OSError):  # a read-only or full cache: the next process builds again
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            f.write(hashlib.sha256(data).digest() + data)
    return data
