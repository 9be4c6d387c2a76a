"""The report page's Content-Security-Policy: only its own inline scripts and styles, by their hashes."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Final

# what the template writes as its policy meta's content; with_policy replaces it by the page's policy
POLICY_PLACEHOLDER: Final = "kestava-csp-policy-to-be-computed"

# the type attributes of a <script> that runs (HTML's JavaScript MIME type essences and "module"); any
# other type (application/json) is a data block, which the browser neither runs nor checks against the
# policy
_SCRIPT_TYPES: Final = frozenset(
    {"", "module", "text/javascript", "application/javascript", "application/ecmascript", "text/ecmascript"}
)

# what the page allows besides its hashed scripts and styles: its inlined images (the PNGs shown without
# JavaScript, Vega's data: and blob: images) and fonts; nothing else is loaded, and no <base> or form
_OTHER_DIRECTIVES: Final = (
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
)


def source_hash(text: str) -> str:
    """The CSP hash source ('sha256-…') of an inline element with this text between its tags, as the browser
    computes it: the text after the parser's line-break normalisation (CR LF and CR become LF), UTF-8."""
    normalised = text.replace("\r\n", "\n").replace("\r", "\n")
    digest = hashlib.sha256(normalised.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


@dataclass
class InlineElements:
    """A page's inline scripts and styles (their text between the tags), and the attributes a policy without
    'unsafe-inline' or 'unsafe-hashes' refuses (style="…", onclick="…"), as "tag attribute" strings."""

    scripts: list[str] = field(default_factory=list)
    styles: list[str] = field(default_factory=list)
    refused_attributes: list[str] = field(default_factory=list)


class _InlineParser(HTMLParser):
    """Collects a page's InlineElements (script and style text is raw text here, as to a browser)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.found = InlineElements()
        self._open: list[str] | None = None  # the text chunks of the script or style being read

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.found.refused_attributes += [
            f"{tag} {n}" for n, _ in attrs if n == "style" or n.startswith("on")
        ]
        runs = (
            tag == "script"
            and "src" not in values
            and (values.get("type") or "").strip().lower() in _SCRIPT_TYPES
        )
        if runs or tag == "style":
            self._open = []
            (self.found.scripts if tag == "script" else self.found.styles).append("")

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._open.append(data)

    def handle_endtag(self, tag: str) -> None:
        if self._open is not None and tag in ("script", "style"):
            texts = self.found.scripts if tag == "script" else self.found.styles
            texts[-1] = "".join(self._open)
            self._open = None


def inline_elements(html: str) -> InlineElements:
    """The inline scripts (those that run: no src, a JavaScript type) and styles of an HTML page."""
    parser = _InlineParser()
    parser.feed(html)
    parser.close()
    return parser.found


def policy(html: str) -> str:
    """The page's policy: nothing by default; its own inline scripts and styles by their hashes (no
    'unsafe-inline', no 'unsafe-eval'); images and fonts inlined or beside it.

    Raises ValueError when the page holds an attribute the policy would refuse (a style or event handler
    attribute): the page would silently lose it in the browser."""
    found = inline_elements(html)
    if found.refused_attributes:
        raise ValueError(
            f"the report holds attributes its Content-Security-Policy refuses: {found.refused_attributes}"
        )
    scripts = " ".join(dict.fromkeys(source_hash(text) for text in found.scripts)) or "'none'"
    styles = " ".join(dict.fromkeys(source_hash(text) for text in found.styles)) or "'none'"
    return "; ".join(
        ("default-src 'none'", f"script-src {scripts}", f"style-src {styles}", *_OTHER_DIRECTIVES)
    )


def with_policy(html: str) -> str:
    """The rendered page with its policy in place of POLICY_PLACEHOLDER (which it must hold exactly once)."""
    if html.count(POLICY_PLACEHOLDER) != 1:
        raise ValueError("the report must hold the policy placeholder exactly once (its CSP meta's content)")
    return html.replace(POLICY_PLACEHOLDER, policy(html))
