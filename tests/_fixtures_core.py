"""Helpers shared by the tests/test_core_*.py modules (not fixtures of conftest.py)."""
from __future__ import annotations

import json
import re
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
D0, D1, D2, D3, D4 = (
    "000_bff1cb9deae7c743.txt", "001_203602bb6eb36842.txt", "002_a032899a38035caa.txt",
    "003_85a7d1030bda2f28.txt", "004_7e1ad90bb5321a1d.txt",
)
SEED_DOCS = [D0, D1, D2, D3, D4]
THREADS_Q = "How quickly did Threads cross 10 million users?"
THREADS_IT = "Quanto tempo ha impiegato Threads per raggiungere 10 milioni di utenti?"
SEVEN_HOURS = ("seven hours", "7 hours", "sette ore", "7 ore")


def copy_seeds(dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for f in SEEDS.iterdir():
        if f.suffix == ".txt" or f.name == "catalog.toml":
            shutil.copy2(f, dest / f.name)
    return dest


def base_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITEQA_")}
    env.update(HF_HUB_OFFLINE="1", ANONYMIZED_TELEMETRY="False", OLLAMA_HOST="http://127.0.0.1:9",
               PYTHONUNBUFFERED="1")
    env.pop("CITEQA_DEBUG", None)
    env.update(extra)
    return env


@dataclass
class Run:
    args: list[str]
    code: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        return [ln for ln in self.err.splitlines() if ln.strip()]

    def json(self):
        return json.loads(self.out)

    def __str__(self) -> str:
        return f"citeqa {' '.join(a[:80] for a in self.args)} -> {self.code}\n--- stdout\n{self.out[-3000:]}\n--- stderr\n{self.err[-3000:]}"


def citeqa(args: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 600) -> Run:
    p = subprocess.run([sys.executable, "-m", "app", *args], cwd=cwd, env=env or base_env(), capture_output=True,
                       text=True, timeout=timeout)
    return Run(args, p.returncode, p.stdout, p.stderr)


PROGRESS_NOISE = re.compile(r"^\s*Loading weights:")


def assert_one_line_error(run: Run, *needles: str, progress_noise: bool = False) -> str:
    """A user error: non-zero exit, exactly one line on stderr, no traceback; returns that line.

    progress_noise=True tolerates the transformers "Loading weights" progress bar (a known bug, shown on its own
    by test_core_ollama.py::test_error_after_embedder_load_is_exactly_one_line) for commands that load the embedder.
    """
    assert run.code != 0, str(run)
    assert "Traceback" not in run.err and "Traceback" not in run.out, str(run)
    lines = [ln for ln in run.err_lines if not (progress_noise and PROGRESS_NOISE.match(ln))]
    assert len(lines) == 1, str(run)
    line = lines[0]
    assert line.startswith("citeqa: error:"), str(run)
    for n in needles:
        assert n.lower() in line.lower(), f"{n!r} not in {line!r}"
    return line
