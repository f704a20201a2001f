"""How the admin's pages show things: pictures in lists and change pages, durations, services' messages."""

import json
from collections import Counter

from django.template.response import TemplateResponse
from django.utils.html import format_html

THUMBNAIL = 120  # pixels, in lists
PREVIEW = 480  # pixels, on a change page


def thumbnail_tag(url: str, size: int, alt: str):
    """Return an <img> of the picture at ``url``, at most ``size`` pixels wide and high, loaded lazily."""
    return format_html(
        '<img src="{}" alt="{}" style="max-width:{}px;max-height:{}px" loading="lazy">', url, alt, size, size
    )


def sentence(message: str) -> str:
    """Return a service's message ("the archive is refused...") as a sentence for a form's errors."""
    return message[:1].upper() + message[1:]


def duration(ms: int) -> str:
    """Return milliseconds of work as "1h 05m" or "4m 09s"."""
    seconds = round((ms or 0) / 1000)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h {rest // 60:02d}m" if hours else f"{rest // 60}m {rest % 60:02d}s"


def admin_page(model_admin, request, template: str, *, title: str, **context) -> TemplateResponse:
    """Return a page of our own (an import form, its report, a confirmation) framed as the admin's pages are.

    ``template`` extends admin's base; it gets the site's context, the title and the model's
    ``opts`` (for the breadcrumbs), and ``context``.
    """
    page = {**model_admin.admin_site.each_context(request), "title": title, "opts": model_admin.model._meta}
    return TemplateResponse(request, template, {**page, **context})


def strokes_summary(strokes: list[dict]) -> str:
    """Return a strokes document in a line: "5 strokes: 4 brush, 1 eraser; widths 4–12 px; drawn over 1m 05s".

    The time span runs from the first point's time to the last one's (each point's ``t``, in ms).
    """
    if not strokes:
        return "no strokes"
    tools = Counter(stroke.get("tool", "brush") for stroke in strokes)
    widths = [stroke.get("width", 0) for stroke in strokes]
    times = [point[2] for stroke in strokes for point in stroke.get("points", ()) if len(point) > 2]
    tools_text = ", ".join(f"{count} {tool}" for tool, count in tools.most_common())
    low, high = min(widths), max(widths)
    widths_text = f"width {low:g} px" if low == high else f"widths {low:g}–{high:g} px"
    points = sum(len(stroke.get("points", ())) for stroke in strokes)
    span = f"; drawn over {duration(max(times) - min(times))}" if times else ""
    noun = "stroke" if len(strokes) == 1 else "strokes"
    return f"{len(strokes)} {noun} ({points} points): {tools_text}; {widths_text}{span}"


def folded_json(value, summary: str):
    """Return a JSON value folded under its summary, unfolded on a click (a page is not a wall of JSON)."""
    text = json.dumps(value, ensure_ascii=False)  # compact, wrapped by the page: points stay one per [..]
    return format_html(
        "<details><summary>{} — show the JSON ({} KB)</summary>"
        '<pre style="max-height:30em;overflow:auto;white-space:pre-wrap">{}</pre></details>',
        summary,
        max(1, round(len(text) / 1024)),
        text,
    )
