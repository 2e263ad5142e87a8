"""Shared helpers: environment, statistics, machine description, child-process runner."""
from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
WORK = BENCH / ".work"
SEEDS = ROOT / "seeds"

ENV = {
    "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False",
    "GRADIO_ANALYTICS_ENABLED": "False", "OLLAMA_HOST": "http://127.0.0.1:9", "TOKENIZERS_PARALLELISM": "false",
}


def setup_env() -> None:
    for k, v in ENV.items():
        os.environ.setdefault(k, v)


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(ENV)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def pct(values: list[float], p: float) -> float:
    """Nearest-rank style percentile with linear interpolation (p in 0..100)."""
    if not values:
        return float("nan")
    v = sorted(values)
    if len(v) == 1:
        return v[0]
    pos = (len(v) - 1) * p / 100
    lo = int(pos)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (pos - lo)


def agg(values: list[float]) -> dict[str, float]:
    """Median of repeated runs with min, max and n."""
    vals = [float(x) for x in values if x is not None]
    if not vals:
        return {"median": None, "min": None, "max": None, "n": 0}
    return {"median": round(statistics.median(vals), 3), "min": round(min(vals), 3), "max": round(max(vals), 3), "n": len(vals)}


def peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def tree_rss_mb(pid: int) -> float:
    import psutil

    try:
        p = psutil.Process(pid)
        procs = [p] + p.children(recursive=True)
    except psutil.NoSuchProcess:
        return 0.0
    total = 0
    for q in procs:
        try:
            total += q.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total / 2**20


def machine() -> dict:
    import psutil

    info = {
        "cpu_count_logical": os.cpu_count(), "cpu_count_physical": psutil.cpu_count(logical=False),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1), "python": platform.python_version(),
        "platform": platform.platform(), "processor": _cpu_model(), "load_avg_at_start": [round(x, 2) for x in os.getloadavg()],
        "cpu_flags": _cpu_flags(),
    }
    versions = {}
    for mod in ("app", "llama_cpp", "chromadb", "llama_index.core", "openvino", "nncf", "onnxruntime", "torch", "transformers", "bm25s", "gradio", "numpy"):
        try:
            if mod == "chromadb":  # only index/store.py imports chromadb; its version comes from the metadata
                from importlib.metadata import version

                versions[mod] = version("chromadb")
                continue
            m = __import__(mod, fromlist=["__version__"])
            versions[mod] = getattr(m, "__version__", "?")
        except Exception:
            versions[mod] = "not installed"
    info["versions"] = versions
    try:
        info["git_commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    except Exception:
        info["git_commit"] = ""
    return info


def _cpu_flags() -> list[str]:
    """The CPU flags that decide embedder speed (int8 needs VNNI/AMX to beat fp32)."""
    from bench.inputs import cpu_flags

    return cpu_flags()["flags"]


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def run_child(task: str, args: dict, timeout: float = 3600) -> dict:
    """Run `python -m bench.child TASK JSON` in a fresh process; it prints one JSON line prefixed with RESULT."""
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "bench.child", task, json.dumps(args)], cwd=ROOT, env=child_env(),
                          capture_output=True, text=True, timeout=timeout)
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("RESULT "):
            out = json.loads(line[7:])
            out.setdefault("wall_s", time.perf_counter() - t0)
            return out
    raise RuntimeError(f"bench child {task} failed (rc={proc.returncode}): {proc.stderr[-2000:]}")


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)
