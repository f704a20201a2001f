"""Render a study's Markdown (consent, instructions, thank-you) as HTML that is safe to put in the page.

Pure: no ORM, no HTTP. Python-Markdown renders; nh3 (the Ammonia sanitiser) then keeps only
text-formatting tags and safe links, so whatever a researcher (or a tampered study file) wrote,
no script, style, frame, form or event handler reaches a participant's page. Images are allowed
only as a study's own examples: ``![An iris](example:real_iris)`` becomes the URL the caller
gives for that example (a protected API address); any other image source is dropped.
"""

from collections.abc import Callable

import markdown
import nh3

EXAMPLE_SCHEME = "example:"
TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "div", "dl", "dt", "em", "figcaption", "figure",
    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "kbd", "li", "ol", "p", "pre", "s", "small", "strong",
    "sub", "sup", "table", "tbody", "td", "th", "thead", "tr", "u", "ul",
}  # fmt: skip
ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title"}, "th": {"align"}, "td": {"align"}}
URL_SCHEMES = {"http", "https", "mailto"}


def render(text: str, *, example_url: Callable[[str], str | None] = lambda name: None) -> str:
    """Return the Markdown ``text`` as sanitised HTML; ``example_url(name)`` gives an example image's address."""
    html = markdown.markdown(text or "", extensions=["tables", "sane_lists"], output_format="html")

    def keep(tag: str, attribute: str, value: str) -> str | None:
        if tag == "img" and attribute == "src":
            # Only the study's own example images; never another site's (nor a tracking pixel).
            return example_url(value[len(EXAMPLE_SCHEME) :]) if value.startswith(EXAMPLE_SCHEME) else None
        return value

    # The example: scheme must survive the URL check to reach the filter, which rewrites it.
    return nh3.clean(
        html,
        tags=TAGS,
        attributes=ATTRIBUTES,
        url_schemes=URL_SCHEMES | {"example"},
        attribute_filter=keep,
        link_rel="noopener noreferrer",
    )
