"""Writes and reads safetensors files with an independent Python implementation (struct + json + torch).

write PATH: writes known tensors, prints {name: {"dtype", "shape", "values"}}.
read PATH: reads a file written by backsplit, prints {name: {"dtype", "shape", "values"}, "__metadata__": {...}}.
"""
import json
import struct
import sys

import torch

CODES = {torch.float32: "F32", torch.float64: "F64", torch.float16: "F16", torch.bfloat16: "BF16",
         torch.int64: "I64", torch.int32: "I32", torch.uint8: "U8", torch.bool: "BOOL"}
TYPES = {v: k for k, v in CODES.items()}


def raw_bytes(t):
    t = t.contiguous()
    if t.dtype in (torch.float16, torch.bfloat16):
        return t.view(torch.int16).numpy().tobytes()
    return t.numpy().tobytes()


def describe(t):
    return {"dtype": CODES[t.dtype], "shape": list(t.shape), "values": t.double().reshape(-1).tolist()}


def write(path):
    g = torch.Generator().manual_seed(3)
    tensors = {
        "conv.weight": torch.randn(4, 2, 3, 3, 3, generator=g),
        "half": torch.randn(5, generator=g).half(),
        "brain": torch.randn(2, 3, generator=g).bfloat16(),
        "steps": torch.tensor([1, -2, 2 ** 40]),
        "labels": torch.tensor([[0, 255], [7, 9]], dtype=torch.uint8),
        "mask": torch.tensor([True, False, True]),
        "double": torch.tensor([1e-300, 2.5], dtype=torch.float64),
    }
    header, chunks, offset = {"__metadata__": {"format": "pt", "writer": "python"}}, [], 0
    for name, t in tensors.items():
        b = raw_bytes(t)
        header[name] = {"dtype": CODES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        chunks.append(b)
        offset += len(b)
    h = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(chunks))
    json.dump({k: describe(t) for k, t in tensors.items()}, sys.stdout)


def read(path):
    data = open(path, "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    out = {"__metadata__": header.pop("__metadata__", {}), "__header_aligned__": (8 + n) % 8 == 0}
    for name, e in header.items():
        b, end = e["data_offsets"]
        buf = bytearray(data[8 + n + b:8 + n + end])
        dtype = TYPES[e["dtype"]]
        if dtype in (torch.float16, torch.bfloat16):
            t = torch.frombuffer(buf, dtype=torch.int16).view(dtype) if buf else torch.empty(0, dtype=dtype)
        else:
            t = torch.frombuffer(buf, dtype=dtype) if buf else torch.empty(0, dtype=dtype)
        out[name] = describe(t.reshape(e["shape"]))
    json.dump(out, sys.stdout)


{"write": write, "read": read}[sys.argv[1]](sys.argv[2])
