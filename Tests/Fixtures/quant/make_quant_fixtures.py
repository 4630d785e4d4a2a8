#!/usr/bin/env python3
"""Reference fixtures for lorad's quantized block formats (Tests/KernelsTests/QuantFormatTests.swift).

For every type it writes, in this folder:
  TYPE.input.f32     4096 float32 values (16 chunks of 256, each drawn from a different distribution)
  TYPE.ggml.q        those values quantized by ggml's own C (ggml_quantize_chunk without an importance matrix,
                     which is what llama-quantize runs), from llama.cpp's libggml-base.so
  TYPE.ggml.f32      gguf-py's dequantization of TYPE.ggml.q
  TYPE.random.q      random blocks (random bytes; the f16 scale fields random finite halves)
  TYPE.random.f32    gguf-py's dequantization of TYPE.random.q
and, for the types gguf-py can quantize itself (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, BF16), checks that its bytes equal
ggml's (it stops if not).

Made with (llama.cpp of llama-cpp-python 0.3.36, gguf-py 0.19.0 from the same folder, numpy 2.4.6):
  LLAMA=/work/peers/llama_cpp_python-0.3.36/vendor/llama.cpp
  PYTHONPATH=$LLAMA/gguf-py python3 Tests/Fixtures/quant/make_quant_fixtures.py $LLAMA/build/bin/libggml-base.so
"""
import ctypes
import os
import sys

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf import quants

HERE = os.path.dirname(os.path.abspath(__file__))
N_QUANT = 4096
N_RANDOM = 2048

TYPES = ["F32", "F16", "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q4_K", "Q5_K", "Q6_K"]
# Byte offsets of the f16 scale fields inside one block, and the block size in bytes.
HALF_FIELDS = {"Q4_0": ([0], 18), "Q4_1": ([0, 2], 20), "Q5_0": ([0], 22), "Q5_1": ([0, 2], 24),
               "Q8_0": ([0], 34), "Q4_K": ([0, 2], 144), "Q5_K": ([0, 2], 176), "Q6_K": ([208], 210)}


def inputs(rng: np.random.Generator) -> np.ndarray:
    chunks = [
        rng.standard_normal(256),                       # weights-like
        rng.standard_normal(256) * 0.02,                # small, as in real checkpoints
        rng.uniform(-1, 1, 256),
        rng.standard_t(3, 256),                         # heavy tails
        rng.uniform(0.5, 2.0, 256),                     # all positive (min terms)
        -rng.uniform(0.5, 2.0, 256),                    # all negative
        np.zeros(256),                                  # all zero
        np.full(256, 0.37),                             # constant
        np.where(np.arange(256) == 77, 50.0, rng.standard_normal(256) * 1e-3),  # one outlier
        rng.standard_normal(256) * 1e-7,                # tiny (f16 scales underflow to subnormals)
        rng.standard_normal(256) * 300.0,               # large
        np.round(rng.standard_normal(256) * 4) / 4,     # many ties
        np.concatenate([np.zeros(128), rng.standard_normal(128)]),  # half-zero super-block
        rng.laplace(0, 1, 256),
        rng.standard_normal(256) * np.repeat(rng.uniform(0.01, 3, 16), 16),  # sub-block scales differ
        rng.standard_normal(256) + 3.0,                 # offset
    ]
    return np.concatenate(chunks).astype(np.float32)


def ggml_quantize(lib, qtype: int, x: np.ndarray, row_bytes: int) -> bytes:
    n = x.size
    dst = ctypes.create_string_buffer(row_bytes)
    lib.ggml_quantize_chunk.restype = ctypes.c_size_t
    lib.ggml_quantize_chunk.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64,
                                        ctypes.c_int64, ctypes.c_void_p]
    written = lib.ggml_quantize_chunk(qtype, x.ctypes.data, dst, 0, 1, n, None)
    assert written == row_bytes, (qtype, written, row_bytes)
    return dst.raw


def random_blocks(rng: np.random.Generator, name: str) -> bytes:
    if name == "F32":
        return (rng.standard_normal(N_RANDOM) * 10).astype(np.float32).tobytes()
    if name == "F16":
        return (rng.standard_normal(N_RANDOM) * 10).astype(np.float16).tobytes()
    if name == "BF16":
        bits = rng.integers(0, 1 << 16, N_RANDOM, dtype=np.uint32)
        exp = (bits >> 7) & 0xFF
        bits = np.where(exp == 0xFF, bits & ~np.uint32(0x4000), bits)  # no Inf/NaN
        return bits.astype(np.uint16).tobytes()
    fields, size = HALF_FIELDS[name]
    block_elems = 256 if name.endswith("_K") else 32
    nb = N_RANDOM // block_elems
    raw = rng.integers(0, 256, nb * size, dtype=np.uint8).reshape(nb, size)
    for off in fields:
        halves = (rng.standard_normal(nb) * np.exp(rng.uniform(-12, 2, nb))).astype(np.float16)
        raw[:, off:off + 2] = halves.view(np.uint8).reshape(nb, 2)
    return raw.tobytes()


def main() -> None:
    lib = ctypes.CDLL(sys.argv[1])
    rng = np.random.default_rng(20261208)
    for name in TYPES:
        qt = T[name]
        x = inputs(rng)
        block_elems, block_bytes = quants.GGML_QUANT_SIZES[qt]
        q = ggml_quantize(lib, int(qt), x, N_QUANT // block_elems * block_bytes)
        if name in ("Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "BF16"):
            py = quants.quantize(x.reshape(1, -1), qt).tobytes()
            assert py == q, f"gguf-py and ggml disagree on {name}"
        deq = quants.dequantize(np.frombuffer(q, dtype=np.uint8), qt).astype(np.float32)
        r = random_blocks(rng, name)
        rdeq = quants.dequantize(np.frombuffer(r, dtype=np.uint8), qt).astype(np.float32)
        assert rdeq.size == N_RANDOM and deq.size == N_QUANT
        for suffix, data in (("input.f32", x.tobytes()), ("ggml.q", q), ("ggml.f32", deq.tobytes()),
                             ("random.q", r), ("random.f32", rdeq.tobytes())):
            with open(os.path.join(HERE, f"{name}.{suffix}"), "wb") as f:
                f.write(data)
        print(name, len(q), "bytes quantized;", len(r), "random bytes")


if __name__ == "__main__":
    main()
