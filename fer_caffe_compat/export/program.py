"""Tracing a DeployModule with torch.export, and the .pt2 file of the program."""
from __future__ import annotations

import contextlib
import os
from pathlib import Path

import torch

from .module import DeployModule


def trace(module: DeployModule, dynamic_batch: bool = False,
          inputs: tuple[torch.Tensor, ...] | None = None) -> torch.export.ExportedProgram:
    """The module as an ExportedProgram for the net's input shapes; with ``dynamic_batch`` axis 0 of every
    input may take any size from 1 on (build the net with a batch of 2 or more: 1 would be specialised)."""
    inputs = module.example_inputs() if inputs is None else inputs
    shapes = None
    if dynamic_batch:
        b = torch.export.Dim("batch", min=1)
        shapes = (tuple({0: b} for _ in inputs),)  # forward(*inputs): one structure for the varargs
    with module.naming_failures("a torch.export program"), torch.no_grad():
        return torch.export.export(module, inputs, dynamic_shapes=shapes, strict=False)


def export_pt2(program: torch.export.ExportedProgram, path: str | os.PathLike,
               extra_files: dict[str, str] | None = None) -> None:
    """Save the program (torch.export.save) atomically: a temporary .pt2 beside ``path``, then a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}.pt2")  # torch.export.save wants the suffix
    try:
        torch.export.save(program, tmp, extra_files=extra_files)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def load_pt2(path: str | os.PathLike) -> torch.nn.Module:
    """The callable module of a .pt2 file written by export_pt2 (a file this project made: it is trusted)."""
    return torch.export.load(str(path)).module()
