"""Checks a built site: every internal link and asset exists, and no page loads a file from another host."""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

# attributes whose URL the browser fetches by itself (a request), against those a reader follows (a link)
FETCHED: frozenset[tuple[str, str]] = frozenset(
    {("img", "src"), ("script", "src"), ("link", "href"), ("iframe", "src"), ("source", "src")}
)


@dataclass(frozen=True)
class Problem:
    """A broken link or a request to another host: the page, the URL and what is wrong."""

    page: str
    url: str
    why: str


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[tuple[str, str, str]] = []  # (tag, attribute, url)
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value is None:
                continue
            if name == "id":
                self.ids.add(value)
            if name in ("href", "src"):
                self.urls.append((tag, name, value))


def _parse(path: Path) -> _Collector:
    collector = _Collector()
    collector.feed(path.read_text(encoding="utf-8"))
    return collector


def check_site(root: Path) -> list[Problem]:
    """Every problem in the site under root: internal links and assets that do not exist (or a #fragment
    with no such id), and any image, script or stylesheet from another host. Links to other hosts that a
    reader follows (a publisher's homepage) are allowed; they are never loaded by the page itself."""
    root = root.resolve()
    problems: list[Problem] = []
    ids: dict[Path, set[str]] = {}
    pages = sorted(root.rglob("*.html"))
    parsed = {page: _parse(page) for page in pages}
    for page, collector in parsed.items():
        ids[page] = collector.ids
    for page, collector in parsed.items():
        shown = page.relative_to(root).as_posix()
        for tag, attribute, url in collector.urls:
            parts = urlsplit(url)
            if parts.scheme in ("http", "https") or url.startswith("//"):
                if (tag, attribute) in FETCHED:
                    problems.append(Problem(shown, url, "loads a file from another host"))
                continue
            if parts.scheme in ("mailto", "tel", "data"):
                continue
            if parts.scheme:
                problems.append(Problem(shown, url, f"unexpected scheme {parts.scheme!r}"))
                continue
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if not target.is_relative_to(root):
                problems.append(Problem(shown, url, "points outside the site"))
            elif not target.is_file():
                problems.append(Problem(shown, url, "no such file"))
            elif parts.fragment and target.suffix == ".html":
                known = ids.get(target)
                if known is None:
                    known = _parse(target).ids
                if parts.fragment not in known:
                    problems.append(Problem(shown, url, f"no element with id {parts.fragment!r}"))
    return problems
