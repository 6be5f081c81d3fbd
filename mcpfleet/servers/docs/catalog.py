"""The catalog of known libraries (name -> repository[@ref]) and how names find them."""

from __future__ import annotations

import difflib
import re

# Popular libraries whose docs live somewhere a search would not guess; users add their own.
# A value is "owner/repo", "owner/repo@ref", or "owner/repo@ref:folder,folder" to index only those folders.
DEFAULT_CATALOG: dict[str, str] = {
    "react": "reactjs/react.dev:src/content",
    "next.js": "vercel/next.js:docs",
    "vllm": "vllm-project/vllm:docs",
    "sglang": "sgl-project/sglang:docs",
    "fastapi": "fastapi/fastapi:docs/en/docs",
    "pydantic": "pydantic/pydantic:docs",
    "kubernetes": "kubernetes/website:content/en/docs",
    "tailwindcss": "tailwindlabs/tailwindcss.com:src/docs",
    "shadcn-ui": "shadcn-ui/ui:apps/www/content/docs",
    "litellm": "BerriAI/litellm:docs/my-website/docs",
    "fastmcp": "PrefectHQ/fastmcp:docs",
    "mcp": "modelcontextprotocol/modelcontextprotocol:docs",
    "langchain": "langchain-ai/langchain:docs",
    "pytorch": "pytorch/pytorch:docs",
    "transformers": "huggingface/transformers:docs/source/en",
    "django": "django/django:docs",
    "flask": "pallets/flask:docs",
    "sqlalchemy": "sqlalchemy/sqlalchemy:doc/build",
    "vue": "vuejs/docs:src",
    "svelte": "sveltejs/svelte:documentation",
    "ollama": "ollama/ollama:docs",
    "kserve": "kserve/website:docs",
    "open-webui": "open-webui/docs:docs",
}
# Other names people use for a catalog entry (normalised, see name_key) -> the entry's name
ALIASES: dict[str, str] = {
    "k8s": "kubernetes",
    "kube": "kubernetes",
    "kubectl": "kubernetes",
    "openwebui": "open-webui",
    "owui": "open-webui",
    "nextjs": "next.js",
    "reactjs": "react",
    "vuejs": "vue",
    "sveltekit": "svelte",
    "tailwind": "tailwindcss",
    "shadcn": "shadcn-ui",
    "shadcnui": "shadcn-ui",
    "torch": "pytorch",
    "hftransformers": "transformers",
    "huggingfacetransformers": "transformers",
    "modelcontextprotocol": "mcp",
    "sqla": "sqlalchemy",
    "kfserving": "kserve",
}
# Words around a name that do not name it: "k8s docs", "the FastAPI documentation"
FILLER_WORDS = frozenset(
    "docs doc documentation documents library lib framework official the api reference "
    "manual guide guides site website".split()
)
FUZZY_CUTOFF = 0.8


def normalise_name(name: str) -> str:
    """'Next.js', 'nextjs' and 'next-js' are the same library name."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def name_key(name: str) -> str:
    """The key a name is looked up by: normalised, filler words ("docs") dropped, aliases followed:
    'k8s docs' -> 'kubernetes', 'Open WebUI' -> 'openwebui'."""
    words = re.findall(r"[a-z0-9]+", name.lower())
    kept = [w for w in words if w not in FILLER_WORDS] or words
    key = "".join(kept)
    alias = ALIASES.get(key)
    return normalise_name(alias) if alias else key


def lookup(catalog: dict[str, str], name: str) -> list[tuple[str, str]]:
    """(catalog name, value) pairs for `name`: an exact (or alias) match first, then names containing
    it or contained in it; nothing else (see fuzzy_lookup)."""
    key = name_key(name)
    if not key:
        return []
    exact = [(k, v) for k, v in catalog.items() if k == key]
    near = [(k, v) for k, v in catalog.items() if k != key and (key in k or (len(k) >= 3 and k in key))]
    return exact + sorted(near)[:5]


def fuzzy_lookup(catalog: dict[str, str], name: str) -> list[tuple[str, str]]:
    """Catalog entries whose name is spelled like `name` ('pydantc', 'fastapy'), best first."""
    key = name_key(name)
    if len(key) < 3:
        return []
    return [(k, catalog[k]) for k in difflib.get_close_matches(key, list(catalog), n=3, cutoff=FUZZY_CUTOFF)]


def library_match(name: str, library: str) -> str | None:
    """How well `name` names an indexed library ('local/ollama', 'acme/widgets', 'gitlab:g/tool'):
    'exact' (the whole id or its last part), 'near' (one contains the other), 'fuzzy' (spelled
    alike) or None."""
    key = name_key(name)
    if not key:
        return None
    whole = normalise_name(library)
    last = normalise_name(library.rsplit("/", 1)[-1])
    if key in (whole, last):
        return "exact"
    if key in whole or (len(last) >= 3 and last in key):
        return "near"
    if len(key) >= 3 and difflib.SequenceMatcher(None, key, last).ratio() >= FUZZY_CUTOFF:
        return "fuzzy"
    return None
