#!/usr/bin/env python3
"""Writes the seed corpora of Fuzz/corpus/<target>/ from the test fixtures and a few hand-made inputs.

Run from the repository root: python3 Fuzz/make_corpus.py (it replaces Fuzz/corpus/). The seeds are committed;
rerun this only when the fixtures change. Keep the total small (well under 1 MB).
"""
import hashlib
import json
import os
import re
import shutil
import struct

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Fuzz", "corpus")


def write(target, name, data):
    if isinstance(data, str):
        data = data.encode()
    directory = os.path.join(OUT, target)
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, name), "wb") as f:
        f.write(data)


def read(*path):
    with open(os.path.join(ROOT, *path), "rb") as f:
        return f.read()


def http():
    """Byte 0 is the harness's control byte: bits 0-6 the split pattern, bit 7 the tight limits."""
    body = b'{"model":"tiny-llama","prompt":"Hi","max_tokens":4}'
    requests = {
        "get": b"GET /v1/models HTTP/1.1\r\nHost: localhost\r\n\r\n",
        "post-length": b"POST /v1/completions HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n"
                       b"Content-Length: %d\r\n\r\n%s" % (len(body), body),
        "chunked-trailers": b"POST /v1/adapters HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                            b"5;name=value\r\nhello\r\n1A \r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-Trailer: t\r\n\r\n",
        "pipelined": b"GET /health HTTP/1.1\r\n\r\nPOST /echo HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
                     b"DELETE /v1/adapters/sql HTTP/1.1\r\nConnection: close\r\n\r\n",
        "http10-keepalive": b"GET / HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n",
        "expect-continue": b"POST /echo HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok",
        "bare-lf-blank-lines": b"\r\n\nGET /a?b=c HTTP/1.1\nX-A:  spaced value \t\nconnection: Upgrade, close\n\n",
        "absolute-form": b"OPTIONS http://localhost:8080/v1/models?x=1 HTTP/1.1\r\nHost: localhost\r\n\r\n",
        "content-length-list": b"PUT /x HTTP/1.1\r\nContent-Length: 2, 2\r\nContent-Length: 2\r\n\r\nhi",
    }
    for i, (name, request) in enumerate(sorted(requests.items())):
        write("http-parser", name, bytes([i * 13 % 128]) + request)
    for name in ("chunked-trailers", "post-length", "pipelined"):
        write("http-parser", name + "-tight", bytes([0x80 | 7]) + requests[name])


def wire():
    bodies = {
        "completion-text.json": {"model": "tiny-llama", "prompt": "Hello, my name is", "max_tokens": 16, "temperature": 0},
        "completion-tokens.json": {"model": "a1-r8-qv", "prompt": [2037, 39, 512], "max_tokens": 500,
                                   "ignore_eos": True, "stream": True, "seed": -7},
        "completion-all-options.json": {"model": "m", "prompt": ["one"], "n": 1, "best_of": 1, "echo": False,
                                        "top_p": 0.9, "top_k": 40, "stop": ["\n", "END"], "logprobs": 3,
                                        "return_token_ids": True, "adapter_scale": 0.5,
                                        "lookahead": {"w": 5, "n": 4, "g": 5}},
        "completion-lookahead-off.json": {"model": "m", "prompt": "x", "lookahead": "off", "stop": "###",
                                          "seed": 9007199254740993, "max_tokens": None},
        "chat.json": {"model": "a0-r4-all", "messages": [{"role": "system", "content": "Be brief."},
                                                         {"role": "user", "content": "Hi"}],
                      "max_completion_tokens": 12, "logprobs": True, "top_logprobs": 2},
        "chat-parts.json": {"model": "m", "messages": [{"role": "user", "content": [{"type": "text", "text": "a"},
                                                                                    {"type": "text", "text": "b"}]}],
                            "stream": True, "temperature": 1.5},
        "error.json": {"error": {"message": "adapter \"sql\" not found", "type": "not_found_error", "code": "not_found"}},
    }
    for name, body in bodies.items():
        write("wire-json", name, json.dumps(body, separators=(",", ":")))
    write("wire-json", "lookahead-cli.txt", "5,4,5")


def safetensors_file(tensors, metadata=None, pad=True):
    """tensors: [(name, dtype, shape)], laid out in order; data bytes are a counter."""
    sizes = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1,
             "U16": 2, "U32": 4, "U64": 8, "F8_E4M3": 1, "F8_E5M2": 1}
    header, offset = {}, 0
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape in tensors:
        n = sizes[dtype]
        for d in shape:
            n *= d
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + n]}
        offset += n
    text = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        text += b" " * (-len(text) % 8)   # as the reference writer pads
    return struct.pack("<Q", len(text)) + text + bytes(i % 251 for i in range(offset))


def safetensors():
    lora = "base_model.model.model.layers.0.self_attn.%s_proj.lora_%s.weight"
    write("safetensors-header", "adapter-f32.safetensors", safetensors_file(
        [(lora % (m, ab), "F32", [4, 8] if ab == "A" else [8, 4]) for m in ("q", "v") for ab in ("A", "B")],
        metadata={"format": "pt"}))
    write("safetensors-header", "model-bf16.safetensors", safetensors_file(
        [("model.embed_tokens.weight", "BF16", [16, 8]), ("model.norm.weight", "F16", [8]),
         ("lm_head.weight", "BF16", [16, 8])]))
    write("safetensors-header", "every-dtype.safetensors", safetensors_file(
        [("t_" + d.lower(), d, [3]) for d in ("F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL",
                                              "U16", "U32", "U64", "F8_E4M3", "F8_E5M2")], pad=False))
    write("safetensors-header", "empty-and-scalar.safetensors", safetensors_file(
        [("empty", "F32", [0, 5]), ("scalar", "F32", []), ("vector", "I8", [2])], metadata={}))
    write("safetensors-header", "no-tensors.safetensors", safetensors_file([], metadata={"a": "b"}))


def tokenizers():
    for name in ("bytelevel-llama3", "spm-llama2"):
        base = ("Tests", "Fixtures", "tokenizers", name)
        write("tokenizer", name, read(*base, "tokenizer.json") + b"\0" + read(*base, "tokenizer_config.json"))
    source = read("Tests", "TokenizationTests", "GeneratedStageCases.swift").decode()
    models = json.loads(re.search(r'modelsJSON = ####"(.*?)"####', source, re.S).group(1))
    for case in json.loads(re.search(r'casesJSON = ####"(.*?)"####', source, re.S).group(1)):
        # As StageCases.document builds it: the parts with "model" appended.
        write("tokenizer", "stage-" + case["name"], case["parts"][:-1] + ', "model": ' + models[case["model"]] + "}")
    config = {"bos_token": {"content": "<s>"}, "eos_token": "</s>", "add_bos_token": True, "add_eos_token": False,
              "chat_template": [{"name": "default", "template": "{{ messages }}"}, {"name": "tool_use", "template": "x"}]}
    small = '{"model": {"type": "BPE", "vocab": {"<s>": 0, "</s>": 1, "a": 2, "b": 3, "ab": 4}, "merges": ["a b"]}}'
    write("tokenizer", "small-with-config", small + "\0" + json.dumps(config))


def peft():
    base = os.path.join("Tests", "Fixtures", "tiny-llama", "adapters")
    for name in sorted(os.listdir(os.path.join(ROOT, base))):
        write("peft-config", name + ".json", read(base, name, "adapter_config.json"))
    variants = {
        "regex-targets.json": {"peft_type": "LORA", "r": 8, "lora_alpha": 16,
                               "target_modules": r".*\.layers\.(0|1)\.self_attn\.(q|v)_proj"},
        "patterns.json": {"r": 4, "target_modules": ["q_proj", "v_proj"], "rank_pattern": {"q_proj": 8,
                          "layers.1.self_attn.v_proj": 2}, "alpha_pattern": {"v_proj": 32.5}, "layers_to_transform": [0, 1],
                          "use_rslora": False, "fan_in_fan_out": False, "modules_to_save": []},
        "single-layer.json": {"peft_type": "lora", "r": 2.0, "target_modules": ["down_proj"], "layers_to_transform": 1,
                              "bias": "none", "use_dora": None},
    }
    for name, config in variants.items():
        write("peft-config", name, json.dumps(config))


def templates():
    golden = json.loads(read("Tests", "ChatTemplateTests", "Fixtures", "golden.json"))
    for name, source in golden["templates"].items():
        write("chat-template", "template-" + name, source)
    for snippet in golden["snippets"]:
        # Snippet names hold "/"; a digest keeps the file names short and unique.
        name = re.sub(r"[^A-Za-z0-9_.-]", "_", snippet["name"])[:40]
        write("chat-template", "snippet-%s-%s" % (name, hashlib.sha1(snippet["source"].encode()).hexdigest()[:6]),
              snippet["source"])


def gguf_string(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def gguf_value(t, v):
    """GGUF value bytes of type id t (9: v is (element type, items))."""
    if t == 8:
        return gguf_string(v)
    if t == 9:
        et, items = v
        return struct.pack("<IQ", et, len(items)) + b"".join(gguf_value(et, x) for x in items)
    return struct.pack("<" + {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q",
                              12: "d"}[t], v)


def gguf_file(kvs, tensors, alignment=32):
    """kvs: [(key, type, value)]; tensors: [(name, shape in ggml order, type id, data bytes)]."""
    out = struct.pack("<4sIQQ", b"GGUF", 3, len(tensors), len(kvs))
    for key, t, v in kvs:
        out += gguf_string(key) + struct.pack("<I", t) + gguf_value(t, v)
    offset, data = 0, b""
    for name, shape, t, raw in tensors:
        out += gguf_string(name) + struct.pack("<I", len(shape)) + b"".join(struct.pack("<Q", d) for d in shape)
        out += struct.pack("<IQ", t, offset)
        padded = raw + bytes(-len(raw) % alignment)
        data += padded
        offset += len(padded)
    out += bytes(-len(out) % alignment)
    return out + data


def gguf():
    every = [("u8", 0, 7), ("i8", 1, -7), ("u16", 2, 700), ("i16", 3, -700), ("u32", 4, 70000), ("i32", 5, -70000),
             ("f32", 6, 0.5), ("bool", 7, True), ("str", 8, "hi"), ("u64", 10, 2**40), ("i64", 11, -2**40),
             ("f64", 12, 0.25), ("arr", 9, (8, ["a", "b"])), ("nested", 9, (9, [(4, [1, 2]), (0, [])]))]
    write("gguf", "every-value-type.gguf", gguf_file(every, []))
    llama = [("general.architecture", 8, "llama"), ("general.alignment", 4, 64),
             ("llama.block_count", 4, 1), ("llama.embedding_length", 4, 32),
             ("tokenizer.ggml.model", 8, "gpt2"), ("tokenizer.ggml.pre", 8, "llama-bpe"),
             ("tokenizer.ggml.tokens", 9, (8, ["a", "b", "<s>"])), ("tokenizer.ggml.merges", 9, (8, ["a b"])),
             ("tokenizer.ggml.token_type", 9, (5, [1, 1, 3])), ("tokenizer.ggml.bos_token_id", 4, 2)]
    tensors = [("token_embd.weight", [32, 3], 0, bytes(384)), ("blk.0.attn_q.weight", [32, 32], 8, bytes(34 * 32)),
               ("blk.0.ffn_down.weight", [256, 1], 12, bytes(144)), ("output_norm.weight", [32], 30, bytes(64))]
    write("gguf", "llama-like.gguf", gguf_file(llama, tensors, alignment=64))
    write("gguf", "q-types.gguf", gguf_file([], [("a", [32], t, bytes(n)) for t, n in
                                                ((2, 18), (3, 20), (6, 22), (7, 24), (8, 34))]))
    write("gguf", "empty.gguf", gguf_file([], []))


if __name__ == "__main__":
    shutil.rmtree(OUT, ignore_errors=True)
    http()
    wire()
    safetensors()
    tokenizers()
    peft()
    templates()
    gguf()
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(OUT) for f in fs)
    print("wrote %s (%d bytes)" % (os.path.relpath(OUT, ROOT), total))
