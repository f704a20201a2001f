"""Datasets with progress, the next image to annotate, and image files served only to signed-in users."""

import hashlib

import pytest

from backend.api.models import Role

from .conftest import brush, document


def submit(client, image, label="real"):
    response = client.put(
        f"/api/images/{image.pk}/annotation/",
        document([brush([(5, 5)])], label=label, status="submitted"),
        format="json",
    )
    assert response.status_code in (200, 201), response.json()


def test_datasets_list_their_question_requirements_and_my_progress(annotator, demo_dataset, client_for):
    client = client_for(annotator)
    submit(client, demo_dataset.images.first())
    (listed,) = client.get("/api/datasets/").json()["results"]
    assert listed["question"] == "Is this image real or fake?"
    assert listed["choices"] == ["real", "fake"]
    assert listed["required"] == {"choice": True, "mask": True, "text": False}
    assert (listed["progress"]["done"], listed["progress"]["total"]) == (1, 3)
    assert client.get(f"/api/datasets/{demo_dataset.pk}/").json()["image_count"] == 3


def test_the_dataset_list_takes_a_fixed_number_of_queries(
    annotator, demo_dataset, dataset_root, client_for, django_assert_max_num_queries
):
    from backend.api import services

    from .conftest import write_dataset

    for name in ("two", "three", "four"):
        services.dataset_import(folder=write_dataset(dataset_root / name))
    # The role, the page count, the page, and the annotators a dataset open to everyone is shared among.
    with django_assert_max_num_queries(4):
        assert client_for(annotator).get("/api/datasets/").json()["count"] == 4


def test_next_walks_the_images_in_file_order_then_returns_null(annotator, demo_dataset, client_for):
    demo_dataset.order = "file"
    demo_dataset.save()
    client = client_for(annotator)
    url = f"/api/datasets/{demo_dataset.pk}/next/"
    seen = []
    for _ in range(3):
        body = client.get(url).json()
        seen.append(body["image"]["path"])
        submit(client, demo_dataset.images.get(pk=body["image"]["id"]))
    assert seen == ["images/a.png", "images/b.png", "images/c.png"]
    body = client.get(url).json()
    assert (body["image"], body["lease"]) == (None, None)
    assert body["progress"] | {"active_ms": 0} == {
        "done": 3,
        "skipped": 0,
        "in_progress": 0,
        "total": 3,
        "active_ms": 0,
        "finished": True,
    }


def test_next_returns_to_an_unfinished_draft_first(annotator, demo_dataset, client_for):
    client = client_for(annotator)
    third = demo_dataset.images.get(path="images/c.png")
    client.put(f"/api/images/{third.pk}/annotation/", document([brush([(5, 5)])]), format="json")
    body = client.get(f"/api/datasets/{demo_dataset.pk}/next/").json()
    assert body["image"]["id"] == third.pk
    assert (body["progress"]["done"], body["progress"]["in_progress"], body["progress"]["total"]) == (0, 1, 3)


@pytest.mark.parametrize("pk", ["999", "abc", "0", "99999999999999999999"])
def test_an_unknown_dataset_is_a_404(pk, annotator, client_for, db):
    response = client_for(annotator).get(f"/api/datasets/{pk}/next/")
    assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_images_filter_by_dataset_and_hide_ground_truth_from_annotators(
    annotator, researcher, demo_dataset, client_for
):
    url = f"/api/images/?dataset={demo_dataset.pk}"
    for_annotator = client_for(annotator).get(url).json()["results"]
    assert len(for_annotator) == 3
    assert {(i["ground_truth"], str(i["metadata"])) for i in for_annotator} == {(None, "{}")}
    first = client_for(researcher).get(url).json()["results"][0]
    assert (first["ground_truth"], first["metadata"]) == ("real", {"sensor": first["metadata"]["sensor"]})
    assert first["short_id"] == first["sha256"][:8]
    assert client_for(researcher).get("/api/images/?dataset=999").json()["count"] == 0


@pytest.mark.django_db
def test_a_dataset_filter_beyond_any_id_is_a_400_naming_it(researcher, client_for):
    # It was a 500 on SQLite: the number did not fit a bigint when bound to the query.
    response = client_for(researcher).get(f"/api/images/?dataset={'9' * 25}")
    assert response.status_code == 400
    assert response.json()["detail"] == "dataset: must be a dataset id, a whole number from 1 to 9223372036854775807."


def test_the_image_file_is_served_with_its_type_and_private_caching(annotator, image, client_for, dataset_root):
    client = client_for(annotator)
    response = client.get(f"/api/images/{image.pk}/file/")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    body = b"".join(response.streaming_content)
    assert hashlib.sha256(body).hexdigest() == image.sha256
    assert "private" in response["Cache-Control"] and response["ETag"] == f'"{image.sha256}"'
    again = client.get(f"/api/images/{image.pk}/file/", HTTP_IF_NONE_MATCH=f'"{image.sha256}"')
    assert again.status_code == 304


@pytest.mark.parametrize("header", ['"x{sha}"', '"{sha}x"', "{sha}", '"other", W/"{sha}"', "*"])
def test_only_an_if_none_match_naming_this_version_is_answered_304(header, annotator, image, client_for):
    # An ETag that merely contains this one, or is unquoted, names another version.
    expected = 304 if header.startswith(('"other"', "*")) else 200
    response = client_for(annotator).get(
        f"/api/images/{image.pk}/file/", HTTP_IF_NONE_MATCH=header.format(sha=image.sha256)
    )
    assert response.status_code == expected


def test_behind_nginx_the_file_is_handed_over_by_x_accel_redirect(annotator, image, client_for, settings):
    settings.IMAGES_ACCEL_REDIRECT = "/protected-datasets/"
    response = client_for(annotator).get(f"/api/images/{image.pk}/file/")
    assert response.status_code == 200
    assert response["X-Accel-Redirect"] == "/protected-datasets/demo/images/a.png"
    assert response.content == b""


def test_a_missing_file_is_a_clear_404(annotator, image, client_for, dataset_root):
    (dataset_root / "demo" / image.path).unlink()
    response = client_for(annotator).get(f"/api/images/{image.pk}/file/")
    assert response.status_code == 404 and "missing on the server" in response.json()["detail"]


def test_an_image_path_escaping_its_folder_is_never_served(annotator, image, client_for, dataset_root):
    (dataset_root / "secret.png").write_bytes(b"secret")
    image.path = "../secret.png"
    image.save()
    response = client_for(annotator).get(f"/api/images/{image.pk}/file/")
    assert response.status_code == 404 and "outside its dataset folder" in response.json()["detail"]


@pytest.mark.parametrize("role", [Role.ANNOTATOR, Role.RESEARCHER, Role.ADMIN])
def test_every_role_may_read_datasets_and_images(role, make_user, image, client_for):
    client = client_for(make_user(role))
    for url in ("/api/datasets/", f"/api/images/{image.pk}/", f"/api/images/{image.pk}/file/"):
        assert client.get(url).status_code == 200, url
