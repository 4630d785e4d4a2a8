#!/usr/bin/env python3
"""Three lorad replicas on this machine behind a small router of this script's own: round-robin against the
inference extension's LoRA-affinity scheduling, driven by the same Zipf workload.

What it shows: the series lorad exposes for the gateway's endpoint picker (lorad_lora_requests_info with max_lora,
running_lora_adapters, waiting_lora_adapters; lorad_sequences_waiting; lorad_pool_kv_usage_ratio) carry what the
picker needs to keep each adapter on few replicas. It is not a router to ship.

The affinity router is the extension's documented decision tree for a critical request (EPP v0.3 scheduler,
pkg/epp/scheduling/scheduler.go, "lowLatencyFilter"), over each replica's /metrics scraped every 50 ms (the EPP's
default refresh interval):
    low queueing (waiting < 128)  --ok-->  LoRA affinity  --ok/fail-->  least queuing  -->  least KV cache
                                  --fail-> least queuing  -->  LoRA affinity  -->  least KV cache
    then one replica at random among those left.
LoRA affinity (lora_affinity_filter.go): replicas with the adapter running or waiting form the affinity group;
replicas with fewer running + waiting adapters than max_lora the available group; with both non-empty the
affinity group is taken with probability 0.999; an empty result hands the input on. The metrics are read as the
EPP reads them: running/waiting lists split on ",", a series with both lists empty leaves the previous reading.

Everything is on loopback and Unix sockets; every loop is bounded (requests, rounds, timeouts).

  python3 scripts/bench_replica_affinity.py [--lorad .build/release/lorad] [--model-dir bench-models/replicas]
      [--requests 240] [--concurrency 6] [--adapters 30] [--max-loras 8] [--zipf 1.0] [--max-tokens 16]
      [--rounds 2] [--rank 32] [--threads 1] [--seed 7] [--json FILE]
      [--adapters-from DIR --model-dir MODEL] [--expect-fewer-loads]
"""
import argparse
import http.client
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

# --- talking to lorad ---------------------------------------------------------------------------------------------


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=300):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


def complete(socket_path, adapter, max_tokens, prompt):
    conn = UnixHTTPConnection(socket_path)
    body = json.dumps({"model": adapter, "prompt": prompt, "max_tokens": max_tokens, "ignore_eos": True,
                       "temperature": 0})
    try:
        conn.request("POST", "/v1/completions", body=body, headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        data = json.loads(r.read())
    finally:
        conn.close()
    if r.status != 200:
        raise RuntimeError(f"HTTP {r.status}: {data}")
    return data["usage"]["completion_tokens"]


def scrape(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        return r.read().decode()


SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text):
    """name -> list of (labels dict, value)."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        if m:
            labels = dict(LABEL.findall(m.group(2) or ""))
            out.setdefault(m.group(1), []).append((labels, float(m.group(3))))
    return out


# --- the replicas -------------------------------------------------------------------------------------------------


class Replica:
    def __init__(self, lorad, model_dir, data_dir, socket_path, files, args):
        self.socket_path = socket_path
        self.log_path = data_dir + ".log"
        self.log = open(self.log_path, "w")
        cmd = [lorad, "serve", "--model", model_dir, "--data-dir", data_dir, "--socket", socket_path,
               "--threads", str(args.threads), "--pool-memory", args.pool_memory, "--max-loras", str(args.max_loras),
               "--lookahead", "off", "--listen-metrics", "127.0.0.1:0",
               "--adapter-root", args.adapter_root, "--adapters-file", files]
        self.process = subprocess.Popen(cmd, stderr=self.log, stdout=subprocess.DEVNULL)
        deadline = time.time() + 600
        self.metrics_port = None
        while self.metrics_port is None:
            if self.process.poll() is not None:
                raise RuntimeError(f"lorad exited: {open(self.log_path).read()}")
            if time.time() > deadline:
                raise RuntimeError(f"lorad not ready after 600 s: {open(self.log_path).read()}")
            m = re.search(r"metrics on 127\.0\.0\.1:(\d+)", open(self.log_path).read())
            if m:
                self.metrics_port = int(m.group(1))
            time.sleep(0.1)

    def counters(self):
        m = parse_metrics(scrape(self.metrics_port))
        value = lambda name: m.get(name, [({}, 0.0)])[0][1]
        return {"loads": value("lorad_adapter_loads_total"), "evictions": value("lorad_adapter_evictions_total"),
                "load_seconds": value("lorad_adapter_load_seconds_total"),
                "tokens": value("lorad_tokens_generated_total"), "steps": value("lorad_steps_total")}

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


# --- the routers --------------------------------------------------------------------------------------------------


class RoundRobin:
    name = "round-robin"

    def __init__(self, replicas):
        self.n = len(replicas)
        self.next = 0
        self.lock = threading.Lock()

    def pick(self, adapter):
        with self.lock:
            i = self.next
            self.next = (self.next + 1) % self.n
            return i

    def close(self):
        pass


class PodMetrics:
    def __init__(self):
        self.waiting = 0
        self.kv = 0.0
        self.active = set()
        self.waiting_models = set()
        self.max_active = 0


class LoRAAffinity:
    """The EPP's scheduling for a critical request, over the replicas' /metrics."""
    name = "lora-affinity"
    queueing_threshold_lora = 128
    lora_affinity_threshold = 0.999

    def __init__(self, replicas, refresh=0.05, seed=0):
        self.replicas = replicas
        self.pods = [PodMetrics() for _ in replicas]
        self.lock = threading.Lock()
        self.rng = random.Random(seed)
        self.stopping = threading.Event()
        queue_and_kv = (self.least_queuing, (self.least_kv, None, None), (self.least_kv, None, None))
        lora_then_kv = (self.lora_affinity, (self.least_kv, None, None), (self.least_kv, None, None))
        queue_lora_kv = (self.least_queuing, lora_then_kv, lora_then_kv)
        self.low_latency = (self.low_queueing, (self.lora_affinity, queue_and_kv, queue_and_kv), queue_lora_kv)
        self.refresh_all()
        self.thread = threading.Thread(target=self.refresh_loop, args=(refresh,), daemon=True)
        self.thread.start()

    def refresh_loop(self, interval):
        while not self.stopping.wait(interval):
            self.refresh_all()

    def refresh_all(self):
        for i, r in enumerate(self.replicas):
            m = parse_metrics(scrape(r.metrics_port))
            with self.lock:
                pod = self.pods[i]
                pod.waiting = int(m["lorad_sequences_waiting"][0][1])
                pod.kv = m["lorad_pool_kv_usage_ratio"][0][1]
                # As the EPP: the newest series with a non-empty list; none leaves the previous reading.
                latest = None
                for labels, stamp in m.get("lorad_lora_requests_info", []):
                    if (labels.get("running_lora_adapters") or labels.get("waiting_lora_adapters")) and \
                            (latest is None or stamp > latest[1]):
                        latest = (labels, stamp)
                if latest:
                    labels = latest[0]
                    pod.active = set(a for a in labels.get("running_lora_adapters", "").split(",") if a)
                    pod.waiting_models = set(a for a in labels.get("waiting_lora_adapters", "").split(",") if a)
                    if labels.get("max_lora"):
                        pod.max_active = int(labels["max_lora"])

    # Filters take and return replica indices; `pods` is a snapshot.
    def low_queueing(self, pods, ids, adapter):
        return [i for i in ids if pods[i].waiting < self.queueing_threshold_lora]

    def least_queuing(self, pods, ids, adapter):
        lo, hi = min(pods[i].waiting for i in ids), max(pods[i].waiting for i in ids)
        return [i for i in ids if pods[i].waiting <= lo + (hi - lo) / len(ids)]

    def least_kv(self, pods, ids, adapter):
        lo, hi = min(pods[i].kv for i in ids), max(pods[i].kv for i in ids)
        return [i for i in ids if pods[i].kv <= lo + (hi - lo) / len(ids)]

    def lora_affinity(self, pods, ids, adapter):
        affinity = [i for i in ids if adapter in pods[i].active or adapter in pods[i].waiting_models]
        available = [i for i in ids if adapter not in pods[i].active and adapter not in pods[i].waiting_models
                     and len(pods[i].active) + len(pods[i].waiting_models) < pods[i].max_active]
        if affinity and available:
            return affinity if self.rng.random() < self.lora_affinity_threshold else available
        return affinity or available

    def tree(self, pods, ids, adapter, node):
        """node = (filter, next_on_success, next_on_failure); a missing branch ends there."""
        f, on_success, on_failure = node
        out = f(pods, ids, adapter)
        if out:
            return self.tree(pods, out, adapter, on_success) if on_success else out
        return self.tree(pods, ids, adapter, on_failure) if on_failure else out

    def pick(self, adapter):
        with self.lock:
            chosen = self.tree(self.pods, list(range(len(self.pods))), adapter, self.low_latency)
            return self.rng.choice(chosen or list(range(len(self.pods))))

    def close(self):
        self.stopping.set()
        self.thread.join()


# --- the workload -------------------------------------------------------------------------------------------------


def zipf_sequence(names, s, count, seed):
    rng = random.Random(seed)
    weights = [1.0 / (k + 1) ** s for k in range(len(names))]
    names = list(names)
    # Popularity is not alphabetical: shuffle which adapter gets which rank (same for every run).
    rng.shuffle(names)
    return rng.choices(names, weights=weights, k=count)


def run(policy_name, args, model_dir, data_dirs, files, workload):
    sockets = [os.path.join(tempfile.gettempdir(), f"lorad-aff-{os.getpid()}-{i}.sock") for i in range(3)]
    replicas = []
    try:
        for i in range(3):
            replicas.append(Replica(args.lorad, model_dir, data_dirs[i], sockets[i], files, args))
        router = RoundRobin(replicas) if policy_name == "round-robin" else LoRAAffinity(replicas, seed=args.seed)
        before = [r.counters() for r in replicas]
        queue = list(enumerate(workload))
        qlock = threading.Lock()
        latencies, errors, per_replica = [], [], [0, 0, 0]

        def worker():
            while True:
                with qlock:
                    if not queue:
                        return
                    n, adapter = queue.pop(0)
                i = router.pick(adapter)
                start = time.monotonic()
                try:
                    complete(replicas[i].socket_path, adapter, args.max_tokens, f"Request {n} for {adapter}:")
                    with qlock:
                        latencies.append(time.monotonic() - start)
                        per_replica[i] += 1
                except Exception as e:  # noqa: BLE001 - counted and reported
                    with qlock:
                        errors.append(str(e))

        start = time.monotonic()
        threads = [threading.Thread(target=worker) for _ in range(args.concurrency)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.monotonic() - start
        router.close()
        after = [r.counters() for r in replicas]
        delta = {k: sum(a[k] - b[k] for a, b in zip(after, before)) for k in before[0]}
        latencies.sort()
        pct = lambda p: latencies[min(len(latencies) - 1, int(p * len(latencies)))] if latencies else float("nan")
        return {"policy": policy_name, "requests": len(latencies), "errors": len(errors), "error_sample": errors[:3],
                "wall_seconds": wall, "requests_per_second": len(latencies) / wall,
                "tokens_per_second": delta["tokens"] / wall, "adapter_loads": int(delta["loads"]),
                "adapter_evictions": int(delta["evictions"]), "load_seconds": delta["load_seconds"],
                "steps": int(delta["steps"]), "latency_p50": pct(0.5), "latency_p90": pct(0.9),
                "requests_per_replica": per_replica}
    finally:
        for r in replicas:
            r.stop()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--lorad", default=".build/release/lorad")
    p.add_argument("--model-dir", default="bench-models/replicas-smollm-135m")
    p.add_argument("--work-dir", default=None, help="replicas' data dirs (default: a temporary folder)")
    p.add_argument("--requests", type=int, default=240)
    p.add_argument("--concurrency", type=int, default=6)
    p.add_argument("--adapters", type=int, default=30)
    p.add_argument("--max-loras", type=int, default=8)
    p.add_argument("--zipf", type=float, default=1.0)
    p.add_argument("--max-tokens", type=int, default=16)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--rank", type=int, default=32)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--pool-memory", default="512M")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--json", default=None)
    p.add_argument("--expect-fewer-loads", action="store_true",
                   help="exit 1 unless lora-affinity made fewer adapter loads than round-robin (for tests)")
    p.add_argument("--adapters-from", default=None,
                   help="serve the adapter folders in this folder (names: the folders') with the model in --model-dir "
                        "as it is, instead of making a bench model")
    args = p.parse_args()
    for name, value, lo, hi in (("requests", args.requests, 1, 100000), ("concurrency", args.concurrency, 1, 256),
                                ("adapters", args.adapters, 1, 4096), ("rounds", args.rounds, 1, 100)):
        if not lo <= value <= hi:
            sys.exit(f"--{name} must be {lo}..{hi}")

    model_dir = args.model_dir
    marker = os.path.join(model_dir, f".adapters-{args.adapters}-rank-{args.rank}")
    if args.adapters_from:
        root = os.path.abspath(args.adapters_from)
        names = sorted(n for n in os.listdir(root) if os.path.exists(os.path.join(root, n, "adapter_config.json")))
        if not names:
            sys.exit(f"no adapter folders in {root}")
        args.adapters = len(names)
    elif not os.path.exists(marker):
        shutil.rmtree(model_dir, ignore_errors=True)
        subprocess.run([args.lorad, "make-bench-model", model_dir, "--shape", "smollm-135m", "--dtype", "bf16",
                        "--adapters", str(args.adapters), "--rank", str(args.rank)], check=True,
                       stdout=subprocess.DEVNULL)
        open(marker, "w").close()
    model_dir = os.path.abspath(model_dir)
    if not args.adapters_from:
        root = os.path.join(model_dir, "adapters")
        names = [f"adapter-{k:03d}" for k in range(args.adapters)]
    args.adapter_root = root
    work = args.work_dir or tempfile.mkdtemp(prefix="lorad-affinity-")
    os.makedirs(work, exist_ok=True)
    files = os.path.join(work, "adapters")
    with open(files, "w") as f:
        for name in names:
            f.write(f"adapter {name} {root}/{name}\n")
    # The data dirs persist across runs: adapters are copied into each replica's store once; every run starts
    # its replicas afresh, so no adapter is resident at the start of a run.
    data_dirs = [os.path.join(work, f"replica-{i}") for i in range(3)]
    workload = zipf_sequence(names, args.zipf, args.requests, args.seed)
    distinct = len(set(workload))
    print(f"workload: {args.requests} requests over {distinct} of {args.adapters} adapters (Zipf s={args.zipf}), "
          f"{args.concurrency} at a time, {args.max_tokens} tokens each; 3 replicas, --max-loras {args.max_loras}, "
          f"--threads {args.threads}", flush=True)
    results = []
    for rnd in range(args.rounds):
        order = ["round-robin", "lora-affinity"] if rnd % 2 == 0 else ["lora-affinity", "round-robin"]
        for policy in order:
            r = run(policy, args, model_dir, data_dirs, files, workload)
            r["round"] = rnd
            results.append(r)
            print(f"round {rnd} {policy:13s} loads {r['adapter_loads']:4d}  evictions {r['adapter_evictions']:4d}  "
                  f"{r['requests_per_second']:.2f} req/s  {r['tokens_per_second']:.1f} tok/s  "
                  f"p50 {r['latency_p50']:.2f} s  p90 {r['latency_p90']:.2f} s  per replica {r['requests_per_replica']}"
                  f"  errors {r['errors']}", flush=True)
    for policy in ("round-robin", "lora-affinity"):
        rs = [r for r in results if r["policy"] == policy]
        print(f"mean {policy:13s} loads {sum(r['adapter_loads'] for r in rs) / len(rs):.1f}  "
              f"{sum(r['tokens_per_second'] for r in rs) / len(rs):.1f} tok/s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "results": results}, f, indent=2)
    if any(r["errors"] for r in results):
        sys.exit(1)
    if args.expect_fewer_loads:
        mean = lambda policy: sum(r["adapter_loads"] for r in results if r["policy"] == policy)
        if not mean("lora-affinity") < mean("round-robin"):
            sys.exit(f"expected fewer adapter loads with lora-affinity: {mean('lora-affinity')} vs {mean('round-robin')}")


if __name__ == "__main__":
    main()
