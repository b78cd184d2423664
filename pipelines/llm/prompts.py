"""Prompt registry: versioned prompt files, never inline strings.

Each prompt is a TOML file named `<id>@v<N>.toml` in `pipelines/llm/prompts/` (or an extra
directory passed in, whose files add versions or replace built-in ones). A file holds `system`
and `user` templates in `string.Template` syntax (`$question`, `${sources}`), chosen over
str.format so that JSON schemas and braces in prompts need no escaping. `ref` ("answer@v1") is
recorded on every answer, ledger row and cache key.

A file may say `draft = true`: the version is then never the "latest" one (`get("answer")`),
and is served only when the config's `[prompts.NAME] variants` give it a weight. `choose`
picks the version an answer gets among the live variants (see `variants`).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any

from pipelines.llm.errors import LLMError, PromptNotFound
from pipelines.llm.types import Message
from pipelines.llm.variants import VariantSource, Weights, pick

BUILTIN_DIR = Path(__file__).with_name("prompts")
_FILE = re.compile(r"^(?P<id>[a-z][a-z0-9_]*)@v(?P<version>[1-9][0-9]*)\.toml$")
_REF = re.compile(r"^(?P<id>[a-z][a-z0-9_]*)(?:@v(?P<version>[1-9][0-9]*))?$")


class PromptRenderError(LLMError):
    """A prompt was rendered with missing or unexpected fields."""

    code = "prompt_render_error"
    http_status = 500


@dataclass(frozen=True)
class Prompt:
    """One version of one prompt."""

    id: str
    version: int
    system: str
    user: str
    description: str = ""
    path: Path | None = None
    draft: bool = False

    @property
    def ref(self) -> str:
        return f"{self.id}@v{self.version}"

    @property
    def fields(self) -> frozenset[str]:
        """Names the templates use."""
        names: set[str] = set()
        for text in (self.system, self.user):
            for match in Template.pattern.finditer(text):
                name = match.group("named") or match.group("braced")
                if name:
                    names.add(name)
        return frozenset(names)

    def render(self, **fields: Any) -> tuple[Message, ...]:
        """System and user messages with `fields` substituted; all fields must be given."""
        missing = self.fields - fields.keys()
        extra = fields.keys() - self.fields
        if missing or extra:
            raise PromptRenderError(
                f"prompt {self.ref}: missing fields {sorted(missing)}, unexpected {sorted(extra)}",
                prompt=self.ref, missing=sorted(missing), unexpected=sorted(extra),
            )
        values = {k: str(v) for k, v in fields.items()}
        messages = []
        if self.system.strip():
            messages.append(Message("system", Template(self.system).substitute(values)))
        messages.append(Message("user", Template(self.user).substitute(values)))
        return tuple(messages)


def _load_file(path: Path) -> Prompt:
    match = _FILE.match(path.name)
    if match is None:
        raise LLMError(f"prompt file name {path.name!r} is not <id>@v<N>.toml", path=str(path))
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise LLMError(f"prompt file {path}: invalid TOML: {exc}", path=str(path)) from exc
    user = data.get("user")
    if not isinstance(user, str) or not user.strip():
        raise LLMError(f"prompt file {path}: needs a non-empty `user` template", path=str(path))
    return Prompt(
        id=match["id"],
        version=int(match["version"]),
        system=str(data.get("system", "")).strip(),
        user=user.strip(),
        description=str(data.get("description", "")),
        path=path,
        draft=data.get("draft") is True,
    )


class PromptRegistry:
    """All known prompts; later directories override earlier ones version by version."""

    def __init__(self, extra_dirs: Iterable[Path] = (), *, include_builtin: bool = True,
                 variants: VariantSource | None = None) -> None:
        self.variants = variants
        dirs = [BUILTIN_DIR] if include_builtin else []
        dirs += [Path(d) for d in extra_dirs]
        self._prompts: dict[tuple[str, int], Prompt] = {}
        for d in dirs:
            if not d.is_dir():
                raise LLMError(f"prompts directory {d} does not exist", path=str(d))
            for path in sorted(d.glob("*.toml")):
                prompt = _load_file(path)
                self._prompts[(prompt.id, prompt.version)] = prompt

    def refs(self) -> list[str]:
        """Every known `id@vN`, sorted by id then version."""
        return [p.ref for _, p in sorted(self._prompts.items())]

    def get(self, ref: str) -> Prompt:
        """`"answer"` → its latest version; `"answer@v1"` → exactly that one."""
        match = _REF.match(ref.strip())
        if match is not None:
            pid = match["id"]
            if match["version"]:
                found = self._prompts.get((pid, int(match["version"])))
                if found is not None:
                    return found
            else:
                versions = [v for (i, v), p in self._prompts.items()
                            if i == pid and not p.draft]
                if versions:
                    return self._prompts[(pid, max(versions))]
        raise PromptNotFound(
            f"unknown prompt {ref!r}; known: {', '.join(self.refs())}",
            prompt=ref, known=self.refs(),
        )

    def serve_variants(self, source: VariantSource | None) -> None:
        """Use `source` for `choose` from now on (the composition root's watched config)."""
        self.variants = source

    def live(self, name: str) -> dict[str, float]:
        """The versions of prompt `name` in force with their weights; without variants, its
        default version (the latest non-draft one) at weight 1."""
        weights = None if self.variants is None else self.variants.weights(name)
        if not weights:
            return {self.get(name).ref: 1.0}
        return dict(weights)

    def choose(self, name: str, key: str) -> Prompt:
        """The version of prompt `name` an answer keyed `key` gets: sticky (the same key, the
        same version while the weights stay), in proportion to the weights over many keys;
        the latest non-draft version when `name` has no variants."""
        weights = None if self.variants is None else self.variants.weights(name)
        if not weights:
            return self.get(name)
        return self.get(pick(name, weights, key))

    def check_variants(self, variants: Mapping[str, Weights]) -> None:
        """Raise `PromptNotFound` unless every version the variants name is known."""
        for name, weights in variants.items():
            for ref in weights:
                found = self.get(ref)
                if found.id != name:
                    raise PromptNotFound(f"variant {ref!r} is not a version of {name!r}",
                                         prompt=ref, known=self.refs())
