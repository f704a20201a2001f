"""API tokens in admin: every token with its user, name, last use and expiry; make one for a script, revoke any."""

from django import forms
from django.contrib import admin, messages
from django.utils import timezone

from .. import services
from ..token_models import ApiToken


class ApiTokenCreationForm(forms.ModelForm):
    class Meta:
        model = ApiToken
        fields = ["user", "name", "expires_at"]
        help_texts = {"name": "What it is for, e.g. 'nightly export on lab-server'."}

    def clean_expires_at(self):
        expires_at = self.cleaned_data.get("expires_at")
        if expires_at is not None and expires_at <= timezone.now():
            raise forms.ValidationError(
                "The expiry must be in the future; leave it empty for a token that never expires."
            )
        return expires_at


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["prefix", "user", "name", "created_at", "last_used_at", "expires_at"]
    list_select_related = ["user"]
    list_filter = ["created_at", "last_used_at", "expires_at"]
    search_fields = ["user__username", "name", "prefix"]
    readonly_fields = ["prefix", "created_at", "last_used_at"]
    autocomplete_fields = ["user"]
    actions = ["delete_selected"]

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = ApiTokenCreationForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["user", "name", "expires_at"]
        return ["user", "name", "prefix", "created_at", "last_used_at", "expires_at"]

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "user"] if obj is not None else []

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        # Through the service: only the key's digest is stored, so the key is shown now and never again.
        token = services.api_token_create(user=obj.user, name=obj.name, expires_at=obj.expires_at)
        obj.pk, obj.digest, obj.prefix, obj.created_at = token.pk, token.digest, token.prefix, token.created_at
        self.message_user(
            request,
            f"The token's key, shown this once (copy it now): {token.key} — send it as 'Authorization: Token "
            f"{token.key}'.",
            messages.WARNING,
        )
