"""Which precision the local embedder uses: what an existing index records, else what this CPU runs faster.

int8 MiniLM is faster only where the CPU has int8 dot-product instructions (VNNI, AMX): on an AVX2-only EPYC it
embedded 22 chunks/s against fp32's 26 (issue 12). A measured probe (`make bench` writes it to the model cache,
`precision-probe.json`, keyed by CPU model) overrides the flag rule for that CPU.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.config import Settings

INT8_FLAGS = ("avx512_vnni", "avx512vnni", "avx_vnni", "amx_int8")
PROBE_FILE = "precision-probe.json"


@lru_cache(maxsize=1)
def cpu() -> tuple[str, frozenset[str]]:
    """(model name, flags) of this machine's CPU from /proc/cpuinfo (empty where there is none)."""
    name, flags = "", frozenset()
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            key = key.strip()
            if key == "model name" and not name:
                name = value.strip()
            elif key == "flags" and not flags:
                flags = frozenset(value.split())
            if name and flags:
                break
    except OSError:
        pass
    return name, flags


def probe_path(settings: "Settings") -> Path:
    return Path(settings.model_cache).expanduser() / PROBE_FILE


def measured(settings: "Settings") -> dict | None:
    """The probe recorded for this CPU: {"int8": chunks/s, "fp32": chunks/s}, or None."""
    try:
        data = json.loads(probe_path(settings).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    entry = data.get(cpu()[0]) if isinstance(data, dict) else None
    return entry if isinstance(entry, dict) and "int8" in entry and "fp32" in entry else None


def record_probe(settings: "Settings", int8_cps: float, fp32_cps: float) -> None:
    p = probe_path(settings)
    try:
        data = json.loads(p.read_text("utf-8"))
    except (OSError, ValueError):
        data = {}
    data[cpu()[0]] = {"int8": round(int8_cps, 1), "fp32": round(fp32_cps, 1)}
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(data, indent=1), "utf-8")


def for_new_index(settings: "Settings") -> tuple[str, str]:
    """(precision, why) for an index that does not exist yet."""
    probe = measured(settings)
    if probe:
        best = "int8" if probe["int8"] > probe["fp32"] else "fp32"
        return best, f"measured on this CPU: int8 {probe['int8']} vs fp32 {probe['fp32']} chunks/s"
    flags = cpu()[1]
    have = [f for f in INT8_FLAGS if f in flags]
    if have:
        return "int8", f"the CPU has {have[0]}"
    return "fp32", "the CPU has no int8 dot-product instructions (VNNI/AMX)"


def recorded(embedder_id: str) -> str | None:
    """The precision an existing index was built with, from its embedder id."""
    if not embedder_id.startswith("local:"):
        return None
    return "int8" if ":int8" in embedder_id else "fp32"


def resolve(settings: "Settings") -> tuple[str, str]:
    """(precision, why) for `embed_precision = auto`: the existing index's, else the CPU's choice."""
    from index.store import ChromaStore

    fp = ChromaStore(settings).fingerprint()
    have = recorded(fp.embedder) if fp else None
    if have:
        return have, "recorded in the index"
    return for_new_index(settings)
