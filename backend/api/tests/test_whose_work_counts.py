"""Whose work counts: annotators'. Admins' and test users' is test work, left out of every count alike."""

import io

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from backend.api import selectors, services
from backend.api.models import Dataset, Profile, Role

from .test_queue import next_id, submit


@pytest.fixture
def scene(make_user, make_dataset, client_for):
    """A dataset of 4 images wanting 1 annotator each; an annotator submits 1, an admin 2, a test annotator 1."""
    dataset = make_dataset(4, annotators_per_image=1)
    alice, boss, tester = make_user(Role.ANNOTATOR), make_user(Role.ADMIN), make_user(Role.ANNOTATOR, is_test=True)
    for user, count in [(alice, 1), (boss, 2), (tester, 1)]:
        client = client_for(user)
        for _ in range(count):
            submit(client, next_id(client, dataset))
    return dataset, alice, boss, tester


def test_admins_are_test_users_however_they_are_made(make_user, tmp_path, db):
    assert make_user(Role.ADMIN).profile.is_test
    call_command("create_accounts", "--role", "admin", "--username", "ada", stdout=io.StringIO())
    assert User.objects.get(username="ada").profile.is_test
    User.objects.create_superuser("root", password="x")  # createsuperuser's way
    assert Profile.objects.get(user__username="root").is_test
    annotator = make_user(Role.ANNOTATOR)
    services.user_set_role(user=annotator, role=Role.ADMIN)
    assert Profile.objects.get(user=annotator).is_test


def test_only_annotators_work_counts_in_the_dataset_summary(scene):
    dataset, alice, boss, tester = scene
    summary = selectors.dataset_progress(dataset=dataset, user=boss)["dataset"]
    assert summary["submitted"] == 1  # alice's; the admin's 2 and the test user's 1 are test work
    assert summary["annotators_started"] == 1 and summary["eligible_annotators"] == 1
    assert summary["annotations_wanted"] == 4


def test_the_admin_dataset_list_agrees_with_the_summary(scene):
    dataset, alice, boss, tester = scene
    row = selectors.dataset_figures(datasets=Dataset.objects.filter(pk=dataset.pk)).get()
    summary = selectors.dataset_progress(dataset=dataset, user=boss)["dataset"]
    assert (row.submitted, row.started, row.complete) == (
        summary["submitted"],
        summary["annotators_started"],
        summary["images_complete"],
    )
    assert (row.submitted, row.started) == (1, 1)  # was 4 submitted and 3 started: "2 of 1 annotators"


def test_the_admins_work_leaves_images_for_annotators(scene, client_for):
    dataset, alice, boss, tester = scene
    # 4 images, 1 annotator wanted each, alice has done 1: the other 3 are still hers to do.
    client = client_for(alice)
    done = 0
    while (image_id := next_id(client, dataset)) is not None:
        submit(client, image_id)
        done += 1
    assert done == 3


def test_admins_cannot_be_made_real_users_in_admin(client, make_user):
    boss, other = make_user(Role.ADMIN), make_user(Role.ADMIN)
    boss.is_superuser = True
    boss.save()
    client.force_login(boss)
    response = client.post(
        "/api/admin/auth/user/", {"action": "make_real_users", "_selected_action": [other.pk]}, follow=True
    )
    assert "1 admins stay test users" in response.content.decode()
    assert Profile.objects.get(user=other).is_test
