from django.apps import AppConfig
from django.conf import settings
from django.contrib.admin import apps as admin_apps
from django.db.models.signals import post_migrate, post_save


class EyeTaggerAdminConfig(admin_apps.AdminConfig):
    """Django admin with EyeTagger's site (its sign-in rate-limited): listed instead of django.contrib.admin."""

    default = False  # backend.api's own config is ApiConfig
    default_site = "backend.api.admin_site.EyeTaggerAdminSite"


class ApiConfig(AppConfig):
    default = True
    name = "backend.api"
    label = "api"
    verbose_name = "EyeTagger"

    def ready(self):
        from . import checks  # noqa: F401  (registers the deployment checks)

        # Every user needs a profile, however it was created (createsuperuser, admin, API).
        post_save.connect(_ensure_profile, sender=settings.AUTH_USER_MODEL, dispatch_uid="eyetagger_profile")
        # The database cache (the login throttle's counts in production) needs its table: create it
        # with every migrate, so no deployment step can forget it.
        post_migrate.connect(_create_cache_table, sender=self, dispatch_uid="eyetagger_cache_table")


def _ensure_profile(sender, instance, created, raw=False, **kwargs):
    if created and not raw:
        from .models import Profile

        Profile.objects.get_or_create(user=instance)


def _create_cache_table(sender, using="default", verbosity=1, **kwargs):
    from django.core.management import call_command

    call_command("createcachetable", database=using, verbosity=verbosity)
