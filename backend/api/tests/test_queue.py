"""The assignment queue: handing out images under leases, targets, order, skips, resuming, test users.

One module although the queue is a package (services/queue/): its behaviours are seen through one
API (next, skip, save), whichever of the package's modules does the work.
"""

import json
import random
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.utils import timezone
from rest_framework.renderers import JSONRenderer

from backend.api import services
from backend.api.models import (
    KEY_BITS,
    Annotation,
    AnnotationRevision,
    AnnotatorProgress,
    Assignment,
    Dataset,
    Image,
    Role,
)
from backend.api.selectors import annotator_progress, queue_check
from backend.api.serializers import ImageSerializer, LeaseSerializer, ProgressSerializer

from .conftest import brush, document


def next_image(client, dataset, ahead=None):
    query = "" if ahead is None else f"?ahead={ahead}"
    response = client.get(f"/api/datasets/{dataset.pk}/next/{query}")
    assert response.status_code == 200, response.json()
    return response.json()


def next_id(client, dataset):
    image = next_image(client, dataset)["image"]
    return image["id"] if image else None


def save(client, image_id, status="submitted", label=None, version=0, **extra):
    return client.put(
        f"/api/images/{image_id}/annotation/",
        document([brush([(5, 5)])], label=label, status=status, version=version, **extra),
        format="json",
    )


def submit(client, image_id):
    response = save(client, image_id)
    assert response.status_code in (200, 201), response.json()


def skip(client, image_id, reason="too blurry to tell"):
    return client.post(f"/api/images/{image_id}/skip/", {"reason": reason}, format="json")


def expire_leases(dataset):
    Assignment.objects.filter(dataset=dataset, status="leased").update(
        leased_until=timezone.now() - timedelta(seconds=1)
    )


def walk(client, dataset):
    """Take and submit images until none is left; return their ids in the order handed out."""
    seen = []
    while (image_id := next_id(client, dataset)) is not None:
        seen.append(image_id)
        submit(client, image_id)
        assert len(seen) <= Image.objects.filter(dataset=dataset).count()
    return seen


# --- Handing out and leasing ---------------------------------------------------------------


def test_next_reserves_the_image_for_the_lease(annotator, make_dataset, client_for):
    dataset = make_dataset(3, annotators_per_image=1, lease_minutes=30)
    before = timezone.now()
    body = next_image(client_for(annotator), dataset)
    assignment = Assignment.objects.get()
    assert (assignment.image_id, assignment.annotator, assignment.status) == (body["image"]["id"], annotator, "leased")
    assert timedelta(minutes=29) < assignment.leased_until - before < timedelta(minutes=31)
    assert body["lease"]["minutes"] == 30 and body["lease"]["resumed"] is False
    assert Image.objects.get(pk=body["image"]["id"]).reserved_count == 1


@pytest.mark.parametrize("role", [Role.ANNOTATOR, Role.ADMIN])
def test_handout_body_is_what_the_serializers_give(role, make_user, make_dataset, client_for):
    # next builds its body directly (handout_data) for speed; it must stay what the declared serializers give.
    user = make_user(role)
    dataset = make_dataset(4, annotators_per_image=2)
    Image.objects.filter(dataset=dataset).update(ground_truth="fake", metadata={"camera": "x100", "iso": 200})
    client = client_for(user)
    for call in range(2):  # a fresh hand-out, then the same again (resumed, read back from the database)
        body = next_image(client, dataset, ahead=2)
        context = {"request": SimpleNamespace(user=user)}
        assignment = Assignment.objects.get(annotator=user, image_id=body["image"]["id"])
        ahead = [Image.objects.get(pk=image["id"]) for image in body["ahead"]]
        expected = {
            "image": ImageSerializer(Image.objects.get(pk=body["image"]["id"]), context=context).data,
            "progress": ProgressSerializer(annotator_progress(dataset=dataset, annotator=user)).data,
            "lease": LeaseSerializer(
                {"expires_at": assignment.leased_until, "minutes": dataset.lease_minutes, "resumed": call == 1}
            ).data,
            "ahead": ImageSerializer(ahead, many=True, context=context).data,
        }
        assert len(body["ahead"]) == 2
        assert body == json.loads(JSONRenderer().render(expected))
        assert (body["image"]["ground_truth"] is not None) == (role == Role.ADMIN)


def test_a_reload_or_a_second_device_gets_the_same_image(annotator, make_dataset, client_for):
    dataset = make_dataset(5)
    first = next_image(client_for(annotator), dataset)
    again = next_image(client_for(annotator), dataset)  # another client: another device
    assert again["image"]["id"] == first["image"]["id"]
    assert again["lease"]["resumed"] is True
    assert Assignment.objects.count() == 1


def test_two_annotators_never_share_an_image_when_one_annotator_is_wanted(make_user, make_dataset, client_for):
    dataset = make_dataset(2, annotators_per_image=1)
    alice, bob, carol = (client_for(make_user()) for _ in range(3))
    a, b = next_id(alice, dataset), next_id(bob, dataset)
    assert a != b
    assert next_id(carol, dataset) is None  # both slots are leased


def test_images_furthest_from_their_target_come_first(make_user, make_dataset, client_for):
    dataset = make_dataset(3, annotators_per_image=2)
    clients = [client_for(make_user()) for _ in range(4)]
    first_round = [next_id(client, dataset) for client in clients[:3]]
    assert sorted(first_round) == sorted(Image.objects.filter(dataset=dataset).values_list("pk", flat=True))
    fourth = next_id(clients[3], dataset)  # every image has one annotator: now the second round
    assert Image.objects.get(pk=fourth).reserved_count == 2


def test_finished_images_never_come_back(annotator, make_dataset, client_for):
    client = client_for(annotator)
    dataset = make_dataset(4)
    seen = walk(client, dataset)
    assert sorted(seen) == sorted(Image.objects.filter(dataset=dataset).values_list("pk", flat=True))
    assert next_id(client, dataset) is None


def test_no_image_goes_past_its_target(make_user, make_dataset, client_for):
    dataset = make_dataset(3, annotators_per_image=2)
    for _ in range(5):
        walk(client_for(make_user()), dataset)
    assert set(Image.objects.filter(dataset=dataset).values_list("submitted_count", flat=True)) == {2}
    assert Annotation.objects.filter(status="submitted").count() == 6
    assert queue_check(dataset=dataset) == []


# --- Order ------------------------------------------------------------------------------


def expected_random_order(dataset, annotator):
    """The annotator's order, recomputed from its documented definition (docs/datasets.md, "Assignment")."""
    shift = dataset.bucket_shift()
    buckets = 1 << (KEY_BITS - shift)
    start = dataset.start_key_for(annotator.pk) >> shift

    def place(row):
        key, sha256, pk = row
        return ((key >> shift) - start) % buckets, dataset.annotator_key(annotator.pk, sha256)

    rows = Image.objects.filter(dataset=dataset).values_list("shuffle_key", "sha256", "pk")
    return [pk for *_, pk in sorted(rows, key=place)]


@pytest.mark.parametrize("images", [12, 100])
def test_the_random_order_is_each_annotators_own_and_reproducible(images, make_user, make_dataset, client_for):
    dataset = make_dataset(images)
    alice, bob = make_user(), make_user()
    alices, bobs = walk(client_for(alice), dataset), walk(client_for(bob), dataset)
    assert alices == expected_random_order(dataset, alice)
    assert bobs == expected_random_order(dataset, bob)


def test_small_datasets_give_every_annotator_an_independent_order(make_user, make_dataset, client_for):
    dataset = make_dataset(8, seed=20261125)  # a fixed seed: the same six orders every run
    orders = {tuple(walk(client_for(make_user()), dataset)) for _ in range(6)}
    assert len(orders) == 6  # rotations of one order would repeat with 8 images and 6 annotators


def test_file_order_follows_the_metadata_rows(annotator, make_dataset, client_for):
    dataset = make_dataset(6, order=Dataset.Order.FILE)
    assert walk(client_for(annotator), dataset) == list(
        Image.objects.filter(dataset=dataset).order_by("position").values_list("pk", flat=True)
    )


def test_the_order_carries_on_after_the_last_image_handed_out(make_user, make_dataset, client_for):
    dataset = make_dataset(6, order=Dataset.Order.FILE, annotators_per_image=1)
    ids = list(Image.objects.filter(dataset=dataset).order_by("position").values_list("pk", flat=True))
    alice, bob = client_for(make_user()), client_for(make_user())
    assert next_id(alice, dataset) == ids[0]
    assert next_id(bob, dataset) == ids[1]
    submit(alice, ids[0])
    assert next_id(alice, dataset) == ids[2]  # ids[1] is bob's


# --- Skipping ------------------------------------------------------------------------------


def test_a_skipped_image_never_comes_back_and_its_reason_is_kept(annotator, make_dataset, client_for):
    client = client_for(annotator)
    dataset = make_dataset(3)
    first = next_id(client, dataset)
    response = skip(client, first, reason="  the iris is hidden by the eyelid ")
    assert response.status_code == 200
    assert response.json()["image"]["id"] != first
    assert response.json()["progress"]["skipped"] == 1
    assignment = Assignment.objects.get(image_id=first)
    assert (assignment.status, assignment.skip_reason) == ("skipped", "the iris is hidden by the eyelid")
    assert first not in walk(client, dataset)


def test_skipping_gives_the_slot_to_someone_else(make_user, make_dataset, client_for):
    dataset = make_dataset(1, annotators_per_image=1)
    alice, bob = client_for(make_user()), client_for(make_user())
    only = next_id(alice, dataset)
    assert next_id(bob, dataset) is None
    assert skip(alice, only).json()["image"] is None
    assert next_id(bob, dataset) == only


def test_a_skip_needs_a_reason(annotator, make_dataset, client_for):
    client = client_for(annotator)
    image_id = next_id(client, make_dataset(2))
    response = skip(client, image_id, reason="   ")
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "reason"
    assert Assignment.objects.get().status == "leased"


def test_a_submitted_image_cannot_be_skipped(annotator, make_dataset, client_for):
    client = client_for(annotator)
    image_id = next_id(client, make_dataset(2))
    submit(client, image_id)
    response = skip(client, image_id)
    assert response.status_code == 400 and response.json()["errors"][0]["code"] == "already_submitted"


def test_saving_a_skipped_image_takes_it_back(annotator, make_dataset, client_for):
    client = client_for(annotator)
    dataset = make_dataset(2, annotators_per_image=1)
    image_id = next_id(client, dataset)
    skip(client, image_id)
    submit(client, image_id)
    progress = AnnotatorProgress.objects.get(annotator=annotator)
    assert (progress.submitted_count, progress.skipped_count) == (1, 0)
    assert queue_check(dataset=dataset) == []


# --- Resuming after a break, and leases running out ----------------------------------------


def test_after_a_break_the_annotator_continues_with_their_draft(annotator, make_dataset, client_for):
    client = client_for(annotator)
    dataset = make_dataset(5, annotators_per_image=1)
    image_id = next_id(client, dataset)
    save(client, image_id, status="draft")
    expire_leases(dataset)
    services.release_expired_leases(dataset=dataset)
    assert Assignment.objects.get().status == "released"
    body = next_image(client, dataset)
    assert body["image"]["id"] == image_id and body["lease"]["resumed"] is True
    assert Image.objects.get(pk=image_id).reserved_count == 1


def test_an_expired_lease_returns_the_image_to_the_pool(make_user, make_dataset, client_for):
    dataset = make_dataset(1, annotators_per_image=1)
    alice_user = make_user()
    alice, bob = client_for(alice_user), client_for(make_user())
    only = next_id(alice, dataset)
    assert next_id(bob, dataset) is None
    expire_leases(dataset)
    assert next_id(bob, dataset) == only
    late = save(alice, only)  # alice comes back after bob took her place
    assert late.status_code == 409 and late.json()["code"] == "image_full"
    assert "your reservation of it expired" in late.json()["detail"]
    assert not Annotation.objects.filter(annotator=alice_user).exists()


def test_saving_renews_the_lease(annotator, make_dataset, client_for):
    client = client_for(annotator)
    dataset = make_dataset(2)
    image_id = next_id(client, dataset)
    Assignment.objects.update(leased_until=timezone.now() + timedelta(minutes=1))
    save(client, image_id, status="draft")
    assert Assignment.objects.get().leased_until > timezone.now() + timedelta(minutes=29)


@pytest.mark.parametrize("change", ["text", "stroke"])
def test_a_save_renews_the_lease_only_once_it_has_run_down_by_a_step(annotator, make_dataset, client_for, change):
    # Saves come several times a minute: renewing on each rewrote the assignment and its indexes.
    client = client_for(annotator)
    dataset = make_dataset(2, lease_minutes=30)
    image_id = next_id(client, dataset)
    url = f"/api/images/{image_id}/annotation/"
    assert client.patch(url, {"version": 0, "append": [brush([(5, 5)])]}, format="json").status_code == 201
    body = {"text": "a"} if change == "text" else {"remove": 1, "append": [brush([(6, 6)])]}
    fresh = timezone.now() + timedelta(minutes=29, seconds=30)  # ran down by 30 s: less than a step
    Assignment.objects.update(leased_until=fresh)
    assert client.patch(url, {"version": 1, **body}, format="json").status_code == 200
    assert Assignment.objects.get().leased_until == fresh
    stale = timezone.now() + timedelta(minutes=28, seconds=50)  # ran down by more than a step
    Assignment.objects.update(leased_until=stale)
    body = {"text": "ab"} if change == "text" else {"remove": 1, "append": [brush([(7, 7)])]}
    assert client.patch(url, {"version": 2, **body}, format="json").status_code == 200
    assert Assignment.objects.get().leased_until > timezone.now() + timedelta(minutes=29, seconds=50)


def test_a_short_lease_renews_after_a_tenth_of_it(annotator, make_dataset, client_for):
    client = client_for(annotator)
    dataset = make_dataset(2, lease_minutes=1)
    image_id = next_id(client, dataset)
    Assignment.objects.update(leased_until=timezone.now() + timedelta(seconds=50))  # ran down by more than 6 s
    save(client, image_id, status="draft")
    assert Assignment.objects.get().leased_until > timezone.now() + timedelta(seconds=55)


def test_saving_an_image_not_handed_out_takes_a_slot_or_is_refused(make_user, make_dataset, client_for):
    dataset = make_dataset(2, annotators_per_image=1)
    image = Image.objects.filter(dataset=dataset).first()
    alice, bob = client_for(make_user()), client_for(make_user())
    assert save(alice, image.pk, status="draft").status_code == 201
    assert Image.objects.get(pk=image.pk).reserved_count == 1
    refused = save(bob, image.pk, status="draft")
    assert refused.status_code == 409 and refused.json()["code"] == "image_full"
    assert Annotation.objects.count() == 1 and Assignment.objects.count() == 1


def test_setting_a_submission_back_to_draft_keeps_the_slot(annotator, make_dataset, client_for):
    client = client_for(annotator)
    dataset = make_dataset(2, annotators_per_image=1)
    image_id = next_id(client, dataset)
    submit(client, image_id)
    assert save(client, image_id, status="draft", version=1).status_code == 200
    image = Image.objects.get(pk=image_id)
    assert (image.reserved_count, image.submitted_count) == (1, 0)
    assert Assignment.objects.get().status == "leased"
    assert queue_check(dataset=dataset) == []


# --- Test users ------------------------------------------------------------------------------


def test_test_users_never_count_towards_targets(make_user, make_dataset, client_for):
    dataset = make_dataset(1, annotators_per_image=1)
    tester, real = client_for(make_user(is_test=True)), client_for(make_user())
    only = next_id(tester, dataset)
    submit(tester, only)
    assert (Image.objects.get(pk=only).reserved_count, Image.objects.get(pk=only).submitted_count) == (0, 0)
    assert next_id(real, dataset) == only
    assert queue_check(dataset=dataset) == []


def test_test_users_see_images_that_are_full_for_others(make_user, make_dataset, client_for):
    dataset = make_dataset(1, annotators_per_image=1)
    only = next_id(client_for(make_user()), dataset)
    assert next_id(client_for(make_user(is_test=True)), dataset) == only


def test_turning_someone_into_a_test_user_recounts_their_work(make_user, make_dataset, client_for):
    dataset = make_dataset(2, annotators_per_image=1)
    user = make_user()
    image_id = next_id(client_for(user), dataset)
    submit(client_for(user), image_id)
    services.user_set_test(user=user, is_test=True)
    assert Image.objects.get(pk=image_id).submitted_count == 0
    assert next_id(client_for(make_user()), dataset) is not None
    assert queue_check(dataset=dataset) == []


def test_the_check_names_every_counter_that_disagrees_and_a_recount_rebuilds_them(make_user, make_dataset, client_for):
    dataset = make_dataset(3, annotators_per_image=2)
    user = make_user()
    submitted = next_id(client_for(user), dataset)
    submit(client_for(user), submitted)
    skip(client_for(user), next_id(client_for(user), dataset))
    image = Image.objects.get(pk=submitted)
    Image.objects.filter(pk=submitted).update(reserved_count=0, submitted_count=2)
    AnnotatorProgress.objects.filter(annotator=user).update(skipped_count=0)
    Dataset.objects.filter(pk=dataset.pk).update(image_count=7)
    assert queue_check(dataset=dataset) == [
        f"{image.path}: counts 0/2, assignments 1/1",
        f"annotator {user.pk}: progress 1/0, assignments 1/1",
        "image_count differs from the number of images",
    ]
    services.queue_recount(dataset=dataset)
    assert queue_check(dataset=dataset) == []
    assert (Image.objects.get(pk=submitted).reserved_count, Dataset.objects.get(pk=dataset.pk).image_count) == (1, 3)


# --- Quotas, totals and progress ----------------------------------------------------------------


def test_a_quota_stops_handing_out_images(annotator, make_dataset, client_for):
    client = client_for(annotator)
    dataset = make_dataset(5, images_per_annotator=2)
    assert next_image(client, dataset)["progress"]["total"] == 2
    first = next_id(client, dataset)
    skip(client, first)
    submit(client, next_id(client, dataset))
    body = next_image(client, dataset)
    assert body["image"] is None
    assert body["progress"] | {"active_ms": 0} == {
        "done": 1,
        "skipped": 1,
        "in_progress": 0,
        "total": 2,
        "active_ms": 0,
        "finished": True,
    }


def test_the_total_is_the_annotators_fair_share_of_the_target(make_user, make_dataset, client_for):
    dataset = make_dataset(10, annotators_per_image=3)
    users = [make_user() for _ in range(4)]
    body = next_image(client_for(users[0]), dataset)
    assert body["progress"]["total"] == 8  # ceil(10 images x 3 / 4 annotators)


def test_a_new_annotator_counts_in_others_totals_within_a_minute(make_user, make_dataset, client_for, monkeypatch):
    dataset = make_dataset(10, annotators_per_image=3)
    users = [make_user() for _ in range(4)]
    clock = [1000.0]
    monkeypatch.setattr("backend.api.selectors.queue.time.monotonic", lambda: clock[0])
    assert next_image(client_for(users[0]), dataset)["progress"]["total"] == 8  # ceil(10 x 3 / 4)
    users.append(make_user())
    clock[0] += 30
    assert next_image(client_for(users[0]), dataset)["progress"]["total"] == 8  # counted less than a minute ago
    clock[0] += 31
    assert next_image(client_for(users[0]), dataset)["progress"]["total"] == 6  # ceil(10 x 3 / 5)


def test_every_image_is_the_total_when_every_annotator_sees_every_image(make_user, make_dataset, client_for):
    dataset = make_dataset(10, annotators_per_image=None)
    make_user()
    assert next_image(client_for(make_user()), dataset)["progress"]["total"] == 10


def test_an_annotator_with_nothing_left_is_found_again_when_a_slot_comes_free(make_user, make_dataset, client_for):
    dataset = make_dataset(1, annotators_per_image=1)
    bob_user = make_user()
    alice, bob = client_for(make_user()), client_for(bob_user)
    only = next_id(alice, dataset)
    assert next_image(bob, dataset)["progress"]["finished"] is True
    assert AnnotatorProgress.objects.get(annotator=bob_user).exhausted_version is not None
    skip(alice, only)
    assert next_id(bob, dataset) == only


def test_progress_counts_time_spent(annotator, make_dataset, client_for):
    client = client_for(annotator)
    dataset = make_dataset(3)
    first = next_id(client, dataset)
    save(client, first, status="draft", active_ms=4000)
    save(client, first, status="submitted", version=1, active_ms=6000)
    second = next_id(client, dataset)
    save(client, second, status="draft", active_ms=1500)
    assert next_image(client, dataset)["progress"]["active_ms"] == 7500


# --- Restoring and the counters -------------------------------------------------------------------


def test_restoring_a_draft_over_a_submission_keeps_the_counters_true(annotator, admin_user, make_dataset, client_for):
    client = client_for(annotator)
    dataset = make_dataset(2, annotators_per_image=1)
    image_id = next_id(client, dataset)
    save(client, image_id, status="draft", label=None)
    client.put(
        f"/api/images/{image_id}/annotation/", document([], status="draft", version=1), format="json"
    )  # clear: keeps a revision
    submit_body = document([brush([(9, 9)])], status="submitted", version=2)
    assert client.put(f"/api/images/{image_id}/annotation/", submit_body, format="json").status_code == 200
    assert Image.objects.get(pk=image_id).submitted_count == 1
    services.annotation_restore(revision=AnnotationRevision.objects.get(version=1), user=admin_user)
    assert Annotation.objects.get().status == "draft"
    assert Image.objects.get(pk=image_id).submitted_count == 0
    assert queue_check(dataset=dataset) == []


# --- Whatever happens, the counters agree with the assignments ---------------------------------------


@pytest.mark.parametrize("seed", range(4))
def test_random_work_keeps_every_counter_true(seed, make_user, make_dataset, client_for):
    rng = random.Random(seed)
    dataset = make_dataset(8, annotators_per_image=2, order=rng.choice(["random", "file"]))
    users = [make_user(is_test=(i == 0)) for i in range(4)]
    for _ in range(60):
        user = rng.choice(users)
        client = client_for(user)
        action = rng.choice(["next", "submit", "draft", "skip", "expire"])
        current = Assignment.objects.filter(annotator=user, status="leased").first()
        if action == "next" or current is None:
            next_image(client, dataset, ahead=rng.choice([0, 0, 1, 3]))
        elif action == "expire":
            expire_leases(dataset)
        elif action == "skip":
            assert skip(client, current.image_id).status_code == 200
        else:
            version = Annotation.objects.filter(image_id=current.image_id, annotator=user).values_list(
                "version", flat=True
            )
            status = "submitted" if action == "submit" else "draft"
            response = save(client, current.image_id, status=status, version=version.first() or 0)
            assert response.status_code in (200, 201, 409), response.json()
        assert queue_check(dataset=dataset) == []
        reserved = Image.objects.filter(dataset=dataset).values_list("reserved_count", flat=True)
        assert max(reserved) <= 2


# --- Images leased ahead (?ahead=k) ----------------------------------------------------------


def ids(images):
    return [image["id"] for image in images]


def test_ahead_leases_further_images_in_queue_order(annotator, make_dataset, client_for):
    client = client_for(annotator)
    dataset = make_dataset(8, annotators_per_image=2, order=Dataset.Order.FILE)
    order = list(Image.objects.filter(dataset=dataset).order_by("position").values_list("pk", flat=True))
    body = next_image(client, dataset, ahead=3)
    assert [body["image"]["id"], *ids(body["ahead"])] == order[:4]
    assert body["progress"]["in_progress"] == 4
    assert set(Assignment.objects.filter(annotator=annotator).values_list("status", flat=True)) == {"leased"}
    assert dict(Image.objects.filter(pk__in=order[:4]).values_list("pk", "reserved_count")) == dict.fromkeys(
        order[:4], 1
    )  # each counts towards its target at once
    assert queue_check(dataset=dataset) == []


def test_the_images_ahead_come_next_in_the_same_order(annotator, make_dataset, client_for):
    client = client_for(annotator)
    dataset = make_dataset(10, annotators_per_image=1)
    first = next_image(client, dataset, ahead=3)
    submit(client, first["image"]["id"])
    second = next_image(client, dataset, ahead=3)
    assert second["image"]["id"] == first["ahead"][0]["id"]
    assert ids(second["ahead"])[:2] == ids(first["ahead"])[1:]
    assert len(second["ahead"]) == 3 and second["ahead"][2]["id"] not in ids(first["ahead"])
    assert next_image(client, dataset)["image"]["id"] == second["image"]["id"]  # without ahead: the same image


def test_without_ahead_nothing_more_is_leased(annotator, make_dataset, client_for):
    body = next_image(client_for(annotator), make_dataset(5))
    assert body["ahead"] == [] and Assignment.objects.count() == 1


@pytest.mark.parametrize("value", ["-1", "21", "two", "1.5", ""])
def test_a_bad_ahead_is_refused_naming_it(value, annotator, make_dataset, client_for):
    dataset = make_dataset(3)
    response = client_for(annotator).get(f"/api/datasets/{dataset.pk}/next/?ahead={value}")
    assert response.status_code == 400, response.json()
    assert response.json()["errors"][0]["field"] == "ahead"
    assert "ahead must be a whole number from 0 to 20" in response.json()["detail"]
    assert not Assignment.objects.exists()


@pytest.mark.parametrize("value", [None, "0", "3", "20", " 3 ", "3.0", "+3", "\u0663", "-1", "21", "two", "1.5", ""])
def test_ahead_reads_as_its_serializer_reads_it(value):
    from django.test import RequestFactory
    from rest_framework import serializers
    from rest_framework.request import Request

    from backend.api.serializers import AheadQuerySerializer

    query = {} if value is None else {"ahead": value}
    request = Request(RequestFactory().get("/api/datasets/1/next/", query))
    serializer = AheadQuerySerializer(data=query)
    if serializer.is_valid():
        assert AheadQuerySerializer.read(request) == serializer.validated_data["ahead"]
    else:
        with pytest.raises(serializers.ValidationError) as raised:
            AheadQuerySerializer.read(request)
        assert raised.value.detail == serializer.errors


def test_ahead_never_takes_an_annotator_past_their_fair_share(make_user, make_dataset, client_for):
    dataset = make_dataset(10, annotators_per_image=1)
    alice, _bob = make_user(), make_user()
    body = next_image(client_for(alice), dataset, ahead=20)
    assert body["progress"]["total"] == 5  # ceil(10 images x 1 / 2 annotators)
    assert len(body["ahead"]) == 4 and body["progress"]["in_progress"] == 5
    assert next_image(client_for(_bob), dataset, ahead=20)["progress"]["in_progress"] == 5  # the other half


def test_ahead_stops_at_the_quota(annotator, make_dataset, client_for):
    client = client_for(annotator)
    dataset = make_dataset(10, images_per_annotator=3)
    skip(client, next_id(client, dataset))
    body = next_image(client, dataset, ahead=5)
    assert len(body["ahead"]) == 1  # one skipped, this one and one ahead make the quota
    assert body["progress"]["total"] == 3


def test_images_leased_ahead_are_no_one_elses(make_user, make_dataset, client_for):
    dataset = make_dataset(4, annotators_per_image=1)
    alice, bob = client_for(make_user()), client_for(make_user())  # a fair share of two images each
    body = next_image(alice, dataset, ahead=1)
    mine = {body["image"]["id"], body["ahead"][0]["id"]}
    theirs = next_image(bob, dataset, ahead=1)
    assert not mine & {theirs["image"]["id"], theirs["ahead"][0]["id"]}
    assert next_id(client_for(make_user()), dataset) is None  # every slot is leased, two of them ahead
    assert queue_check(dataset=dataset) == []


def test_next_renews_the_leases_ahead(annotator, make_dataset, client_for):
    client = client_for(annotator)
    dataset = make_dataset(5, lease_minutes=30)
    body = next_image(client, dataset, ahead=2)
    Assignment.objects.update(leased_until=timezone.now() + timedelta(minutes=2))
    assert next_image(client, dataset, ahead=2)["ahead"] == body["ahead"]
    assert all(
        until > timezone.now() + timedelta(minutes=29)
        for until in Assignment.objects.values_list("leased_until", flat=True)
    )


def test_after_a_break_the_leases_ahead_come_back_in_the_same_order(annotator, make_dataset, client_for):
    client = client_for(annotator)
    dataset = make_dataset(8, annotators_per_image=2)
    before = next_image(client, dataset, ahead=3)
    save(client, before["image"]["id"], status="draft")
    expire_leases(dataset)
    services.release_expired_leases(dataset=dataset)
    assert set(Assignment.objects.values_list("status", flat=True)) == {"released"}
    after = next_image(client, dataset, ahead=3)
    assert after["image"]["id"] == before["image"]["id"] and after["lease"]["resumed"] is True
    assert ids(after["ahead"]) == ids(before["ahead"])
    assert queue_check(dataset=dataset) == []


def test_skip_answers_with_the_images_ahead(annotator, make_dataset, client_for):
    client = client_for(annotator)
    dataset = make_dataset(6)
    body = next_image(client, dataset, ahead=2)
    response = client.post(f"/api/images/{body['image']['id']}/skip/?ahead=2", {"reason": "blurred"}, format="json")
    assert response.status_code == 200
    assert response.json()["image"]["id"] == body["ahead"][0]["id"]
    assert ids(response.json()["ahead"])[:1] == ids(body["ahead"])[1:]
    bad = client.post(f"/api/images/{body['ahead'][0]['id']}/skip/?ahead=99", {"reason": "x"}, format="json")
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "ahead"
    assert Assignment.objects.filter(status="skipped").count() == 1


def test_test_users_lease_ahead_without_taking_slots(make_user, make_dataset, client_for):
    dataset = make_dataset(3, annotators_per_image=1)
    body = next_image(client_for(make_user(is_test=True)), dataset, ahead=5)
    assert len(body["ahead"]) == 2
    assert set(Image.objects.values_list("reserved_count", flat=True)) == {0}
    assert next_image(client_for(make_user()), dataset, ahead=5)["progress"]["in_progress"] == 3


# --- Who may take images ---------------------------------------------------------------------------


def test_researchers_are_not_handed_images(researcher, make_dataset, client_for):
    dataset = make_dataset(2)
    response = client_for(researcher).get(f"/api/datasets/{dataset.pk}/next/")
    assert response.status_code == 403 and "read-only" in response.json()["detail"]
    assert not Assignment.objects.exists()


def test_annotators_not_chosen_for_a_dataset_cannot_take_its_images(make_user, make_dataset, client_for):
    chosen, other = make_user(), make_user()
    dataset = make_dataset(2, access=Dataset.Access.CHOSEN)
    dataset.annotators.add(chosen)
    assert client_for(other).get(f"/api/datasets/{dataset.pk}/next/").status_code == 404
    assert next_id(client_for(chosen), dataset) is not None


def test_admins_may_take_images(admin_user, make_dataset, client_for):
    assert next_id(client_for(admin_user), make_dataset(2)) is not None


@pytest.mark.parametrize("role", [Role.ANNOTATOR, Role.ADMIN])
def test_the_next_endpoint_takes_a_bounded_number_of_queries(
    role, make_user, make_dataset, client_for, django_assert_max_num_queries
):
    dataset = make_dataset(50, annotators_per_image=2)
    client = client_for(make_user(role))
    next_id(client, dataset)  # warm: the progress row exists
    submit(client, Assignment.objects.get().image_id)
    with django_assert_max_num_queries(20):
        next_id(client, dataset)


def test_next_with_ahead_takes_a_bounded_number_of_queries(
    make_user, make_dataset, client_for, django_assert_max_num_queries
):
    dataset = make_dataset(50, annotators_per_image=2)
    client = client_for(make_user())
    next_image(client, dataset, ahead=5)
    submit(client, Assignment.objects.order_by("pk").first().image_id)
    with django_assert_max_num_queries(24):  # one new image taken ahead to refill the five
        assert len(next_image(client, dataset, ahead=5)["ahead"]) == 5


# --- The migration that brings earlier work into the queue ------------------------------------


def test_the_backfill_migration_records_earlier_work_and_counts_it(make_user, make_dataset, client_for):
    from importlib import import_module

    from django.apps import apps

    dataset = make_dataset(4, annotators_per_image=2)
    alice, bob = make_user(), make_user()
    first = next_id(client_for(alice), dataset)
    submit(client_for(alice), first)
    save(client_for(bob), next_id(client_for(bob), dataset), status="draft", active_ms=1200)
    # As before the queue existed: annotations only.
    Assignment.objects.all().delete()
    AnnotatorProgress.objects.all().delete()
    Image.objects.update(reserved_count=0, submitted_count=0, shuffle_key=0)
    Dataset.objects.update(image_count=0)
    import_module("backend.api.migrations.0005_backfill_assignment_queue").backfill(apps, None)
    assert queue_check(dataset=dataset) == []
    assert Assignment.objects.get(annotator=alice).status == "submitted"
    assert Assignment.objects.get(annotator=bob).status == "released"  # a draft: its slot is free until saved
    assert Image.objects.get(pk=first).submitted_count == 1
    assert AnnotatorProgress.objects.get(annotator=bob).active_ms == 1200
    assert len(set(Image.objects.values_list("shuffle_key", flat=True))) == 4


def test_the_openapi_schema_documents_ahead():
    from rest_framework.test import APIClient

    schema = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    for path, method in (("/api/datasets/{id}/next/", "get"), ("/api/images/{id}/skip/", "post")):
        parameters = {p["name"]: p for p in schema["paths"][path][method]["parameters"]}
        assert parameters["ahead"]["schema"]["type"] == "integer", path
    next_image_schema = schema["components"]["schemas"]["NextImage"]
    assert next_image_schema["properties"]["ahead"]["type"] == "array"
    assert "ahead" in next_image_schema["required"]
