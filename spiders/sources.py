"""The sources file: which sites to crawl, how to discover their articles, and when.

    sources:
      - name: pandaily                      # becomes the source=… partition
        feeds: [https://example.org/feed/]  # RSS 2.0 / Atom
        sitemaps: [https://example.org/sitemap_index.xml]
        start_urls: []                      # optional link-following from these pages
        allow: ["/2021/"]                   # optional URL path prefixes/regexes to keep
        schedule: "0 * * * *"               # cron, used by scheduled runs

Errors name the file, the line and what is wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from croniter import croniter

_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_KNOWN_KEYS = {
    "name": "str",
    "feeds": "urls",
    "sitemaps": "urls",
    "start_urls": "urls",
    "urls": "urls",
    "allow": "patterns",
    "deny": "patterns",
    "schedule": "cron",
    "group": "str",
    "max_pages": "int",
    "follow_depth": "int",
    "allow_private_network": "bool",
    "download_delay": "float",
    "concurrency": "int",
}


class SourcesError(ValueError):
    """A sources file is malformed; the message says where and what."""


@dataclass(frozen=True, slots=True)
class Source:
    name: str
    feeds: tuple[str, ...] = ()
    sitemaps: tuple[str, ...] = ()
    start_urls: tuple[str, ...] = ()
    urls: tuple[str, ...] = ()  # explicit article URLs
    allow: tuple[str, ...] = ()  # regexes on the URL path (a plain prefix like "/2021/" works as is)
    deny: tuple[str, ...] = ()
    schedule: str | None = None
    group: str | None = None  # scheduled runs: one deployment per group (default: the source alone)
    max_pages: int | None = None
    follow_depth: int = 1  # link-following depth from start_urls
    allow_private_network: bool = False  # permit private/loopback addresses (SSRF guard)
    download_delay: float | None = None
    concurrency: int | None = None  # per-domain concurrent requests
    line: int = 0  # line in the sources file, for messages

    def to_dict(self) -> dict[str, Any]:
        return {
            k: (list(v) if isinstance(v, tuple) else v)
            for k, v in (
                (f, getattr(self, f)) for f in self.__dataclass_fields__ if f != "line"
            )
        }

    def url_allowed(self, url: str) -> bool:
        path = urlsplit(url).path or "/"
        if self.deny and any(re.search(p, path) for p in self.deny):
            return False
        if not self.allow:
            return True
        return any(path.startswith(p) or re.search(p, path) for p in self.allow)


@dataclass(frozen=True, slots=True)
class SourcesFile:
    path: str
    sources: tuple[Source, ...] = field(default_factory=tuple)

    def select(self, names: list[str] | None) -> list[Source]:
        if not names:
            return list(self.sources)
        known = {s.name: s for s in self.sources}
        missing = [n for n in names if n not in known]
        if missing:
            raise SourcesError(f"{self.path}: no source named {', '.join(map(repr, missing))} (have: {', '.join(known)})")
        return [known[n] for n in names]

    def groups(self) -> dict[str, list[Source]]:
        out: dict[str, list[Source]] = {}
        for s in self.sources:
            out.setdefault(s.group or s.name, []).append(s)
        return out


class _LineLoader(yaml.SafeLoader):
    """A safe loader that remembers the line of every mapping as key '__line__'."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    mapping = loader.construct_mapping(node, deep=True)
    mapping["__line__"] = node.start_mark.line + 1
    mapping["__lines__"] = {k.value: k.start_mark.line + 1 for k, _ in node.value if isinstance(k, yaml.ScalarNode)}
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _check_url(where: str, value: Any) -> str:
    if not isinstance(value, str):
        raise SourcesError(f"{where}: expected a URL string, got {type(value).__name__} {value!r}")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SourcesError(f"{where}: not an http(s) URL: {value!r}")
    return value


def parse_sources(text: str, path: str = "<sources>") -> SourcesFile:
    try:
        data = yaml.load(text, Loader=_LineLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else path
        raise SourcesError(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, dict) or "sources" not in data:
        raise SourcesError(f"{path}:1: expected a mapping with a 'sources:' list")
    entries = data["sources"]
    if not isinstance(entries, list) or not entries:
        raise SourcesError(f"{path}:{data['__lines__'].get('sources', 1)}: 'sources' must be a non-empty list")
    sources: list[Source] = []
    seen: dict[str, int] = {}
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise SourcesError(f"{path}: sources[{i}]: expected a mapping with at least 'name', got {entry!r}")
        sources.append(_parse_source(entry, i, path, seen))
    return SourcesFile(path, tuple(sources))


def _parse_source(entry: dict[str, Any], index: int, path: str, seen: dict[str, int]) -> Source:
    line = entry.pop("__line__")
    lines: dict[str, int] = entry.pop("__lines__")
    name = entry.get("name")
    label = f"source {name!r}" if isinstance(name, str) else f"sources[{index}]"
    if not isinstance(name, str) or not _NAME.match(name):
        raise SourcesError(
            f"{path}:{lines.get('name', line)}: {label}: 'name' must be lower-case letters, digits, '_', '.', '-' "
            f"(1-64 chars), got {name!r}"
        )
    if name in seen:
        raise SourcesError(f"{path}:{line}: {label}: duplicate name (first defined on line {seen[name]})")
    seen[name] = line
    values: dict[str, Any] = {"name": name, "line": line}
    for key, value in entry.items():
        where = f"{path}:{lines.get(key, line)}: {label}: {key}"
        kind = _KNOWN_KEYS.get(key)
        if kind is None:
            raise SourcesError(f"{where}: unknown key (known: {', '.join(sorted(_KNOWN_KEYS))})")
        if key == "name" or value is None:
            continue
        values[key] = _parse_value(where, kind, value)
    src = Source(**values)
    if not (src.feeds or src.sitemaps or src.start_urls or src.urls):
        raise SourcesError(f"{path}:{line}: {label}: needs at least one of feeds, sitemaps, start_urls, urls")
    return src


def _parse_value(where: str, kind: str, value: Any) -> Any:
    if kind == "urls":
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list):
            raise SourcesError(f"{where}: expected a list of URLs")
        return tuple(_check_url(f"{where}[{j}]", u) for j, u in enumerate(items))
    if kind == "patterns":
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(p, str) for p in items):
            raise SourcesError(f"{where}: expected a list of path prefixes or regexes")
        for j, p in enumerate(items):
            try:
                re.compile(p)
            except re.error as exc:
                raise SourcesError(f"{where}[{j}]: invalid regex {p!r}: {exc}") from None
        return tuple(items)
    if kind == "cron":
        if not isinstance(value, str) or not croniter.is_valid(value):
            raise SourcesError(f"{where}: not a valid cron expression: {value!r}")
        return value
    if kind == "int":
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise SourcesError(f"{where}: expected a non-negative integer, got {value!r}")
        return value
    if kind == "float":
        if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
            raise SourcesError(f"{where}: expected a non-negative number, got {value!r}")
        return float(value)
    if kind == "bool":
        if not isinstance(value, bool):
            raise SourcesError(f"{where}: expected true or false, got {value!r}")
        return value
    if not isinstance(value, str) or not value:
        raise SourcesError(f"{where}: expected a non-empty string, got {value!r}")
    return value


def load_sources(path: str | Path) -> SourcesFile:
    p = Path(path)
    try:
        text = p.read_text("utf-8")
    except FileNotFoundError:
        raise SourcesError(f"{p}: sources file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SourcesError(f"{p}: cannot read sources file: {exc}") from None
    return parse_sources(text, str(p))


def parse_url_list(path: Path) -> tuple[str, ...]:
    """A URL list file: one http(s) URL per line; blank lines and lines starting with # ignored."""
    try:
        lines = path.read_text("utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise SourcesError(f"{path}: cannot read URL list: {exc}") from None
    urls = []
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if line and not line.startswith("#"):
            urls.append(_check_url(f"{path}:{number}", line))
    if not urls:
        raise SourcesError(f"{path}: no URLs in the list")
    return tuple(urls)
