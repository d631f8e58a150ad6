"""Class names: FER2013's seven by default, or a labels file with one name per line."""
from __future__ import annotations

import os

from ..errors import CaffeError

FER_CLASSES = ("Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Neutral")


def read_labels(path: str | os.PathLike) -> list[str]:
    """Names from a text file, one per line in label order; blank lines are skipped."""
    try:
        with open(path, encoding="utf-8") as f:
            names = [line.strip() for line in f if line.strip()]
    except OSError as e:
        raise CaffeError(f"{path}: cannot read labels file: {e.strerror}") from None
    except UnicodeDecodeError:
        raise CaffeError(f"{path}: labels file is not UTF-8 text") from None
    if not names:
        raise CaffeError(f"{path}: labels file holds no class names")
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise CaffeError(f"{path}: class name {dup!r} appears twice")
    return names


def class_names(path: str | os.PathLike | None, num_outputs: int) -> list[str]:
    """Names for a net with ``num_outputs`` classes.

    With a file its count must equal the net's outputs. Without one FER's seven are used for a 7-output net,
    and "class 0", "class 1", ... otherwise.
    """
    if path is None:
        if num_outputs == len(FER_CLASSES):
            return list(FER_CLASSES)
        return [f"class {i}" for i in range(num_outputs)]
    names = read_labels(path)
    if len(names) != num_outputs:
        raise CaffeError(f"{path}: {len(names)} class names, but the net has {num_outputs} outputs")
    return names
