"""Create the role groups, and a profile for every user that existed before profiles did."""

from django.db import migrations


def create_roles(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for name in ("annotator", "researcher"):
        Group.objects.get_or_create(name=name)
    User = apps.get_model("auth", "User")
    Profile = apps.get_model("api", "Profile")
    Profile.objects.bulk_create(
        [Profile(user=user) for user in User.objects.filter(profile__isnull=True)], ignore_conflicts=True
    )


class Migration(migrations.Migration):
    dependencies = [("api", "0001_initial"), ("auth", "0012_alter_user_first_name_max_length")]

    operations = [migrations.RunPython(create_roles, reverse_code=migrations.RunPython.noop)]
