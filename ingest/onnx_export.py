"""Export a sentence-transformers model to ONNX once, into a cache shared by every process.

Why our own export instead of sentence-transformers' `backend="onnx"`: that backend needs
`optimum-onnx`, whose releases pin `transformers<4.58`, while lectern runs transformers 5; so
the graph is traced here with `torch.onnx` from the shipped weights (the whole
sentence-transformers pipeline: transformer, pooling, normalisation, one output per text) and
run with plain ONNX Runtime. `onnx-int8` is that graph fused by ONNX Runtime's transformer
optimizer and dynamically quantized (int8 weights, per channel) with
`onnxruntime.quantization.quantize_dynamic`. Nothing is downloaded.

An export lives in `<cache>/<model name>-<fingerprint>/<runtime>/` with `model.onnx`,
`tokenizer.json` and `export.json`. It is written in a temporary sibling directory and renamed
into place under an exclusive `flock`, so two processes starting at once export it once and
never see half a model.
"""

from __future__ import annotations

import fcntl
import json
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ingest.embedding import EmbedderUnavailable
from ingest.embedding_space import model_fingerprint

EXPORT_VERSION = 1
"""Bumped when the export recipe changes, so older exports are not reused."""

ONNX_RUNTIMES = ("onnx", "onnx-int8")
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def export_dir(cache_dir: Path, model: Path, runtime: str) -> Path:
    """Where the export of `model` for `runtime` lives (whether or not it exists yet)."""
    return cache_dir / f"{model.name}-{model_fingerprint(model)}" / runtime


def read_export(directory: Path) -> dict[str, Any] | None:
    """The export's metadata, or None when `directory` holds no complete current export."""
    try:
        meta: dict[str, Any] = json.loads((directory / "export.json").read_text())
    except (OSError, ValueError):
        return None
    return meta if meta.get("version") == EXPORT_VERSION else None


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_export(cache_dir: Path, model: Path, runtime: str) -> Path:
    """The directory of `model`'s export for `runtime`, exporting it first if needed."""
    if runtime not in ONNX_RUNTIMES:
        raise ValueError(f"unknown ONNX runtime {runtime!r}; expected one of {ONNX_RUNTIMES}")
    if not model.is_dir():
        raise EmbedderUnavailable(
            f"the {runtime} runtime needs the model as a local directory, got {str(model)!r}",
            model=str(model))
    target = export_dir(cache_dir, model, runtime)
    if read_export(target) is not None:
        return target
    with _locked(target.parent / f".{runtime}.lock"):
        if read_export(target) is not None:  # another process exported it meanwhile
            return target
        scratch = Path(tempfile.mkdtemp(prefix=f".{runtime}-", dir=target.parent))
        try:
            _export(model, runtime, scratch)
            scratch.chmod(0o755)  # mkdtemp's 0700 would hide it from other users
            if target.exists():  # an incomplete or outdated export
                shutil.rmtree(target)
            scratch.rename(target)
        except Exception as exc:
            shutil.rmtree(scratch, ignore_errors=True)
            if isinstance(exc, EmbedderUnavailable):
                raise
            raise EmbedderUnavailable(
                f"cannot export {str(model)!r} to {runtime}: {type(exc).__name__}: {exc}",
                model=str(model), runtime=runtime) from exc
    return target


def _export(model: Path, runtime: str, out: Path) -> None:
    """Trace the model to `out/model.onnx` (fused and quantized for int8) with its metadata."""
    import torch
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(model), device="cpu", local_files_only=True)
    st.eval()
    tokenizer = st.tokenizer
    tokenizer_json = model / "tokenizer.json"
    if not tokenizer_json.is_file():
        raise EmbedderUnavailable(f"{str(model)!r} has no tokenizer.json (a fast tokenizer)",
                                  model=str(model))

    class _Pipeline(torch.nn.Module):
        """Every module of the sentence-transformers pipeline, as one traceable function."""

        def __init__(self) -> None:
            super().__init__()
            self.st = st

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            features = {"input_ids": input_ids, "attention_mask": attention_mask,
                        "token_type_ids": token_type_ids}
            return self.st(features)["sentence_embedding"]

    sample = tokenizer(["lectern exports this model once", "a second, longer text to pad"],
                       padding=True, return_tensors="pt")
    args = tuple(sample[name] for name in _INPUTS)
    axes = {name: {0: "batch", 1: "tokens"} for name in _INPUTS}
    axes["sentence_embedding"] = {0: "batch"}
    graph = out / "model-fp32.onnx"
    with torch.no_grad(), warnings.catch_warnings():
        # The tracer warns about shape checks it freezes (always true for these inputs) and
        # that the TorchScript exporter is the legacy one; neither changes the graph's results.
        warnings.simplefilter("ignore")
        torch.onnx.export(_Pipeline(), args, str(graph), input_names=list(_INPUTS),
                          output_names=["sentence_embedding"], dynamic_axes=axes,
                          opset_version=17, dynamo=False)
    if runtime == "onnx-int8":
        _quantize(graph, out / "model.onnx", st)
        graph.unlink()
    else:
        graph.rename(out / "model.onnx")
    shutil.copyfile(tokenizer_json, out / "tokenizer.json")
    meta = {
        "version": EXPORT_VERSION, "runtime": runtime, "source": str(model),
        "fingerprint": model_fingerprint(model),
        "dimension": int(st.get_embedding_dimension() or 0),
        "max_tokens": int(st.max_seq_length or 0),
        "pad_id": int(tokenizer.pad_token_id or 0), "pad_token": str(tokenizer.pad_token),
        "torch": torch.__version__,
    }
    (out / "export.json").write_text(json.dumps(meta, indent=2) + "\n")


def _quantize(graph: Path, target: Path, st: Any) -> None:
    """Fuse the fp32 graph (LayerNorm, GELU) and quantize its weights to int8 per channel."""
    from onnx import TensorProto
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers.optimizer import optimize_model

    config = st[0].auto_model.config
    fused = graph.with_name("model-fused.onnx")
    optimize_model(str(graph), model_type="bert", num_heads=int(config.num_attention_heads),
                   hidden_size=int(config.hidden_size), opt_level=1).save_model_to_file(str(fused))
    quantize_dynamic(str(fused), str(target), weight_type=QuantType.QInt8, per_channel=True,
                     extra_options={"DefaultTensorType": TensorProto.FLOAT})
    fused.unlink()
