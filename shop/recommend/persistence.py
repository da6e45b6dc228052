"""Saving and loading fitted engines: atomic writes, a versioned header and a checksum.

The header lets ``load`` tell a missing file, a truncated copy (a deploy that ran out of disk) and a model
written by an older engine apart, each with its own message, instead of an opaque unpickling error. Files
are pickles: load only models this application wrote itself.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

from .records import ModelLoadError

MAGIC = b"SHOPREC\n"
#: Bump when the fitted state of HybridRecommender changes shape; load refuses other versions.
#: 2: the factor models keep float32 item factors for the request path.
#: 3: the pipeline engine (sources, EASE, a learned ranker chosen by the guard).
#: 4: the ranker's features say which holdout protocol a validation row comes from (``random_gap``).
#: 5: a second taste source, ``taste_events`` (category shares counted over every event).
#: 6: the ranker module split into ``rankers``, ``guard`` and ``validation`` (pickles name the module).
FORMAT_VERSION = 7


def dump(obj: Any, path: str | os.PathLike[str], *, kind: str) -> None:
    """Write ``obj`` to ``path`` atomically: a temp file in the same directory, fsync, then os.replace."""
    target = Path(path)
    payload = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    header = json.dumps(
        {
            "kind": kind,
            "version": FORMAT_VERSION,
            "size": len(payload),
            "sha256": hashlib.sha256(payload).hexdigest(),
        }
    ).encode()
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".tmp", dir=target.parent
    )
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(MAGIC + header + b"\n" + payload)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp_name, target)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def load(path: str | os.PathLike[str], *, kind: str) -> Any:
    """Read an object written by ``dump``; every failure becomes a ModelLoadError that says what is wrong."""
    source = Path(path)
    try:
        raw = source.read_bytes()
    except FileNotFoundError:
        raise ModelLoadError(f"no model file at {source}") from None
    except OSError as error:
        raise ModelLoadError(f"cannot read model file {source}: {error}") from error
    if not raw.startswith(MAGIC):
        raise ModelLoadError(f"{source} is not a saved recommender (bad header)")
    line_end = raw.find(b"\n", len(MAGIC))
    if line_end < 0:
        raise ModelLoadError(f"{source} is truncated (header incomplete)")
    try:
        header = json.loads(raw[len(MAGIC) : line_end])
    except ValueError as error:
        raise ModelLoadError(f"{source} has a corrupt header") from error
    if header.get("kind") != kind:
        raise ModelLoadError(f"{source} holds a {header.get('kind')!r}, not a {kind!r}")
    if header.get("version") != FORMAT_VERSION:
        raise ModelLoadError(
            f"{source} was written by engine format version {header.get('version')}, this engine reads "
            f"version {FORMAT_VERSION}; retrain the model"
        )
    payload = raw[line_end + 1 :]
    if len(payload) != header.get("size"):
        raise ModelLoadError(
            f"{source} is truncated: {len(payload)} of {header.get('size')} payload bytes present"
        )
    if hashlib.sha256(payload).hexdigest() != header.get("sha256"):
        raise ModelLoadError(f"{source} is corrupt: checksum mismatch")
    try:
        return pickle.loads(payload)  # noqa: S301 - our own file, verified by checksum above
    except Exception as error:  # a checksum-valid payload that will not unpickle: incompatible code
        raise ModelLoadError(f"{source} could not be unpickled with this code: {error}") from error
