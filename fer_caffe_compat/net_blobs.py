"""The blobs a Net keeps between passes: Caffe's Blob (data and diff) and SyncedMemory, over torch tensors.

A Caffe Blob owns its memory and every pass writes into it; pycaffe hands out numpy views of that memory.
Here a pass produces new tensors, and the store decides what to keep:

* Until a view of a blob was handed out, the store only *borrows* the tensor the last pass produced (a
  reference, no copy: training and scoring pay nothing for the store).
* ``hold()`` (the first ``.data``/``.diff`` view) copies the value once into a buffer the store owns. From
  then on every pass writes into that buffer in place (``put`` copies), so an array taken before a forward
  shows that forward's values. The buffer has a capacity, as Caffe's: a reshape to a count that fits keeps
  the memory (a held array still reads it); a larger one allocates a new, zeroed buffer. The old buffer stays
  alive as long as an array refers to it (no dangling pointer, unlike Caffe; it is simply no longer the blob).
* Split tops share their source blob's data memory (one ``Memory`` object), not its diff, as Caffe's
  SplitLayer shares data.
* Learnable parameters are not copied at all: their data is the ``nn.Parameter`` itself (solver updates are
  in place) and their diff is its ``.grad``, created as zeros when first viewed so that it accumulates
  across backward passes as Caffe's param diffs do.

On CUDA (Caffe's SyncedMemory): a numpy array cannot view device memory, so a held memory gets a host
mirror. ``host()`` (every ``.data``/``.diff`` access) copies device to host when the device is newer
(head DEVICE) and marks the host as the head, since the caller may write through the array. Before the
net next uses its tensors it calls ``push()``, which copies every host-headed mirror back to the device
(head SYNCED); after a pass ``device_newer()`` marks every mirror DEVICE again. As in Caffe on a GPU, an
array taken before a forward shows that forward's values only after the blob is accessed again.
On the CPU there are no mirrors and ``push``/``device_newer`` do nothing.
"""
from __future__ import annotations

import math

import torch

HOST, DEVICE, SYNCED = "host", "device", "synced"


class Memory:
    """One blob's data or diff."""

    def __init__(self, store: "BlobStore", value: torch.Tensor):
        self.store = store
        self.t = value                      # what the net reads: the borrowed tensor or a view of ``buf``
        self.buf: torch.Tensor | None = None  # the owned flat buffer (capacity), once held
        self.mirror: torch.Tensor | None = None  # CUDA only: the host copy arrays view
        self.head = SYNCED

    @property
    def held(self) -> bool:
        return self.buf is not None

    def get(self) -> torch.Tensor:
        return self.t

    def put(self, x: torch.Tensor) -> None:
        """The net's new value: borrowed, or copied into the held buffer."""
        if self.buf is None:
            self.t = x
            return
        if tuple(x.shape) != tuple(self.t.shape):
            self.reshape(tuple(x.shape))
        with torch.no_grad():
            self.t.copy_(x)

    def hold(self) -> torch.Tensor:
        if self.buf is None:
            src = self.t.detach()
            self.buf = src.to(self.store.dtype, copy=True).reshape(-1)
            self.t = self.buf.view(src.shape)
        return self.t

    def reshape(self, shape: tuple[int, ...]) -> None:
        """Blob::Reshape: keep the buffer while the count fits its capacity; else a new zeroed one."""
        self.hold()
        n = math.prod(shape)
        if n > self.buf.numel():
            self.buf = torch.zeros(n, dtype=self.buf.dtype, device=self.buf.device)
            self.mirror = None
        self.t = self.buf[:n].view(shape)

    def host(self) -> torch.Tensor:
        """The CPU tensor an array views (the held tensor itself on the CPU)."""
        t = self.hold()
        if t.device.type == "cpu":
            return t
        if self.mirror is None or self.mirror.numel() != self.buf.numel():
            self.mirror = torch.empty(self.buf.numel(), dtype=self.buf.dtype, pin_memory=True)
            self.head = DEVICE
        if self.head == DEVICE:
            self.mirror.copy_(self.buf)
        self.head = HOST
        self.store.mirrored.add(self)
        return self.mirror[:t.numel()].view(t.shape)

    def push(self) -> None:
        if self.head == HOST and self.mirror is not None:
            self.buf.copy_(self.mirror, non_blocking=True)
            self.head = SYNCED


class ParamMemory(Memory):
    """A learnable blob's data (the nn.Parameter) or diff (its .grad), never copied."""

    def __init__(self, store: "BlobStore", param: torch.nn.Parameter, diff: bool):
        super().__init__(store, param)
        self.param, self.diff = param, diff

    def _tensor(self) -> torch.Tensor:
        p = self.param
        if not self.diff:
            return p.data
        if p.grad is None:
            p.grad = torch.zeros_like(p)
        return p.grad

    def get(self) -> torch.Tensor:
        return self._tensor()

    def hold(self) -> torch.Tensor:
        self.t = self._tensor()
        self.buf = self.t.view(-1)
        return self.t

    def put(self, x: torch.Tensor) -> None:
        with torch.no_grad():
            self._tensor().copy_(x)

    def reshape(self, shape: tuple[int, ...]) -> None:
        if tuple(shape) != tuple(self.param.shape):
            raise ValueError(f"a learnable blob cannot be reshaped ({list(self.param.shape)} -> {list(shape)}): "
                             "the layer's parameter would no longer be the blob")


class BlobStore:
    """Every blob's data and diff by name; split tops alias their source's data memory."""

    def __init__(self, shapes: dict[str, tuple[int, ...]], aliases: dict[str, str],
                 loss_weights: dict[str, float], device: torch.device, dtype: torch.dtype):
        self.device, self.dtype = device, dtype
        self.shapes = shapes
        self.aliases = aliases              # split top -> the blob whose data it is
        self.loss_weights = loss_weights    # a loss blob's diff starts at its weight (Layer::SetLossWeights)
        self.data: dict[str, Memory] = {}
        self.diff: dict[str, Memory] = {}
        self.mirrored: set[Memory] = set()

    def _root(self, name: str) -> str:
        return self.aliases.get(name, name)

    def data_memory(self, name: str) -> Memory:
        name = self._root(name)
        m = self.data.get(name)
        if m is None:
            m = self.data[name] = Memory(self, torch.zeros(self.shapes[name], dtype=self.dtype, device=self.device))
        return m

    def diff_memory(self, name: str) -> Memory:
        m = self.diff.get(name)
        if m is None:
            shape = tuple(self.data_memory(name).get().shape)
            t = torch.full(shape, float(self.loss_weights.get(name, 0.0)), dtype=self.dtype, device=self.device)
            m = self.diff[name] = Memory(self, t)
        return m

    def get(self, name: str) -> torch.Tensor:
        return self.data_memory(name).get()

    def put(self, name: str, x: torch.Tensor) -> None:
        if name in self.aliases:
            return  # the source's memory already holds it
        m = self.data.get(name)
        if m is None:
            self.data[name] = Memory(self, x)
        else:
            m.put(x)

    def get_diff(self, name: str) -> torch.Tensor:
        m = self.diff_memory(name)
        t = m.get()
        shape = tuple(self.get(name).shape)
        if tuple(t.shape) != shape:  # the data was reshaped by a pass: Caffe's diff follows the data's shape
            m.reshape(shape) if m.held else m.put(torch.zeros(shape, dtype=self.dtype, device=self.device))
            t = m.get()
        return t

    def put_diff(self, name: str, g: torch.Tensor) -> None:
        m = self.diff.get(name)
        if m is None:
            self.diff[name] = Memory(self, g)
        else:
            m.put(g)

    def release(self, names: list[str]) -> None:
        """Let go of the borrowed tensors of ``names`` before a new pass allocates its own: the allocator
        reuses their memory (keeping them doubles the peak). They read as zeros until the pass refills them."""
        for n in names:
            m = self.data.get(n)
            if m is not None and m.buf is None:
                m.t = torch.zeros((), dtype=m.t.dtype, device=m.t.device).expand(m.t.shape)

    def push(self) -> None:
        """Host-headed mirrors back to the device before the net uses its tensors (CUDA only)."""
        for m in self.mirrored:
            m.push()

    def device_newer(self) -> None:
        for m in self.mirrored:
            m.head = DEVICE
