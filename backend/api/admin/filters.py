"""List filters: by role, and test users or real ones (on users, or on what an annotator did)."""

from django.contrib import admin

from ..models import Role


class RoleFilter(admin.SimpleListFilter):
    title = "role"
    parameter_name = "role"

    def lookups(self, request, model_admin):
        return [(role.value, role.value) for role in Role] + [("none", "no role")]

    def queryset(self, request, queryset):
        if self.value() == Role.ADMIN:
            return queryset.filter(is_staff=True)
        if self.value() in (Role.ANNOTATOR, Role.RESEARCHER):
            return queryset.filter(is_staff=False, groups__name=self.value())
        if self.value() == "none":
            return queryset.filter(is_staff=False).exclude(groups__name__in=[Role.ANNOTATOR, Role.RESEARCHER])
        return queryset


class TestUserFilter(admin.SimpleListFilter):
    """Test users or real ones; ``field`` is the path to the user."""

    title = "test user"
    parameter_name = "test_user"
    field = "profile__is_test"

    def lookups(self, request, model_admin):
        return [("yes", "test users"), ("no", "real users")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(**{self.field: self.value() == "yes"})
        return queryset


class AnnotatorTestFilter(TestUserFilter):
    field = "annotator__profile__is_test"
