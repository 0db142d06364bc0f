"""Tensors cross process boundaries as JSON plus bytes, and a garbled frame is an error, not a crash."""

from __future__ import annotations

import io

import pytest
import torch

from tutor.process.wire import (
    WireError,
    decode_frame,
    encode_frame,
    pack_tensors,
    read_frame,
    unpack_tensors,
    write_frame,
)
from tutor.sandbox.results import failed_runs, runs_of_frame


def test_round_trip_keeps_bits():
    tensors = {"a": torch.randn(3, 4), "b": torch.arange(5), "c": torch.randn(2, dtype=torch.float64), "e": torch.zeros(0, 3)}
    meta, blob = pack_tensors(tensors)
    back = unpack_tensors(meta, blob)
    for name, tensor in tensors.items():
        assert back[name].dtype == tensor.dtype and torch.equal(back[name], tensor)


def test_frames_on_a_stream():
    stream = io.BytesIO()
    write_frame(stream, {"x": 1}, b"abc")
    write_frame(stream, {"y": 2})
    stream.seek(0)
    assert read_frame(stream) == ({"x": 1}, b"abc")
    assert read_frame(stream) == ({"y": 2}, b"")
    with pytest.raises(EOFError):
        read_frame(stream)


def test_lying_frames_are_rejected():
    frame = encode_frame({"ok": 1}, b"xyz")
    with pytest.raises(WireError):
        decode_frame(frame[:-1])
    meta = [{"name": "t", "dtype": "float32", "shape": [1000], "offset": 0, "nbytes": 4000}]
    with pytest.raises(WireError):
        unpack_tensors(meta, b"\x00" * 16)


def test_garbage_from_a_child_is_a_crash_verdict():
    (run,), last = runs_of_frame(b"not a frame at all")
    assert last
    assert run.error.kind == "crash"


def test_runs_of_one_child_share_a_blob_and_a_fatal_ending():
    meta_a, blob_a = pack_tensors({"da": torch.ones(2)})
    meta_b, blob_b = pack_tensors({"da": torch.full((3,), 2.0)})
    meta_b[0]["offset"] += len(blob_a)
    runs_header = {"runs": [
        {"error": None, "values": [{"kind": "tensor", **meta_a[0]}]},
        {"error": {"kind": "exception", "message": "IndexError", "line": 3}, "values": [{"kind": "tensor", **meta_b[0]}]},
    ]}
    (first, second), last = runs_of_frame(encode_frame(runs_header, blob_a + blob_b))
    assert last
    assert torch.equal(first.value("da").tensor, torch.ones(2)) and first.complete
    assert torch.equal(second.value("da").tensor, torch.full((3,), 2.0)) and second.complete
    assert second.error.line == 3
    timed_out = failed_runs({"status": "timeout"}, 10.0, 2)
    assert [r.error.kind for r in timed_out] == ["timeout", "timeout"]
    assert not timed_out[1].complete and timed_out[1].skipped
