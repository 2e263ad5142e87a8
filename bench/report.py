"""Render bench/results.md from the results dict (and the baseline, when there is one)."""
from __future__ import annotations

TARGETS = [
    # key, label, unit, target text, test
    ("ttft_ms_p50", "time to first token p50 (seeds questions)", "ms", "<= 1500 ms", lambda v: v <= 1500),
    ("ttft_ms_p50_italian", "time to first token p50 (Italian questions, translated)", "ms", "<= 1500 ms", lambda v: v <= 1500),
    ("non_generation_share_of_ttft", "non-generation share of time to first token", "", "<= 0.10", lambda v: v <= 0.10),
    ("overhead_ratio", "overhead ratio (pipeline TTFT / raw llama.cpp TTFT)", "x", "<= 1.11 (i.e. <= 10%)", lambda v: v <= 1.11),
    ("retrieval_ms_p50_100k", "hybrid retrieval p50 at 100k chunks", "ms", "<= 50 ms", lambda v: v <= 50),
    ("ingest_chunks_per_s", "ingestion (largest real corpus)", "chunks/s", ">= 100", lambda v: v >= 100),
    ("chat_cold_start_s", "chat cold start", "s", "<= 8 s", lambda v: v <= 8),
    ("idle_rss_mb", "idle memory (process tree RSS)", "MB", "<= 1536 MB", lambda v: v <= 1536),
]


def f(x, nd=1):
    if x is None:
        return "–"
    if isinstance(x, float):
        return f"{x:,.{nd}f}"
    return str(x)


def mmm(d, nd=1):
    if not isinstance(d, dict) or d.get("median") is None:
        return "–"
    if d.get("n", 1) <= 1:
        return f"{f(d['median'], nd)}"
    return f"{f(d['median'], nd)} ({f(d['min'], nd)}–{f(d['max'], nd)})"


def render(r: dict, base: dict | None, history: list[tuple[str, str, dict]] | None = None) -> str:
    """`history`: earlier runs as (column head, file, results), oldest first, shown between "before" and "now"."""
    m = r["machine"]
    L = ["# citeqa benchmarks", ""]
    L.append(f"Produced by `python -m bench.run{' --quick' if r['mode'] == 'quick' else ''}` on {r['started']} "
             f"in {r['bench_seconds']:.0f} s ({r['mode']} run{': ' + r['label'] if r.get('label') else ''}). "
             "Every figure is the **median of repeated runs, with (min–max)**; a figure without a range is a single run.")
    L += ["", "## Machine", "",
          f"- CPU: {m['processor']} — {m['cpu_count_logical']} logical cores ({m['cpu_count_physical']} physical); "
          f"flags: {', '.join(m.get('cpu_flags') or []) or 'not recorded'}",
          f"- memory: {m['memory_gb']} GB; {m['platform']}; Python {m['python']}; git {m.get('git_commit', '')}",
          f"- load average at start / end: {m['load_avg_at_start']} / {m.get('load_avg_at_end')} "
          "(other processes on the machine make figures noisier; see the min–max ranges)",
          "- versions: " + ", ".join(f"{k} {v}" for k, v in m["versions"].items()), ""]

    earlier = ([("before", "bench/baseline.json", base)] if base else []) + list(history or [])
    heads, srcs, runs = [e[0] for e in earlier], [e[1] for e in earlier], [e[2] for e in earlier]
    L += ["## Targets", "", "| figure | target | " + "".join(h + " | " for h in heads) + "now | met |",
          "|---|---|" + "---|" * len(runs) + "---|---|"]
    for key, label, unit, tgt, ok in TARGETS:
        v = r.get(key)
        nd = 2 if key in ("overhead_ratio", "non_generation_share_of_ttft") else 1
        met = "–" if v is None else ("yes" if ok(v) else "**no**")
        L.append(f"| {label} | {tgt} | " + "".join(f"{f(b.get(key), nd)} {unit} | " for b in runs) + f"{f(v, nd)} {unit} | {met} |")
    if runs:
        rows = [("answer: time to first token p50 (ms)", ("answer", "ttft_ms"), 0),
                ("answer: total time p50 (ms)", ("answer", "total_ms"), 0),
                ("answer: tokens/s p50", ("answer", "tokens_per_s"), 1),
                ("answer: retrieve (ms)", ("answer", "retrieve_ms"), 1),
                ("answer: build prompt (ms)", ("answer", "prompt_ms"), 1),
                ("answer: prefill (ms)", ("answer", "prefill_ms"), 0),
                ("answer: generate (ms)", ("answer", "generate_ms"), 0),
                ("answer: check citations (ms)", ("answer", "check_ms"), 1),
                ("answer: raw llama.cpp TTFT (ms)", ("answer", "raw_ttft_ms"), 0),
                ("answer, Italian questions (translated): TTFT p50 (ms)", ("answer_it", "ttft_ms"), 0),
                ("answer, Italian questions: retrieve incl. translation (ms)", ("answer_it", "retrieve_ms"), 1),
                ("ingest seeds cold: chunks/s", ("ingest", "seeds", "cold_chunks_per_s"), 1),
                ("ingest seeds cold: whole process (s)", ("ingest", "seeds", "cold_process_total_s"), 1),
                ("ingest seeds warm, fresh process (s)", ("ingest", "seeds", "warm_fresh_process_total_s"), 1),
                ("ingest 1k synthetic: chunks/s", ("ingest", "synthetic", "1000", "chunks_per_s"), 1),
                ("retrieval hybrid p50 at 100k (ms)", ("retrieval", "100000", "modes", "hybrid", "p50_ms"), 1),
                ("retrieval index load at 100k (s)", ("retrieval", "100000", "load_s"), 1),
                ("chat cold start (s)", ("chat", "cold_start_s"), 1),
                ("chat: models loaded, ready (s)", ("chat", "ready_s"), 1),
                ("chat idle RSS (MB)", ("chat", "idle_rss_mb"), 0)]

        def dig(d, path):
            for k in path:
                d = d.get(k) if isinstance(d, dict) else None
            return d

        def cell(d, nd):
            return mmm(d, nd) if isinstance(d, dict) else f(d, nd)

        L += ["", "Before and after, in detail:", "", "| measure | " + "".join(h + " | " for h in heads) + "now |",
              "|---|" + "---|" * len(runs) + "---|"]
        for label, path, nd in rows:
            L.append(f"| {label} | " + "".join(f"{cell(dig(b, path), nd)} | " for b in runs) + f"{cell(dig(r, path), nd)} |")
        L.append("")
        for h, src, b in zip(heads, srcs, runs):
            L.append(f"- {h} = `{src}` ({b['mode']} run on {b['started']}"
                     f"{': ' + b['label'] if b.get('label') else ''}, load average {b['machine']['load_avg_at_start']}).")
    L.append("")

    ing = r.get("ingest")
    if ing:
        s = ing["seeds"]
        L += ["## Ingestion", "", f"Seeds ({s['chunks']} chunks), each cold run in a fresh process on an empty index:", "",
              "| measure | value |", "|---|---|",
              f"| cold: chunks/s (ingest call, model already loaded) | {mmm(s['cold_chunks_per_s'])} |",
              f"| cold: ingest seconds | {mmm(s['cold_ingest_s'], 2)} |",
              f"| cold: whole process incl. imports and model load (s) | {mmm(s['cold_process_total_s'], 2)} |",
              f"| imports (s) / embedding model load (s) | {mmm(s['import_s'], 2)} / {mmm(s['model_load_s'], 2)} |",
              f"| warm, same process (s) | {mmm(s['warm_same_process_s'], 3)} |",
              f"| warm, fresh process: ingest call / whole process (s) | {mmm(s['warm_fresh_process_s'], 3)} / {mmm(s['warm_fresh_process_total_s'], 2)} |",
              f"| chunks embedded by the warm runs (must be 0) | {s['warm_embedded']} |",
              f"| peak RSS (MB) | {mmm(s['peak_rss_mb'], 0)} |",
              f"| one-time build of the ONNX embedder (export + int8), s / peak RSS MB | "
              f"{mmm(ing.get('model_build_s'), 1)} / {mmm(ing.get('model_build_peak_rss_mb'), 0)} |", "",
              "Synthetic corpus (paragraphs of 4–6 seed sentences, deterministic; each size is a prefix of the next):", "",
              "| chunks | how | chunks/s | seconds | peak RSS MB |", "|---|---|---|---|---|"]
        for n, v in sorted(ing["synthetic"].items(), key=lambda kv: int(kv[0])):
            rate = mmm(v["chunks_per_s"]) if "chunks_per_s" in v else mmm(v["chunks_per_s_no_embedding"]) + " (no embedding)"
            L.append(f"| {v['chunks']:,} | {v['method']} | {rate} | {mmm(v['seconds'])} | {mmm(v['peak_rss_mb'], 0)} |")
        L.append("")

    ret = r.get("retrieval")
    if ret:
        L += ["## Retrieval latency", "",
              "All questions of `seeds/qa.jsonl` per repetition, query-embedding cache cleared before each repetition "
              "(so the figure includes embedding the query); p50/p95 over the questions, median (min–max) over repetitions. "
              "`cached` = p50 when the query vector is already cached.", "",
              "| chunks | index load (s) | vector p50 | vector p95 | BM25 p50 | BM25 p95 | hybrid p50 | hybrid p95 | hybrid p50 cached |",
              "|---|---|---|---|---|---|---|---|---|"]
        for n, v in sorted(ret.items(), key=lambda kv: int(kv[0])):
            mo = v["modes"]
            L.append(f"| {v['chunks']:,} | {v['load_s']:.2f} | {mmm(mo['vector']['p50_ms'])} | {mmm(mo['vector']['p95_ms'])} | "
                     f"{mmm(mo['bm25']['p50_ms'])} | {mmm(mo['bm25']['p95_ms'])} | {mmm(mo['hybrid']['p50_ms'])} | "
                     f"{mmm(mo['hybrid']['p95_ms'])} | {f(mo['hybrid']['p50_ms_cached_query'])} |")
        L += ["", "Latencies in ms. The largest corpora are built with pooled vectors (see Ingestion).", ""]

    a = r.get("answer")
    if a:
        L += ["## Answering", "",
              f"{a['questions']} questions of `seeds/qa.jsonl` × {a['repeats']} repetition(s), one warm engine "
              f"(warm-up {a['warm_up_s']:.1f} s, not counted); {a['answered']} answered by the model, {a['refused']} refused "
              "without a model call (excluded below). p50 over questions, median (min–max) over repetitions.", "",
              "| measure | value |", "|---|---|",
              f"| time to first token p50 (ms) | {mmm(a['ttft_ms'], 0)} |",
              f"| time to first token p95 (ms) | {mmm(a['ttft_ms_p95'], 0)} |",
              f"| total time p50 (ms) | {mmm(a['total_ms'], 0)} |",
              f"| tokens/s p50 | {mmm(a['tokens_per_s'])} |",
              f"| stage: retrieve (ms) | {mmm(a['retrieve_ms'], 1)} |",
              f"| stage: build prompt (evidence selection + messages) (ms) | {mmm(a['prompt_ms'], 1)} |",
              f"| stage: prefill (backend call to first token) (ms) | {mmm(a['prefill_ms'], 0)} |",
              f"| stage: generate (first to last token) (ms) | {mmm(a['generate_ms'], 0)} |",
              f"| stage: check citations (ms) | {mmm(a['check_ms'], 1)} |",
              f"| prompt tokens p50 | {mmm(a['prompt_tokens'], 0)} |",
              f"| raw llama.cpp time to first token, same messages (ms) | {mmm(a['raw_ttft_ms'], 0)} |",
              f"| **overhead ratio** = pipeline TTFT p50 / raw TTFT p50 | {mmm(a['overhead_ratio'], 2)} |",
              f"| non-generation share of TTFT ((retrieve + prompt) / TTFT) p50 | {mmm(a['non_generation_share'], 3)} |",
              f"| peak RSS (MB) | {f(a['peak_rss_mb'], 0)} |", "",
              "Raw llama.cpp: `Llama.create_chat_completion(messages, stream=True)` on the same loaded model with the exact "
              "messages the pipeline sent (captured from `Engine.build_messages` via a wrapping backend), KV cache reset "
              "before it, run right after the pipeline's answer to the same question.", ""]

    c = r.get("chat")
    if c:
        L += ["## Chat cold start and idle memory", "", f"Measured: {c['measured']}.", "",
              f"- cold start: {mmm(c['cold_start_s'], 2)} s", f"- memory: {mmm(c['idle_rss_mb'], 0)} MB", ""]

    if r.get("notes"):
        L += ["## Notes", ""] + [f"- {n}" for n in r["notes"]] + [""]
    L += ["## Reproduce", "", "```", "make bench            # or: .venv/bin/python -m bench.run", ".venv/bin/python -m bench.run --quick   # smaller, ~5 min", "```", ""]
    from bench.inputs import summary_lines

    L += summary_lines(r.get("inputs", {}))
    return "\n".join(L)
