from django.apps import AppConfig
from django.conf import settings
from django.db.models.signals import post_save


class ApiConfig(AppConfig):
    name = "backend.api"
    label = "api"
    verbose_name = "EyeTagger"

    def ready(self):
        # Every user needs a profile, however it was created (createsuperuser, admin, API).
        post_save.connect(_ensure_profile, sender=settings.AUTH_USER_MODEL, dispatch_uid="eyetagger_profile")


def _ensure_profile(sender, instance, created, raw=False, **kwargs):
    if created and not raw:
        from .models import Profile

        Profile.objects.get_or_create(user=instance)
