"""The OpenAPI schema says what the API answers, refusals included, and the answers match it."""

import pytest
from werkzeug.test import Client

from backend.api.models import Role

from .fuzzing import in_process, load_schema
from .research_fixtures import annotate, rect, study_fixture  # noqa: F401 (a fixture)


@pytest.fixture(scope="module")
def openapi():
    return load_schema()


def operations(openapi):
    return [result.ok() for result in openapi.get_all_operations()]


def test_every_signed_in_operation_documents_401_and_403_in_the_error_shape(openapi):
    for operation in operations(openapi):
        responses = operation.definition.raw["responses"]
        if operation.definition.raw.get("security") == [{}]:
            continue  # health and csrf: no authentication at all
        for status in ("401", "403"):
            schema = responses.get(status, {}).get("content", {}).get("application/json", {}).get("schema")
            assert schema == {"$ref": "#/components/schemas/Error"}, f"{operation.label} does not document {status}"


def test_every_operation_with_an_id_or_a_page_documents_404(openapi):
    for operation in operations(openapi):
        names = {p["name"] for p in operation.definition.raw.get("parameters", [])}
        if names & {"id", "page"}:
            assert "404" in operation.definition.raw["responses"], operation.label


def test_the_error_shape_is_a_component_with_a_detail_that_cannot_be_empty(openapi):
    error = openapi.raw_schema["components"]["schemas"]["Error"]
    assert error["required"] == ["code", "detail", "errors"]
    assert error["properties"]["detail"]["minLength"] == 1


def get(openapi, path, token):
    with in_process():
        return Client(openapi.app).get(path, headers={"Authorization": f"Token {token}"})


def token_of(user):
    from backend.api.services import api_token_create

    return api_token_create(user=user).key


def test_an_annotation_not_saved_yet_matches_its_documented_schema(openapi, image, make_user):
    # Version 0 has no id and no times: the schema said they were never null.
    response = get(openapi, f"/api/images/{image.pk}/annotation/", token_of(make_user(Role.ANNOTATOR)))
    assert response.status_code == 200 and response.json["id"] is None
    openapi["/api/images/{id}/annotation/"]["GET"].validate_response(response)


def test_a_coco_export_matches_its_documented_schema(openapi, study, demo_dataset, make_user):
    # COCO is a JSON object; the schema said a binary string.
    response = get(
        openapi, f"/api/datasets/{demo_dataset.pk}/export/?format=coco", token_of(make_user(Role.RESEARCHER))
    )
    assert response.status_code == 200 and response.json["annotations"]
    openapi["/api/datasets/{id}/export/"]["GET"].validate_response(response)


@pytest.mark.parametrize("path", ["/api/datasets/987654/", "/api/images/?page=99", "/api/annotations/?image=x"])
def test_refusals_match_their_documented_schema(path, openapi, make_user):
    response = get(openapi, path, token_of(make_user(Role.RESEARCHER)))
    assert response.status_code in (400, 404)
    operation = openapi[{"/api/datasets/987654/": "/api/datasets/{id}/"}.get(path, path.split("?")[0])]["GET"]
    assert str(response.status_code) in operation.definition.raw["responses"]
    operation.validate_response(response)


@pytest.mark.parametrize("prefer", [None, "return=minimal"])
def test_a_save_matches_its_documented_schema_whole_or_minimal(openapi, image, make_user, prefer):
    body = {"strokes": [], "label": None, "text": "", "status": "draft", "version": 0}
    headers = {"Authorization": f"Token {token_of(make_user(Role.ANNOTATOR))}"}
    if prefer:
        headers["Prefer"] = prefer
    with in_process():
        response = Client(openapi.app).put(f"/api/images/{image.pk}/annotation/", json=body, headers=headers)
    assert response.status_code == 201
    assert ("strokes" in response.json) is (prefer is None)
    openapi["/api/images/{id}/annotation/"]["PUT"].validate_response(response)


def test_a_change_and_its_conflict_match_their_documented_schema(openapi, image, make_user):
    headers = {"Authorization": f"Token {token_of(make_user(Role.ANNOTATOR))}"}
    stroke = {"tool": "brush", "width": 4, "points": [[1, 1, 0, 0.5]]}
    operation = openapi["/api/images/{id}/annotation/"]["PATCH"]
    with in_process():
        client = Client(openapi.app)
        created = client.patch(
            f"/api/images/{image.pk}/annotation/", json={"version": 0, "append": [stroke]}, headers=headers
        )
        stale = client.patch(f"/api/images/{image.pk}/annotation/", json={"version": 0, "remove": 1}, headers=headers)
    assert (created.status_code, stale.status_code) == (201, 409)
    operation.validate_response(created)
    operation.validate_response(stale)
