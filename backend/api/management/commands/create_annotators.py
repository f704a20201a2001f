from backend.api.models import Role

from .create_accounts import Command as CreateAccounts


class Command(CreateAccounts):
    help = "Create annotator accounts (create_accounts with --role annotator by default; kept for existing scripts)."
    default_role = Role.ANNOTATOR
