#!/usr/bin/env python3
"""Writes a Hugging Face tokenizer.json (byte-level BPE) from a GGUF file's tokenizer, for benchmarks that need a
real vocabulary in lorad's tokenizer format (e.g. `lorad bench grammar` on SmolLM2's 49k vocabulary).

    python3 scripts/gguf_tokenizer_json.py MODEL.gguf OUT_DIR     (needs the `gguf` package)

Only `tokenizer.ggml.model == "gpt2"` (byte-level BPE) is handled, with GPT-2's pre-tokenizer: the vocabulary and
each token's bytes are exact, the split of text before BPE may differ from the model's (e.g. Llama 3's regex). Token types 3 (control) become special added
tokens; tokenizer_config.json gets the EOS token. Not used by the build or the tests.
"""
import json
import os
import sys

from gguf import GGUFReader


def field(reader, key):
    f = reader.fields[key]
    if len(f.data) == 1 and f.types[0].name != "ARRAY":
        return f.parts[f.data[0]].tolist()[0] if f.types[0].name != "STRING" else bytes(f.parts[f.data[0]]).decode()
    return [bytes(f.parts[i]).decode() if f.types[-1].name == "STRING" else f.parts[i].tolist()[0] for i in f.data]


def main():
    path, out = sys.argv[1], sys.argv[2]
    r = GGUFReader(path)
    if field(r, "tokenizer.ggml.model") != "gpt2":
        sys.exit("only byte-level BPE (gpt2) tokenizers are handled")
    tokens = field(r, "tokenizer.ggml.tokens")
    types = field(r, "tokenizer.ggml.token_type")
    merges = field(r, "tokenizer.ggml.merges")
    eos = field(r, "tokenizer.ggml.eos_token_id")
    added = [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False,
              "special": True} for i, (t, ty) in enumerate(zip(tokens, types)) if ty == 3]
    doc = {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added, "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                  "vocab": {t: i for i, t in enumerate(tokens)}, "merges": merges},
    }
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "tokenizer.json"), "w") as f:
        json.dump(doc, f, ensure_ascii=False)
    with open(os.path.join(out, "tokenizer_config.json"), "w") as f:
        json.dump({"eos_token": tokens[eos]}, f)
    print(f"{len(tokens)} tokens, {len(merges)} merges, {len(added)} special -> {out}")


if __name__ == "__main__":
    main()
