"""The admin site: Django's, with its sign-in limited per client address like the API's.

Installed as the default site by ``apps.EyeTaggerAdminConfig`` (in INSTALLED_APPS instead of
``django.contrib.admin``), so ``admin.site`` and ``@admin.register`` everywhere mean this site. Not
in the ``admin`` package: Django imports this module while it sets up ``admin.site``, and that
package registers its ModelAdmins on ``admin.site`` as it is imported.
"""

from types import SimpleNamespace

from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.template.response import TemplateResponse
from rest_framework.throttling import ScopedRateThrottle

# The API's sign-in throttle (scope "login", LOGIN_THROTTLE_RATE): one count per address for every
# sign-in, so switching from the API to the admin's form gives a guesser no more tries.
_LOGIN_VIEW = SimpleNamespace(throttle_scope="login")


class EyeTaggerAdminSite(admin.AdminSite):
    site_header = "EyeTagger administration"
    site_title = "EyeTagger admin"

    def login(self, request, extra_context=None):
        """Show the sign-in form; answer 429 (the form, with when to try again) past the sign-in limit."""
        if request.method == "POST":
            throttle = ScopedRateThrottle()
            if not throttle.allow_request(request, _LOGIN_VIEW):
                return self._throttled(request, throttle.wait())
        return super().login(request, extra_context)

    def _throttled(self, request, wait: float | None) -> TemplateResponse:
        seconds = max(1, round(wait or 1))
        form = AdminAuthenticationForm(request, initial={"username": request.POST.get("username", "")})
        form.full_clean()  # unbound: no errors, and no cleaned_data, which add_error reads
        form.cleaned_data = {}
        form.add_error(None, f"Too many sign-in attempts from your address. Try again in {seconds} seconds.")
        context = {
            **self.each_context(request),
            "title": "Log in",
            "subtitle": None,
            "app_path": request.get_full_path(),
            "username": "",
            "form": form,
        }
        response = TemplateResponse(request, self.login_template or "admin/login.html", context, status=429)
        response["Retry-After"] = str(seconds)
        return response
