"""The queue under real concurrency on PostgreSQL: many annotators taking and submitting images at once."""

import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from backend.api.models import Annotation, Assignment, Image
from backend.api.selectors import queue_check

from .conftest import brush, document

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

TIMEOUT_S = 60  # the whole test; each worker also stops after a bounded number of steps


class Worker(threading.Thread):
    """One annotator in their own thread and database connection: next, submit, until nothing is left."""

    def __init__(self, user, dataset, start, *, abandon=False, skip_every=0, ahead=0):
        super().__init__(daemon=True)
        self.user, self.dataset, self.start_together, self.abandon = user, dataset, start, abandon
        self.skip_every, self.ahead = skip_every, ahead
        self.handed, self.submitted, self.skipped, self.errors = [], [], [], []

    def run(self):
        client = APIClient()
        client.force_authenticate(self.user)
        try:
            self.start_together.wait(timeout=10)
            expected = None  # the first image leased ahead by the last answer: it must come next
            response = client.get(f"/api/datasets/{self.dataset.pk}/next/?ahead={self.ahead}")
            for _ in range(200):
                if response.status_code != 200:
                    self.errors.append(("next", response.status_code, response.content[:300]))
                    return
                image = response.json()["image"]
                if expected is not None and (image is None or image["id"] != expected):
                    self.errors.append(("ahead", expected, image and image["id"]))
                ahead = response.json()["ahead"]
                expected = ahead[0]["id"] if ahead else None
                self.held_ahead = [a["id"] for a in ahead]
                if image is None:
                    self.final = response.json()
                    return
                self.handed.append(image["id"])
                if self.abandon:
                    return  # takes a lease and walks away: it must expire and go back to the pool
                if self.skip_every and len(self.handed) % self.skip_every == 0:
                    path = f"/api/images/{image['id']}/skip/?ahead={self.ahead}"
                    response = client.post(path, {"reason": "blurred"}, format="json")
                    self.skipped.append(image["id"])
                    continue
                body = document([brush([(5, 5)])], status="submitted")
                saved = client.put(f"/api/images/{image['id']}/annotation/", body, format="json")
                if saved.status_code not in (200, 201):
                    self.errors.append(("save", saved.status_code, saved.content[:300]))
                    return
                self.submitted.append(image["id"])
                response = client.get(f"/api/datasets/{self.dataset.pk}/next/?ahead={self.ahead}")
        except Exception as error:  # noqa: BLE001 - reported by the test, which fails on any
            self.errors.append(("exception", repr(error)))
        finally:
            connection.close()


def run_all(workers):
    start = threading.Barrier(len(workers))
    for worker in workers:
        worker.start_together = start
        worker.start()
    deadline = timezone.now() + timedelta(seconds=TIMEOUT_S)
    for worker in workers:
        worker.join(timeout=max(0.1, (deadline - timezone.now()).total_seconds()))
    assert not any(worker.is_alive() for worker in workers), "workers still running after the time limit"
    assert [w.errors for w in workers if w.errors] == []


def test_many_annotators_at_once_fill_every_image_exactly_to_its_target(make_user, make_dataset):
    target, images = 3, 24
    dataset = make_dataset(images, width=16, height=16, annotators_per_image=target)
    users = [make_user() for _ in range(10)]
    tester = make_user(is_test=True)
    quitters = [make_user() for _ in range(3)]

    # Round one: everyone at once, half of them leasing images ahead; three annotators taking
    # an image and two ahead each and walking away.
    first = [Worker(u, dataset, None, skip_every=3 if i < 2 else 0, ahead=3 * (i % 2)) for i, u in enumerate(users)]
    first += [Worker(tester, dataset, None, ahead=2)]
    first += [Worker(u, dataset, None, abandon=True, ahead=2) for u in quitters]
    run_all(first)
    assert all(w.handed for w in first if w.abandon), [
        (w.user.pk, getattr(w, "final", None), list(Image.objects.values_list("reserved_count", flat=True)))
        for w in first
        if w.abandon and not w.handed
    ]
    abandoned = set(Assignment.objects.filter(annotator__in=quitters, status="leased").values_list("image", flat=True))
    # Each quitter holds their image and those leased ahead (up to two: images held by others
    # at that moment are not waited for).
    assert abandoned == {i for w in first if w.abandon for i in w.handed + w.held_ahead}
    assert len(abandoned) > 3
    held = Counter(Assignment.objects.filter(annotator__in=quitters, status="leased").values_list("image", flat=True))
    for image in Image.objects.filter(pk__in=abandoned):
        assert image.submitted_count == target - held[image.pk], "the abandoned leases still hold their slots"
        assert image.reserved_count == target

    # The abandoned leases expire; round two gets their slots.
    Assignment.objects.filter(annotator__in=quitters, status="leased").update(
        leased_until=timezone.now() - timedelta(seconds=1)
    )
    second = [Worker(u, dataset, None, ahead=2 * (i % 2)) for i, u in enumerate(users)]
    run_all(second)

    counts = dict(Image.objects.filter(dataset=dataset).values_list("pk", "submitted_count"))
    assert set(counts.values()) == {target}, counts  # every image exactly at its target, none past it
    for user in users:
        mine = [i for w in first + second if w.user == user for i in w.submitted + w.skipped]
        assert len(mine) == len(set(mine)), "an annotator got an image twice"
    assert all(c == target for pk, c in counts.items() if pk in abandoned)
    real = Annotation.objects.filter(status="submitted").exclude(annotator=tester)
    assert real.count() == images * target
    assert Annotation.objects.filter(annotator=tester, status="submitted").count() == images  # tester saw all
    assert Assignment.objects.filter(status="skipped").count() == sum(len(w.skipped) for w in first) > 0
    assert queue_check(dataset=dataset) == []


def test_two_tabs_of_one_annotator_asking_at_once_get_the_same_image(make_user, make_dataset):
    dataset = make_dataset(20, annotators_per_image=1)
    user = make_user()
    results, errors = [], []

    def ask(start):
        client = APIClient()
        client.force_authenticate(user)
        try:
            start.wait(timeout=10)
            response = client.get(f"/api/datasets/{dataset.pk}/next/")
            if response.status_code != 200:
                errors.append(response.status_code)
            else:
                results.append(response.json()["image"]["id"])
        finally:
            connection.close()

    start = threading.Barrier(6)
    threads = [threading.Thread(target=ask, args=(start,), daemon=True) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=TIMEOUT_S)
    assert errors == [] and len(results) == 6
    assert len(set(results)) == 1
    assert Assignment.objects.filter(annotator=user).count() == 1


def test_the_last_image_with_room_is_waited_for_when_another_transaction_holds_it(make_user, make_dataset):
    from django.db import transaction

    from backend.api import services

    dataset = make_dataset(1, annotators_per_image=2)
    only = Image.objects.get(dataset=dataset)
    held, release = threading.Event(), threading.Event()

    def hold():
        try:
            with transaction.atomic():
                Image.objects.select_for_update(no_key=True).filter(pk=only.pk).values_list("pk").get()
                held.set()
                release.wait(timeout=10)
        finally:
            connection.close()

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    assert held.wait(timeout=10)
    threading.Timer(0.5, release.set).start()
    started = timezone.now()
    handout = services.queue_next(dataset=dataset, annotator=make_user())
    holder.join(timeout=TIMEOUT_S)
    assert handout.image == only  # not "nothing left": a held image may still have room
    assert (timezone.now() - started).total_seconds() >= 0.4
    assert Image.objects.get(pk=only.pk).reserved_count == 1


def test_typing_and_redrawing_race_next_skips_and_an_expiring_lease_without_a_500(make_user, make_dataset):
    # The saves' locks (queue.save_locks: progress, annotation and assignment in one statement)
    # against the queue's own, taken one by one: next (resuming the image), skips of the images
    # leased ahead, and the lease expiring while saves go on, its slot taken by someone else.
    dataset = make_dataset(6, width=16, height=16, annotators_per_image=1)
    annotator, other = make_user(), make_user()
    client = APIClient()
    client.force_authenticate(annotator)
    image = client.get(f"/api/datasets/{dataset.pk}/next/").json()["image"]["id"]
    url = f"/api/images/{image}/annotation/"
    assert client.patch(url, {"version": 0, "append": [brush([(2, 2)])]}, format="json").status_code == 201
    errors, answers = [], Counter()
    expired = threading.Event()

    def saves():
        tab = APIClient()
        tab.force_authenticate(annotator)
        version, text = 1, ""
        for k in range(60):
            text += "w"
            body = {"text": text} if k % 3 else {"remove": 1, "append": [brush([(k % 16, 3)])]}
            response = tab.patch(url, {"version": version, "op": f"op-{k}", **body}, format="json")
            answers[response.status_code] += 1
            if response.status_code in (200, 201):
                version = response.json()["version"]
            elif response.status_code == 409 and response.json().get("code") == "image_full":
                return  # the slot went to the other annotator while the lease had run out: nothing more to save
            elif response.status_code == 409:
                version = response.json()["current"]["version"]
            else:
                errors.append(("save", response.status_code, response.content[:300]))
                return
            if k == 30:
                expired.set()

    def queue():
        tab = APIClient()
        tab.force_authenticate(annotator)
        for _ in range(20):
            response = tab.get(f"/api/datasets/{dataset.pk}/next/?ahead=2")
            if response.status_code != 200:
                errors.append(("next", response.status_code, response.content[:300]))
                return
            for ahead in response.json()["ahead"][:1]:
                skipped = tab.post(f"/api/images/{ahead['id']}/skip/", {"reason": "blurred"}, format="json")
                if skipped.status_code not in (200, 409):
                    errors.append(("skip", skipped.status_code, skipped.content[:300]))

    def expire():
        expired.wait(timeout=TIMEOUT_S)
        Assignment.objects.filter(annotator=annotator, image_id=image).update(
            leased_until=timezone.now() - timedelta(seconds=1)
        )
        taker = APIClient()
        taker.force_authenticate(other)
        for _ in range(10):
            response = taker.get(f"/api/datasets/{dataset.pk}/next/")
            if response.status_code != 200:
                errors.append(("other's next", response.status_code, response.content[:300]))
                return

    def run(target):
        def body():
            try:
                target()
            except Exception as error:  # noqa: BLE001 - reported by the test, which fails on any
                errors.append(("exception", repr(error)))
            finally:
                connection.close()

        return threading.Thread(target=body, daemon=True)

    threads = [run(saves), run(queue), run(expire)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=TIMEOUT_S)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    assert answers[200] > 10
    assert queue_check(dataset=dataset) == []
    holders = Assignment.objects.filter(image_id=image, status__in=["leased", "submitted"])
    assert holders.count() == 1  # one annotator holds the image's one slot, whoever won it
