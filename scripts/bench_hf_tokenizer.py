#!/usr/bin/env python3
"""Measure the Hugging Face `tokenizers` library's single-threaded encode rate, with the same methodology as
`lorad bench tokenizer`, so the two numbers can be compared.

Methodology (identical on both sides):
  * the file is read as UTF-8 and split into lines at "\\n" (each line keeps its "\\n");
  * every line is encoded separately, without special tokens (`add_special_tokens=False`);
  * one untimed warm-up pass, then --runs timed passes over all lines; the best pass gives MB/s
    (MB = 10^6 bytes of the file's UTF-8), the median is printed too.
The tokenizer's internal word cache is warm after the first pass on both sides.

Single-threaded: RAYON_NUM_THREADS=1 and TOKENIZERS_PARALLELISM=false are set before `tokenizers` is imported.

Usage:
  python3 scripts/bench_hf_tokenizer.py --model DIR --file F [--runs 5] [--json] [--batch]
  python3 scripts/bench_hf_tokenizer.py --make-file OUT [--size-mb 4]     # build the benchmark corpus
"""
import os

os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

import argparse
import glob
import json
import statistics
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def make_file(out, size_mb):
    """Deterministic corpus: the tokenizer_cases strings, then Python standard-library source in sorted path order,
    until size_mb MB. Non-UTF-8 source files are skipped."""
    target = int(size_mb * 1_000_000)
    parts = []
    total = 0
    with open(os.path.join(REPO, "Tests/Fixtures/tokenizer_cases.json"), encoding="utf-8") as f:
        cases = json.load(f)["cases"]
    for case in cases:
        parts.append(case["text"] + "\n")
        total += len(parts[-1].encode("utf-8"))
    paths = sorted(glob.glob("/usr/lib/python3*/**/*.py", recursive=True))
    for path in paths:
        if total >= target:
            break
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except (UnicodeDecodeError, OSError):
            continue
        data = text.encode("utf-8")
        if total + len(data) > target:
            # cut at a line boundary
            cut = text.encode("utf-8")[: target - total].decode("utf-8", errors="ignore")
            cut = cut[: cut.rfind("\n") + 1]
            text = cut
        parts.append(text)
        total += len(text.encode("utf-8"))
    with open(out, "w", encoding="utf-8", newline="") as f:
        f.write("".join(parts))
    print(f"wrote {out}: {total} bytes", file=sys.stderr)


def split_lines(text):
    lines = text.split("\n")
    out = [line + "\n" for line in lines[:-1]]
    if lines[-1]:
        out.append(lines[-1])
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", help="directory holding tokenizer.json")
    ap.add_argument("--file")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--batch", action="store_true",
                    help="also time encode_batch over all lines (one call, still one thread)")
    ap.add_argument("--make-file")
    ap.add_argument("--size-mb", type=float, default=4.0)
    args = ap.parse_args()
    if args.make_file:
        make_file(args.make_file, args.size_mb)
        return
    if not args.model or not args.file:
        ap.error("--model and --file are required")

    import tokenizers
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(os.path.join(args.model, "tokenizer.json"))
    with open(args.file, encoding="utf-8", newline="") as f:
        text = f.read()
    nbytes = len(text.encode("utf-8"))
    lines = split_lines(text)

    def run_encode():
        n = 0
        t0 = time.perf_counter()
        for line in lines:
            n += len(tok.encode(line, add_special_tokens=False).ids)
        return time.perf_counter() - t0, n

    def run_batch():
        t0 = time.perf_counter()
        encs = tok.encode_batch(lines, add_special_tokens=False)
        n = sum(len(e.ids) for e in encs)
        return time.perf_counter() - t0, n

    modes = [("encode", run_encode)] + ([("encode_batch", run_batch)] if args.batch else [])
    result = {"scenario": "tokenizer", "implementation": "hf-tokenizers", "tokenizers_version": tokenizers.__version__,
              "model": args.model, "file": args.file, "bytes": nbytes, "lines": len(lines), "runs": args.runs}
    for name, fn in modes:
        print(f"hf {name}: warm-up pass", file=sys.stderr)
        _, tokens = fn()
        times = []
        for r in range(args.runs):
            t, _ = fn()
            times.append(t)
            print(f"hf {name}: run {r + 1}/{args.runs}: {nbytes / t / 1e6:.2f} MB/s", file=sys.stderr)
        key = "encode" if name == "encode" else "encode_batch"
        result[f"{key}_mb_per_s"] = round(nbytes / min(times) / 1e6, 3)
        result[f"{key}_median_mb_per_s"] = round(nbytes / statistics.median(times) / 1e6, 3)
        result["tokens"] = tokens
    result["encode_mb_per_s"] = result["encode_mb_per_s"]
    if args.json:
        print(json.dumps(result, sort_keys=True))
    else:
        print(f"hf tokenizers {tokenizers.__version__}: {nbytes} bytes, {len(lines)} lines, {result['tokens']} tokens")
        for name, _ in modes:
            print(f"  {name}: {result[name + '_mb_per_s']:.2f} MB/s best, {result[name + '_median_mb_per_s']:.2f} MB/s median")


if __name__ == "__main__":
    main()
