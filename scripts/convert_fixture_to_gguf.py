#!/usr/bin/env python3
"""Runs llama.cpp's convert_hf_to_gguf.py on a fixture model whose tokenizer the converter does not recognise.

The converter identifies a BPE pre-tokenizer by hashing the token ids of a probe text; the fixture tokenizers are
made for the tests (Llama-3 split regex, 2048-token vocabulary), so no hash matches. This wrapper names the
pre-tokenizer instead (default "llama-bpe", the Llama-3 regex the fixture uses) and otherwise runs the converter
unchanged:

    LLAMA_CPP=/path/to/llama.cpp python scripts/convert_fixture_to_gguf.py [--pre llama-bpe] -- \
        Tests/Fixtures/tiny-llama --outtype f32 --outfile Tests/Fixtures/gguf/tiny-llama-f32.gguf
"""
import os
import runpy
import sys

args = sys.argv[1:]
pre = "llama-bpe"
if args[:1] == ["--pre"]:
    pre, args = args[1], args[2:]
if args[:1] == ["--"]:
    args = args[1:]
root = os.environ["LLAMA_CPP"]
sys.path.insert(0, root)
sys.path.insert(1, os.path.join(root, "gguf-py"))
import conversion.base  # noqa: E402

conversion.base.TextModel.get_vocab_base_pre = lambda self, tokenizer: pre
sys.argv = [os.path.join(root, "convert_hf_to_gguf.py")] + args
runpy.run_path(sys.argv[0], run_name="__main__")
