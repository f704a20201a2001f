"""How the admin's pages show things: pictures in lists and change pages, durations, services' messages."""

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
