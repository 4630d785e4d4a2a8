"""Compares the per-choice loglikelihoods of two lm-eval runs (--log_samples): python3 compare.py OUT_A OUT_B"""
import glob
import json
import sys


def load(out):
    path = glob.glob(f"{out}/**/samples_*.jsonl", recursive=True)[0]
    return {json.loads(line)["doc_id"]: json.loads(line) for line in open(path)}


a, b = load(sys.argv[1]), load(sys.argv[2])
worst, pairs, greedy_same = 0.0, 0, True
for doc in sorted(a):
    ra, rb = a[doc]["resps"], b[doc]["resps"]
    greedy_same &= [r[0][1] for r in ra] == [r[0][1] for r in rb]
    for x, y in zip(ra, rb):
        worst = max(worst, abs(float(x[0][0]) - float(y[0][0])))
        pairs += 1
print(f"{pairs} loglikelihoods, largest difference {worst:.3g}, is_greedy identical: {greedy_same}")
sys.exit(0 if worst < 1e-3 and greedy_same else 1)
