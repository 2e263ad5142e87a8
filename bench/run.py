"""Run every benchmark and write bench/results.json and bench/results.md.

    python -m bench.run            # full run (~15-20 min on 2 cores)
    python -m bench.run --quick    # smaller corpus and fewer questions (~5 min)

Each task runs in a fresh Python process (bench/child.py) so cold starts and peak memory are real.
Work folders go to bench/.work/ (git-ignored). `--save-baseline` also stores the key figures in
bench/baseline.json, which later runs show as the "before" column of results.md.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from bench.common import BENCH, ROOT, SEEDS, WORK, agg, child_env, log, machine, pct, run_child, setup_env, tree_rss_mb
from bench import report

FULL = {"seed_reps": 3, "real_sizes": [1000, 10000], "real_reps": {1000: 3, 10000: 1}, "pooled_sizes": [100000],
        "retrieval_reps": 3, "n_questions": 50, "answer_reps": 2, "chat_reps": 3}
QUICK = {"seed_reps": 2, "real_sizes": [1000], "real_reps": {1000: 2}, "pooled_sizes": [10000],
         "retrieval_reps": 2, "n_questions": 12, "answer_reps": 1, "chat_reps": 2}


NOTES = [
    "Ingestion chunks/s is measured on the real path (load, clean, chunk, embed with MiniLM, write to Chroma) for the "
    "seeds and the 1k/10k synthetic corpora, timing the ingest call after the embedding model is loaded; the whole "
    "process time including imports and model load is listed separately for the seeds.",
    "The 100k corpus (and the 10k one in --quick) goes through the same ingest code but with a stand-in embedder that "
    "returns the real MiniLM vector of a pooled chunk (up to 2,000 real vectors from the largest real corpus) or a "
    "deterministic small perturbation of one (seeded by the chunk's SHA-256): 100k MiniLM embeddings would take most "
    "of an hour on 2 cores. Queries are embedded with the real model, so retrieval latency is real.",
    "Speed changes in session 1 (before = bench/baseline.json): llama.cpp and torch use fewer threads while other "
    "processes keep the cores busy (a barrier-synchronised thread pool collapses when one thread is preempted: "
    "5 tok/s with 2 threads vs 28 tok/s with 1 on 2 busy cores); flash attention and one 512-token batch for the "
    "prefill; llama.cpp warm-up at load (first-call costs and the system-prompt KV prefix).",
    "Speed changes in session 2 (bench/history/session-2.json): the embedder runs an ONNX copy of MiniLM in ONNX "
    "Runtime, int8 by default (per-channel dynamic quantisation, built once locally from the installed weights), so "
    "answering never imports torch; queries embed in a few ms instead of ~18 ms; text helpers cache per token; the "
    "free-core probe is reused for 0.5 s instead of sampled per call; retrieval changes are described in app/retrieval.py.",
    "Speed changes in session 3 (now): (1) the embedder runs on OpenVINO instead of ONNX Runtime, with one stream per "
    "core (each one thread) instead of one call split over both cores, and int8 is now static (NNCF post-training "
    "quantisation, activation ranges calibrated once on index/calibration.txt) instead of dynamic. Isolated, on 400 "
    "synthetic chunks: ONNX Runtime int8 ~50 chunks/s (55 with two single-thread sessions), OpenVINO static int8 ~70 "
    "synchronous and ~85 with two streams; vectors are closer to fp32 than before (cosine 0.997 mean vs 0.993). "
    "(2) Ingestion is a two-stage pipeline: one file is embedded while the previous one is written to Chroma "
    "(Chroma's add holds the GIL for ~3 ms per chunk at this metadata size, but the model's threads keep running), "
    "and the free-core probe no longer counts this process's own threads as neighbours. (3) `citeqa chat` serves "
    "first and loads the models right after (they used to load during start-up, competing for the 2 cores), and "
    "imports Gradio without its .pyi stub writer (app/chat/fast_import.py; ~0.3 s isolated, ~1 s under load).",
    "Ingestion (target 100 chunks/s, not met): a chunk is ~145 MiniLM word pieces. With static int8 on OpenVINO, "
    "one core spends ~25 ms per chunk (OpenVINO's per-op counters: int8 matrix multiplies 54%, the fused attention "
    "block 30%, the rest layer norms and element-wise ops), so embedding alone tops out near 80-90 chunks/s on "
    "2 cores, before cleaning, chunking and the Chroma write (~5 ms of one core per chunk, 1.3-1.9 ms of it Chroma's "
    "full-text index of the chunk text). Reaching 100 end to end would need a smaller or static embedding model, "
    "or longer chunks (fewer per document); each changes retrieval quality, so it was not traded for the number.",
]


def questions() -> list[str]:
    return [json.loads(line)["question"] for line in (SEEDS / "qa.jsonl").read_text("utf-8").splitlines() if line.strip()]


# ---- phases ------------------------------------------------------------------------------------
def bench_ingest(cfg, res) -> dict[int, Path]:
    from bench.corpus import write_corpus

    seeds_runs, warm_fresh = [], []
    seeds_dir = WORK / "seeds-data"
    for i in range(cfg["seed_reps"]):
        shutil.rmtree(seeds_dir, ignore_errors=True)
        log(f"ingest seeds cold #{i + 1}")
        seeds_runs.append(run_child("ingest", {"data_dir": str(seeds_dir), "docs": str(SEEDS), "warm": True}))
        log(f"ingest seeds warm (fresh process) #{i + 1}")
        warm_fresh.append(run_child("ingest_warm", {"data_dir": str(seeds_dir), "docs": str(SEEDS)}))
    res["ingest"] = {
        "seeds": {
            "chunks": seeds_runs[0]["cold"]["chunks"],
            "cold_chunks_per_s": agg([r["cold"]["chunks_per_s"] for r in seeds_runs]),
            "cold_ingest_s": agg([r["cold"]["seconds"] for r in seeds_runs]),
            "cold_process_total_s": agg([r["cold_total_s"] for r in seeds_runs]),
            "import_s": agg([r["import_s"] for r in seeds_runs]),
            "model_load_s": agg([r["model_load_s"] for r in seeds_runs]),
            "warm_same_process_s": agg([r["warm"]["seconds"] for r in seeds_runs]),
            "warm_fresh_process_s": agg([r["seconds"] for r in warm_fresh]),
            "warm_fresh_process_total_s": agg([r["total_s"] for r in warm_fresh]),
            "warm_embedded": max([r["warm"]["embedded"] for r in seeds_runs] + [r["embedded"] for r in warm_fresh]),
            "peak_rss_mb": agg([r["peak_rss_mb"] for r in seeds_runs]),
        },
        "synthetic": {},
    }
    cache = WORK / "model-cache"
    builds = []
    for i in range(2):
        shutil.rmtree(cache, ignore_errors=True)
        log(f"one-time ONNX embedder build #{i + 1}")
        builds.append(run_child("model_build", {"precision": "int8", "cache": str(cache)}))
    shutil.rmtree(cache, ignore_errors=True)
    res["ingest"]["model_build_s"] = agg([b["seconds"] for b in builds])
    res["ingest"]["model_build_peak_rss_mb"] = agg([b["peak_rss_mb"] for b in builds])
    dirs = {0: seeds_dir}
    for n in cfg["real_sizes"]:
        docs = WORK / f"corpus-{n}"
        write_corpus(docs, n)
        runs = []
        for i in range(cfg["real_reps"][n]):
            d = WORK / f"data-{n}"
            shutil.rmtree(d, ignore_errors=True)
            log(f"ingest synthetic {n} #{i + 1} (real MiniLM embeddings)")
            runs.append(run_child("ingest", {"data_dir": str(d), "docs": str(docs)}, timeout=7200))
        dirs[n] = WORK / f"data-{n}"
        res["ingest"]["synthetic"][str(n)] = {
            "chunks": runs[0]["cold"]["chunks"], "method": "real ingest path (MiniLM embeddings)",
            "chunks_per_s": agg([r["cold"]["chunks_per_s"] for r in runs]),
            "seconds": agg([r["cold"]["seconds"] for r in runs]),
            "embed_share": agg([r["cold"]["embed_seconds"] / r["cold"]["seconds"] for r in runs]),
            "peak_rss_mb": agg([r["peak_rss_mb"] for r in runs]),
        }
    pool_src = dirs[max(cfg["real_sizes"])] if cfg["real_sizes"] else seeds_dir
    for n in cfg["pooled_sizes"]:
        docs = WORK / f"corpus-{n}"
        write_corpus(docs, n)
        d = WORK / f"data-{n}"
        shutil.rmtree(d, ignore_errors=True)
        log(f"build synthetic {n} with pooled vectors")
        r = run_child("build_pooled", {"data_dir": str(d), "docs": str(docs), "pool_data_dir": str(pool_src), "pool_size": 2000}, timeout=7200)
        dirs[n] = d
        res["ingest"]["synthetic"][str(n)] = {
            "chunks": r["chunks"], "pool": r["pool"],
            "method": f"real ingest path (clean, chunk, Chroma write) with vectors from a pool of {r['pool']} real MiniLM "
                      f"vectors, deterministically perturbed (no model calls)",
            "chunks_per_s_no_embedding": agg([r["chunks_per_s_no_embedding"]]), "seconds": agg([r["seconds"]]),
            "peak_rss_mb": agg([r["peak_rss_mb"]]),
        }
    return dirs


def bench_retrieval(cfg, res, dirs) -> None:
    qs = questions()
    res["retrieval"] = {}
    for n in sorted(k for k in dirs if k):
        log(f"retrieval at {n} chunks")
        r = run_child("retrieval", {"data_dir": str(dirs[n]), "queries": qs, "repeats": cfg["retrieval_reps"]})
        res["retrieval"][str(n)] = r


def italian_questions() -> list[str]:
    """Italian questions of the development half: over English-only articles they are translated first."""
    rows = [json.loads(line) for line in (SEEDS / "qa_dev.jsonl").read_text("utf-8").splitlines() if line.strip()]
    return [r["question"] for r in rows if r.get("language") == "it" and r.get("answerable", True)]


def bench_answer(cfg, res, seeds_dir, qs: list[str] | None = None, key: str = "answer") -> None:
    qs = (questions() if qs is None else qs)[: cfg["n_questions"]]
    log(f"answering {len(qs)} questions x {cfg['answer_reps']} ({key})")
    r = run_child("answer", {"data_dir": str(seeds_dir), "questions": qs, "repeats": cfg["answer_reps"]}, timeout=7200)
    per_rep = {k: [] for k in ("ttft_ms", "total_ms", "tokens_per_s", "retrieve_ms", "prompt_ms", "prefill_ms",
                               "generate_ms", "check_ms", "raw_ttft_ms", "overhead_ratio", "prompt_tokens",
                               "ttft_ms_p95", "non_generation_share")}
    refused = 0
    for rows in r["runs"]:
        ans = [x for x in rows if not x["refused"]]
        refused = len(rows) - len(ans)
        for k in ("ttft_ms", "total_ms", "tokens_per_s", "retrieve_ms", "prompt_ms", "prefill_ms", "generate_ms",
                  "check_ms", "raw_ttft_ms", "prompt_tokens"):
            per_rep[k].append(pct([x[k] for x in ans if x.get(k) is not None], 50))
        per_rep["ttft_ms_p95"].append(pct([x["ttft_ms"] for x in ans], 95))
        # overhead ratio of the medians, measured side by side in this run
        per_rep["overhead_ratio"].append(pct([x["ttft_ms"] for x in ans], 50) / pct([x["raw_ttft_ms"] for x in ans], 50))
        # share of the time to first token that is not the model's own prefill
        per_rep["non_generation_share"].append(pct([(x["retrieve_ms"] + x["prompt_ms"]) / x["ttft_ms"] for x in ans], 50))
    res[key] = {"questions": len(qs), "refused": refused, "answered": len(qs) - refused, "repeats": cfg["answer_reps"],
                     "warm_up_s": r["warm_up_s"], "peak_rss_mb": r["peak_rss_mb"],
                     **{k: agg(v) for k, v in per_rep.items()}, "rows": r["runs"][-1]}


def _wait_200(url: str, proc: subprocess.Popen, timeout: float) -> bool:
    end = time.perf_counter() + timeout
    while time.perf_counter() < end:
        if proc.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status == 200:
                    return True
        except Exception:
            pass
        time.sleep(0.05)
    return False


def chat_available() -> tuple[bool, str]:
    try:
        proc = subprocess.run([sys.executable, "-c", "from app.chat import serve; print(callable(serve))"], cwd=ROOT,
                              env=child_env(), capture_output=True, text=True, timeout=120)
        ok = proc.stdout.strip().endswith("True")
        return ok, "" if ok else (proc.stderr.strip().splitlines() or ["app.chat.serve missing"])[-1]
    except Exception as e:
        return False, str(e)


def bench_chat(cfg, res, seeds_dir) -> None:
    ok, why = chat_available()
    env = child_env() | {"CITEQA_BACKEND": "llamacpp"}
    starts, readies, idles, errors = [], [], [], []
    port = 7961
    if ok:
        for i in range(cfg["chat_reps"]):
            log(f"chat cold start #{i + 1}")
            t0 = time.perf_counter()
            proc = subprocess.Popen([sys.executable, "-u", "-m", "app", "chat", "--port", str(port), "--data-dir", str(seeds_dir)],
                                    cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                    start_new_session=True)
            ready: list[float] = []

            def watch(out=proc.stdout, t0=t0, ready=ready):  # "citeqa: models loaded in Xs; ready"
                for line in out:
                    if line.rstrip().endswith("; ready") and not ready:
                        ready.append(time.perf_counter() - t0)

            threading.Thread(target=watch, daemon=True).start()
            try:
                if _wait_200(f"http://127.0.0.1:{port}/", proc, 180):
                    starts.append(time.perf_counter() - t0)
                    deadline = time.perf_counter() + 60
                    while not ready and time.perf_counter() < deadline and proc.poll() is None:
                        time.sleep(0.05)
                    if ready:
                        readies.append(ready[0])
                    time.sleep(3)  # settle after the warm-up, then sample idle memory
                    samples = []
                    for _ in range(5):
                        samples.append(tree_rss_mb(proc.pid))
                        time.sleep(0.4)
                    idles.append(max(samples))
                else:
                    errors.append((proc.stderr.read()[-500:] if proc.poll() is not None else "no 200 within 180 s"))
            finally:
                _stop(proc)
        if starts:
            res["chat"] = {"measured": "citeqa chat --port N --data-dir D: launch until GET / returns 200 (cold start), "
                                       "and until it prints that the models are loaded (ready)",
                           "cold_start_s": agg(starts), "ready_s": agg(readies), "idle_rss_mb": agg(idles), "errors": errors}
            return
        why = "; ".join(errors)[:300]
    # stand-in: cold start of `python -m app ask` until its first output
    log(f"chat not functional ({why}); measuring `python -m app ask` as a stand-in")
    q = questions()[0]
    for i in range(cfg["chat_reps"]):
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "app", "ask", q, "--data-dir", str(seeds_dir)], cwd=ROOT, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True)
        first, peak = None, 0.0
        os.set_blocking(proc.stdout.fileno(), False)
        while proc.poll() is None or first is None:
            peak = max(peak, tree_rss_mb(proc.pid))
            try:
                b = proc.stdout.read(1)
            except Exception:
                b = None
            if b and first is None:
                first = time.perf_counter() - t0
            if proc.poll() is not None and first is None:
                break
            time.sleep(0.02)
        _stop(proc)
        if first:
            starts.append(first)
        idles.append(peak)
    res["chat"] = {"measured": f"STAND-IN (app.chat.serve not functional: {why}): `python -m app ask` until first output; "
                               f"memory is the peak RSS of that process", "cold_start_s": agg(starts), "idle_rss_mb": agg(idles)}


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(10)
        except Exception:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except Exception:
                pass


# ---- main --------------------------------------------------------------------------------------
def headline(res: dict) -> dict:
    def med(*path):
        cur = res
        for p in path:
            if not isinstance(cur, dict) or p not in cur:
                return None
            cur = cur[p]
        return cur.get("median") if isinstance(cur, dict) else cur

    largest = max((int(k) for k in res.get("retrieval", {})), default=None)
    syn = res.get("ingest", {}).get("synthetic", {})
    real = [k for k, v in syn.items() if "chunks_per_s" in v]
    return {
        "ttft_ms_p50": med("answer", "ttft_ms"),
        "ttft_ms_p50_italian": med("answer_it", "ttft_ms"),
        "overhead_ratio": med("answer", "overhead_ratio"),
        "retrieval_ms_p50_100k": med("retrieval", "100000", "modes", "hybrid", "p50_ms"),
        "ingest_chunks_per_s": med("ingest", "synthetic", max(real, key=int), "chunks_per_s") if real else None,
        "chat_cold_start_s": med("chat", "cold_start_s"),
        "idle_rss_mb": med("chat", "idle_rss_mb"),
        "retrieval_ms_p50_largest": med("retrieval", str(largest), "modes", "hybrid", "p50_ms") if largest else None,
        "non_generation_share_of_ttft": med("answer", "non_generation_share"),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smaller corpora and fewer questions")
    ap.add_argument("--only", default="ingest,retrieval,answer,chat,inputs", help="comma-separated phases")
    ap.add_argument("--save-baseline", action="store_true", help="also write bench/baseline.json (the 'before' column)")
    ap.add_argument("--label", default="", help="a note stored with the results")
    ap.add_argument("--sizes", default="", help="override corpus sizes: REAL[,REAL...][/POOLED...], e.g. 1000,10000/100000 "
                                                 "(real = embedded with MiniLM, pooled = built from a pool of real vectors); "
                                                 "an empty side skips it")
    ap.add_argument("--questions", type=int, default=0, help="override the number of questions answered")
    args = ap.parse_args(argv)
    setup_env()
    WORK.mkdir(parents=True, exist_ok=True)
    cfg = dict(QUICK if args.quick else FULL)
    if args.sizes:
        real, _, pooled = args.sizes.partition("/")
        cfg["real_sizes"] = [int(x) for x in real.split(",") if x]
        cfg["pooled_sizes"] = [int(x) for x in pooled.split(",") if x]
        cfg["real_reps"] = {n: cfg["real_reps"].get(n, 1) for n in cfg["real_sizes"]}
    if args.questions:
        cfg["n_questions"] = args.questions
    phases = set(args.only.split(","))
    t0 = time.perf_counter()
    res: dict = {"mode": "quick" if args.quick else "full", "label": args.label, "config": {k: v for k, v in cfg.items()},
                 "machine": machine(), "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    seeds_dir = WORK / "seeds-data"
    dirs = {0: seeds_dir}
    for n in cfg["real_sizes"] + cfg["pooled_sizes"]:
        if (WORK / f"data-{n}").exists():
            dirs[n] = WORK / f"data-{n}"
    if "ingest" in phases:
        dirs = bench_ingest(cfg, res)
    elif phases & {"answer", "chat"}:
        # `--only answer` without the ingest phase: bring the seeds' index up to date (on a machine that has not
        # run the ingest phase yet, index them), unmeasured; an up-to-date index embeds nothing
        log("seeds index brought up to date (not measured)")
        run_child("ingest", {"data_dir": str(seeds_dir), "docs": str(SEEDS), "warm": False})
    if "retrieval" in phases:
        bench_retrieval(cfg, res, dirs)
    if "answer" in phases:
        bench_answer(cfg, res, seeds_dir)
        bench_answer(cfg, res, seeds_dir, italian_questions(), "answer_it")
    if "chat" in phases:
        bench_chat(cfg, res, seeds_dir)
    if "inputs" in phases:
        from bench.inputs import bench_inputs

        bench_inputs(cfg, res, WORK, args.quick)
    if phases != {"ingest", "retrieval", "answer", "chat", "inputs"} and (BENCH / "results.json").exists():
        # a partial run updates the phases it ran and keeps the others from the last results.json
        prev = json.loads((BENCH / "results.json").read_text("utf-8"))
        for k in ("ingest", "retrieval", "answer", "answer_it", "chat", "inputs"):
            if k not in res and k in prev:
                res[k] = prev[k]
        res["label"] = (res.get("label") or "") + f" (phases {','.join(sorted(phases))} re-run; others from {prev.get('started')})"
    res["notes"] = NOTES
    res["bench_seconds"] = round(time.perf_counter() - t0, 1)
    res["machine"]["load_avg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    res.update(headline(res))
    (BENCH / "results.json").write_text(json.dumps(res, indent=2, ensure_ascii=False) + "\n", "utf-8")
    if args.save_baseline:
        (BENCH / "baseline.json").write_text(json.dumps(res, indent=2, ensure_ascii=False) + "\n", "utf-8")
    base = json.loads((BENCH / "baseline.json").read_text("utf-8")) if (BENCH / "baseline.json").exists() else None
    history = [(f.stem.replace("-", " "), f"bench/history/{f.name}", json.loads(f.read_text("utf-8")))
               for f in sorted((BENCH / "history").glob("*.json"))]
    (BENCH / "results.md").write_text(report.render(res, base, history), "utf-8")
    log(f"done in {res['bench_seconds']:.0f} s: bench/results.md, bench/results.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
