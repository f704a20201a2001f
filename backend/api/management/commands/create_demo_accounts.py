from django.conf import settings
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError

from backend.api import services
from backend.api.models import Role

DEMO_ACCOUNTS = [
    ("annotator", "annotator-demo", Role.ANNOTATOR),
    ("researcher", "researcher-demo", Role.RESEARCHER),
    ("admin", "admin-demo", Role.ADMIN),
]


class Command(BaseCommand):
    help = (
        "Create the demo accounts (an annotator, a researcher and an admin) with known passwords and print them. "
        "Refuses to run when DEBUG is off: known passwords do not belong on a real deployment."
    )

    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://127.0.0.1:8000/", help="The address to print for signing in.")

    def handle(self, *args, url, **options):
        if not settings.DEBUG:
            raise CommandError("DEBUG is off: demo accounts with known passwords are refused. Use createsuperuser.")
        self.stdout.write(f"\nEyeTagger is at {url}  (admin: {url}api/admin/, API docs: {url}api/docs/)\n")
        self.stdout.write(f"{'role':<12}{'username':<14}password")
        for username, password, role in DEMO_ACCOUNTS:
            user = User.objects.filter(username=username).first()
            if user is None:
                user = services.user_create(
                    username=username, password=password, role=role, superuser=role == Role.ADMIN
                )
            else:
                user.set_password(password)
                user.save(update_fields=["password"])
                services.user_set_role(user=user, role=role)
            self.stdout.write(f"{role:<12}{username:<14}{password}")
        self.stdout.write("")
