"""Accounts: roles, the test flag, and many annotator accounts created at once from a CSV."""

import base64

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import FilteredSelectMultiple
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import path

from .. import accounts, services
from ..models import Dataset, Profile, Role
from ..upload_handlers import upload_failure
from .display import admin_page, sentence
from .filters import RoleFilter, TestUserFilter


class ProfileInline(admin.StackedInline):
    model = Profile
    can_delete = False
    fields = ["is_test"]
    verbose_name_plural = "EyeTagger profile"


class AccountsCsvForm(forms.Form):
    file = forms.FileField(
        required=False,
        help_text="A CSV file with one account per line: username,email,password. The header row is optional; "
        "leave the password empty to have one generated.",
    )
    text = forms.CharField(
        required=False,
        label="or paste the lines",
        widget=forms.Textarea(
            attrs={"rows": 8, "cols": 70, "placeholder": "username,email,password\nalice,alice@lab.org,\n"}
        ),
    )
    is_test = forms.BooleanField(
        required=False, label="Test users", help_text="Their work never counts towards targets, progress or exports."
    )
    datasets = forms.ModelMultipleChoiceField(
        queryset=Dataset.objects.filter(access=Dataset.Access.CHOSEN),
        required=False,
        widget=FilteredSelectMultiple("datasets", is_stacked=False),
        help_text="Datasets open to chosen annotators that the new accounts may work on.",
    )

    MAX_BYTES = 5 * 1024 * 1024

    def __init__(self, *args, upload_failure: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.upload_failure = upload_failure  # the file could not be received (upload_handlers)

    def clean(self):
        cleaned = super().clean()
        if self.upload_failure:
            raise ValidationError(sentence(self.upload_failure))
        upload, text = cleaned.get("file"), cleaned.get("text", "")
        if upload is None and not text.strip():
            raise ValidationError("Choose a CSV file or paste the lines.")
        if upload is not None and text.strip():
            raise ValidationError("Choose a CSV file or paste the lines, not both.")
        if upload is not None:
            if upload.size > self.MAX_BYTES:
                raise ValidationError(f"The file is larger than {self.MAX_BYTES // 1024 // 1024} MB.")
            try:
                text = upload.read().decode("utf-8-sig")
            except UnicodeDecodeError:
                raise ValidationError("The file is not UTF-8 text; save it as CSV (UTF-8).") from None
        cleaned["csv_text"] = text
        return cleaned


ROLE_CHOICES = [
    (Role.ANNOTATOR.value, "annotator: draws on the datasets open to them"),
    (Role.RESEARCHER.value, "researcher: reads everyone's work, exports"),
    (Role.ADMIN.value, "admin (staff): manages EyeTagger here, may annotate"),
    ("", "no role: may sign in, nothing more"),
]
_ROLE_GROUPS = [Role.ANNOTATOR, Role.RESEARCHER]


class _RoleForm(forms.ModelForm):
    """A user's role as one choice; saving it sets their group and staff flag (``services.user_set_role``)."""

    role = forms.ChoiceField(
        choices=ROLE_CHOICES,
        required=False,
        help_text="Sets the user's group (annotator, researcher) or staff flag (admin); one role per user.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["role"].initial = _stored_role(self.instance) or ""
        if "groups" in self.fields:  # other groups than the roles' (say, for admin permissions) stay editable
            self.fields["groups"].queryset = self.fields["groups"].queryset.exclude(name__in=_ROLE_GROUPS)
            self.fields["groups"].label = "Other groups"
            self.fields["groups"].help_text = "Groups for Django permissions; the role above sets the role's group."


def _stored_role(user: User) -> Role | None:
    """Return the role the user's staff flag and groups give, active or not (``user_role`` says None when inactive)."""
    if user.is_staff:
        return Role.ADMIN
    names = {group.name for group in user.groups.all()}
    return next((role for role in (Role.RESEARCHER, Role.ANNOTATOR) if role in names), None)


class UserRoleChangeForm(_RoleForm, UserChangeForm):
    pass


class UserRoleCreationForm(_RoleForm, AdminUserCreationForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].initial = Role.ANNOTATOR.value


admin.site.unregister(User)


@admin.register(User)
class EyeTaggerUserAdmin(UserAdmin):
    form = UserRoleChangeForm
    add_form = UserRoleCreationForm
    fieldsets = [
        (None, {"fields": ["username", "password"]}),
        ("Role in EyeTagger", {"fields": ["role"]}),
        ("Personal info", {"fields": ["first_name", "last_name", "email"]}),
        ("Permissions", {"fields": ["is_active", "is_superuser", "groups", "user_permissions"]}),
        ("Important dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [
        (None, {"classes": ["wide"], "fields": ["username", "usable_password", "password1", "password2", "role"]}),
    ]
    inlines = [ProfileInline]
    list_display = ["username", "email", "role", "is_test", "is_active", "last_login", "date_joined"]
    list_filter = [RoleFilter, TestUserFilter, "is_active", "is_superuser"]
    change_list_template = "admin/auth/user/eyetagger_change_list.html"
    actions = ["make_test_users", "make_real_users"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("profile").prefetch_related("groups")

    @admin.display(description="role")
    def role(self, user):
        role = _stored_role(user)  # groups prefetched
        return role.value if role else "—"

    @admin.display(boolean=True, description="test user")
    def is_test(self, user):
        return getattr(getattr(user, "profile", None), "is_test", False)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)  # "Other groups" replace the user's groups
        # Then the role, through the service: its group, or the staff flag.
        if "role" in form.cleaned_data:
            role = form.cleaned_data["role"]
            services.user_set_role(user=form.instance, role=Role(role) if role else None)

    def save_formset(self, request, form, formset, change):
        if formset.model is not Profile:
            return super().save_formset(request, form, formset, change)
        # Through the service: a changed test flag recounts the targets of the user's datasets.
        changed = []
        for profile_form in formset.forms:
            if profile_form.has_changed() and "is_test" in profile_form.changed_data:
                services.user_set_test(user=form.instance, is_test=profile_form.cleaned_data["is_test"])
                changed.append((form.instance.profile, ["is_test"]))
        Profile.objects.get_or_create(user=form.instance)
        # What formset.save() would have recorded: admin's history message reads it.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], changed, []

    @admin.action(description="Make the selected users test users (their work stops counting)")
    def make_test_users(self, request, queryset):
        for user in queryset:
            services.user_set_test(user=user, is_test=True)
        self.message_user(request, f"{queryset.count()} users are now test users; the targets were recounted.")

    @admin.action(description="Make the selected users real users (their work counts; not admins')")
    def make_real_users(self, request, queryset):
        admins = queryset.filter(is_staff=True).count()
        for user in queryset.filter(is_staff=False):
            services.user_set_test(user=user, is_test=False)
        note = f" {admins} admins stay test users: admins' work never counts." if admins else ""
        self.message_user(
            request, f"{queryset.count() - admins} users' work now counts; the targets were recounted.{note}"
        )

    def get_urls(self):
        view = self.admin_site.admin_view(self.create_annotators_view)
        return [path("create-annotators/", view, name="auth_user_create_annotators"), *super().get_urls()]

    def create_annotators_view(self, request):
        """Create many annotator accounts from a CSV; show the generated passwords once, with a download."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = AccountsCsvForm(request.POST or None, request.FILES or None, upload_failure=upload_failure(request))
        if request.method == "POST" and form.is_valid():
            try:
                created = services.users_create_from_csv(
                    csv_text=form.cleaned_data["csv_text"],
                    is_test=form.cleaned_data["is_test"],
                    datasets=form.cleaned_data["datasets"],
                )
            except ValidationError as error:
                for message in error.messages:
                    form.add_error(None, message)
            else:
                sheet = accounts.accounts_csv(created).encode()
                return admin_page(
                    self,
                    request,
                    "admin/auth/user/accounts_created.html",
                    title=f"{len(created)} annotator accounts created",
                    accounts=created,
                    download="data:text/csv;charset=utf-8;base64," + base64.b64encode(sheet).decode(),
                    is_test=form.cleaned_data["is_test"],
                )
        return admin_page(
            self,
            request,
            "admin/auth/user/create_annotators.html",
            title="Create annotator accounts from a CSV",
            form=form,
            media=self.media + form.media,
        )
