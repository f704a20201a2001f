"""One error shape for everything a client can get wrong, including what Django answers before any view runs."""

import pytest
from django.test import Client
from rest_framework.test import APIClient

from backend.api.models import Role

SHAPE = {"code", "detail", "errors"}


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/nothing/", "/api/images/1/nothing/", "/api/annotations/1/mask.gif"])
def test_a_path_that_is_no_endpoint_is_a_json_404_naming_it(path, client_for, make_user):
    # It was Django's HTML "Not Found" page, which no API client can read.
    response = client_for(make_user(Role.ADMIN)).get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == SHAPE and body["code"] == "no_endpoint"
    assert path in body["detail"] and "/api/docs/" in body["detail"]


@pytest.mark.django_db
def test_pages_outside_the_api_keep_djangos_own_404():
    response = Client().get("/static/nothing.js")
    assert response.status_code == 404 and "json" not in response["Content-Type"]


@pytest.mark.parametrize(
    "path, thing",
    [
        ("/api/images/987654/", "image 987654"),
        ("/api/datasets/987654/next/", "dataset 987654"),
        ("/api/annotations/987654/mask.png", "annotation 987654"),
        ("/api/images/987654/saliency.png", "image 987654"),
    ],
)
def test_an_object_not_found_is_named_in_the_404(path, thing, make_user, client_for):
    # It was DRF's bare "Not found.".
    response = client_for(make_user(Role.ADMIN)).get(path)
    assert response.status_code == 404
    assert (
        response.json()["detail"]
        == f"There is no {thing} that you may see: no such {thing.split()[0]}, or not one of yours."
    )


def test_an_object_one_may_not_see_gets_the_same_404_as_one_that_does_not_exist(demo_dataset, make_user, client_for):
    demo_dataset.access = demo_dataset.Access.CHOSEN
    demo_dataset.save()
    client = client_for(make_user(Role.ANNOTATOR))
    hidden = client.get(f"/api/datasets/{demo_dataset.pk}/").json()["detail"]
    missing = client.get(f"/api/datasets/{demo_dataset.pk + 1000}/").json()["detail"]
    assert hidden.replace(str(demo_dataset.pk), "N") == missing.replace(str(demo_dataset.pk + 1000), "N")


@pytest.mark.django_db
def test_a_request_with_too_many_fields_is_a_json_400(settings, make_user):
    # Django refuses it before any view (TooManyFieldsSent); it was an HTML page.
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    client = APIClient(raise_request_exception=False)  # as a real server: Django answers it
    client.force_authenticate(make_user(Role.ADMIN))
    query = "&".join(f"f{i}=1" for i in range(20))
    response = client.get(f"/api/datasets/?{query}")
    assert response.status_code == 400
    body = response.json()
    assert set(body) == SHAPE and body["code"] == "bad_request" and "more than 10 parameters" in body["detail"]
