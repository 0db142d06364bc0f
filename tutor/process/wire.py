"""Framing and tensor packing for the pipes between the tutor and its sandbox processes.

Everything crosses a process boundary as a JSON header plus raw bytes: never pickle, because
the far side of some pipes runs a learner's code and must be treated as untrusted.
"""

from __future__ import annotations

import ctypes
import json
import os
import struct
from typing import IO, Any

import torch

MAX_HEADER = 16 * 1024 * 1024
MAX_BLOB = 1024 * 1024 * 1024

# Only these dtypes travel as bytes; others travel as metadata alone.
DTYPES: dict[str, torch.dtype] = {
    "float32": torch.float32,
    "float64": torch.float64,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "int64": torch.int64,
    "int32": torch.int32,
    "int16": torch.int16,
    "int8": torch.int8,
    "uint8": torch.uint8,
    "bool": torch.bool,
}


_ITEMSIZE = {dtype: torch.empty((), dtype=dtype).element_size() for dtype in DTYPES.values()}


F_SETPIPE_SZ = 1031  # Linux
PIPE_BYTES = 1 << 20


def widen_pipe(fd: int) -> None:
    """Give a pipe a 1 MiB buffer where Linux allows (a check's results, ~300 KB, then cross in one write
    instead of a ping-pong of 64 KiB turns between two processes on two cores); elsewhere nothing."""
    try:
        import fcntl

        fcntl.fcntl(fd, F_SETPIPE_SZ, PIPE_BYTES)
    except (ImportError, OSError, ValueError):
        pass


class WireError(Exception):
    """A frame that is truncated, oversized or does not parse."""


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def write_frame(stream: IO[bytes], header: dict[str, Any], blob: bytes = b"") -> None:
    head = json.dumps(header).encode()
    stream.write(struct.pack(">IQ", len(head), len(blob)))
    stream.write(head)
    if blob:
        stream.write(blob)
    stream.flush()


def _read_exact(stream: IO[bytes], size: int) -> bytes:
    chunks = []
    remaining = size
    while remaining:
        chunk = stream.read(remaining)
        if not chunk:
            raise WireError("stream ended in the middle of a frame")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def read_frame(stream: IO[bytes]) -> tuple[dict[str, Any], bytes]:
    prefix = stream.read(12)
    if not prefix:
        raise EOFError
    if len(prefix) < 12:
        prefix += _read_exact(stream, 12 - len(prefix))
    head_len, blob_len = struct.unpack(">IQ", prefix)
    if head_len > MAX_HEADER or blob_len > MAX_BLOB:
        raise WireError("frame too large")
    head, blob = _read_exact(stream, head_len), _read_exact(stream, blob_len)
    return decode_frame_parts(head, blob)


def write_all(fd: int, data: bytes) -> None:
    """Write all of `data` to a blocking file descriptor."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def decode_frame(data: bytes) -> tuple[dict[str, Any], bytes]:
    """Parse one whole frame held in memory (what a sandboxed child wrote)."""
    if len(data) < 12:
        raise WireError("frame shorter than its prefix")
    head_len, blob_len = struct.unpack(">IQ", data[:12])
    if head_len > MAX_HEADER:
        raise WireError(f"header of {head_len} bytes is over the {MAX_HEADER >> 20} MiB limit")
    if len(data) != 12 + head_len + blob_len:
        raise WireError("frame length does not match its prefix")
    return decode_frame_parts(data[12 : 12 + head_len], data[12 + head_len :])


PREFIX_SIZE = 12  # ">IQ": the header's and the blob's lengths


def frame_size(prefix: bytes) -> int:
    """The whole frame's size in bytes, from its first PREFIX_SIZE bytes."""
    head_len, blob_len = struct.unpack(">IQ", prefix[:PREFIX_SIZE])
    return PREFIX_SIZE + head_len + blob_len


def encode_frame(header: dict[str, Any], blob: bytes = b"") -> bytes:
    head = json.dumps(header).encode()
    return struct.pack(">IQ", len(head), len(blob)) + head + blob


def decode_frame_parts(head: bytes, blob: bytes) -> tuple[dict[str, Any], bytes]:
    try:
        header = json.loads(head)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WireError(f"header is not JSON: {exc}") from None
    if not isinstance(header, dict):
        raise WireError("header is not an object")
    return header, blob


def tensor_bytes(tensor: torch.Tensor) -> bytes:
    flat = tensor.detach().to("cpu").contiguous()
    return ctypes.string_at(flat.data_ptr(), flat.numel() * flat.element_size()) if flat.numel() else b""


def pack_tensors(
    tensors: dict[str, torch.Tensor], max_bytes: int = 64 * 1024 * 1024
) -> tuple[list[dict[str, Any]], bytes]:
    """Describe each tensor and lay its bytes end to end; oversized or odd dtypes go without bytes."""
    meta: list[dict[str, Any]] = []
    parts: list[bytes] = []
    offset = 0
    for name, tensor in tensors.items():
        entry: dict[str, Any] = {
            "name": name,
            "dtype": dtype_name(tensor.dtype),
            "shape": list(tensor.shape),
            "device": tensor.device.type,
            "offset": offset,
            "nbytes": 0,
        }
        size = tensor.numel() * tensor.element_size()
        if entry["dtype"] in DTYPES and size <= max_bytes:
            try:
                data = tensor_bytes(tensor)
            except (RuntimeError, TypeError, ValueError):  # sparse, meta or otherwise odd tensors
                data = b""
            entry["nbytes"] = len(data)
            parts.append(data)
            offset += len(data)
        meta.append(entry)
    return meta, b"".join(parts)


class FrameBytes(bytearray):
    """A frame's blob, writable and viewed once as bytes: each tensor unpacked from it is a view (sliced from
    that one view, which costs less than a view of its own), never a copy."""

    def view(self, dtype: torch.dtype, offset: int, numel: int) -> torch.Tensor:
        whole = self.__dict__.get("whole")
        if whole is None:
            whole = self.__dict__["whole"] = torch.frombuffer(self, dtype=torch.uint8) if len(self) else torch.empty(0, dtype=torch.uint8)
        size = _ITEMSIZE[dtype]
        if offset % size:  # misaligned for this dtype: a view of its own
            return torch.frombuffer(self, dtype=dtype, count=numel, offset=offset)
        return whole[offset : offset + numel * size].view(dtype)


def unpack_tensor(entry: dict[str, Any], blob: bytes | bytearray) -> torch.Tensor | None:
    """Rebuild one tensor on the CPU; None when it travelled without bytes."""
    dtype = DTYPES.get(str(entry.get("dtype")))
    shape = entry.get("shape")
    offset, nbytes = entry.get("offset"), entry.get("nbytes")
    if dtype is None or not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
        return None
    if not isinstance(offset, int) or not isinstance(nbytes, int) or nbytes <= 0:
        if nbytes == 0 and shape and 0 in shape:
            return torch.empty(shape, dtype=dtype)
        return None
    if offset < 0 or offset + nbytes > len(blob):
        raise WireError(f"tensor {entry.get('name')!r} points outside its frame")
    numel = 1
    for d in shape:
        numel *= d
    if numel * _ITEMSIZE[dtype] != nbytes:
        raise WireError(f"tensor {entry.get('name')!r} has {nbytes} bytes for shape {shape}")
    if isinstance(blob, FrameBytes):  # a writable frame: the tensor is a view of it, no copy
        return blob.view(dtype, offset, numel).reshape(shape)
    if isinstance(blob, bytearray):
        return torch.frombuffer(blob, dtype=dtype, count=numel, offset=offset).reshape(shape)
    data = bytearray(blob[offset : offset + nbytes])
    return torch.frombuffer(data, dtype=dtype).reshape(shape)


def unpack_tensors(meta: list[dict[str, Any]], blob: bytes) -> dict[str, torch.Tensor]:
    out: dict[str, torch.Tensor] = {}
    for entry in meta:
        tensor = unpack_tensor(entry, blob)
        if tensor is not None:
            out[str(entry["name"])] = tensor
    return out


def protocol_frames() -> IO[bytes]:
    """Keep the real stdout for frames; fds 1 and 2 go to /dev/null so nothing else can write there (stderr
    stays when BACKPROP_NINJA_DEBUG is set)."""
    out = os.fdopen(os.dup(1), "wb")
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 1)
    if not os.environ.get("BACKPROP_NINJA_DEBUG"):
        os.dup2(null, 2)
    return out
