"""One annotation's files: mask.png, mask.svg and strokes.json; cached by version, visible as annotations are."""

import io
import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PIL import Image as PILImage

from backend.api.models import Annotation
from backend.api.strokes import rasterize

from .research_fixtures import annotate, rect, rect_mask

STROKES = [
    {"tool": "brush", "width": 6.0, "points": [[5.0, 5.0, 0.0, 0.5], [40.0, 30.0, 16.0, 0.5]]},
    {"tool": "eraser", "width": 4.0, "points": [[20.0, 0.0, 30.0, 0.5], [20.0, 48.0, 40.0, 0.5]]},
]


@pytest.fixture
def drawn(image, annotator):
    return annotate(image, annotator, STROKES, label="real")


def url(annotation, name):
    return f"/api/annotations/{annotation.pk}/{name}"


def test_the_png_is_the_rasterized_mask_at_the_image_size(drawn, annotator, client_for):
    response = client_for(annotator).get(url(drawn, "mask.png"))
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    picture = PILImage.open(io.BytesIO(response.content))
    assert (picture.size, picture.mode) == ((64, 48), "1")
    assert (np.asarray(picture) == rasterize(STROKES, 64, 48)).all()
    assert response["Content-Disposition"] == f'inline; filename="a__{annotator.username}.png"'


def test_the_png_can_be_8_bit_with_0_and_255(drawn, annotator, client_for):
    picture = PILImage.open(io.BytesIO(client_for(annotator).get(url(drawn, "mask.png") + "?depth=8").content))
    pixels = np.asarray(picture)
    assert picture.mode == "L" and set(np.unique(pixels)) == {0, 255}
    assert ((pixels == 255) == rasterize(STROKES, 64, 48)).all()


def test_a_client_asking_for_image_png_gets_it(drawn, annotator, client_for):
    response = client_for(annotator).get(url(drawn, "mask.png"), HTTP_ACCEPT="image/png")
    assert response.status_code == 200 and response["Content-Type"] == "image/png"


def test_the_mask_is_rasterized_from_the_strokes_when_no_rle_is_stored(drawn, annotator, client_for):
    Annotation.objects.filter(pk=drawn.pk).update(mask_rle="")
    picture = PILImage.open(io.BytesIO(client_for(annotator).get(url(drawn, "mask.png")).content))
    assert (np.asarray(picture) == rasterize(STROKES, 64, 48)).all()


def test_the_svg_draws_the_strokes_in_image_coordinates(drawn, annotator, client_for):
    response = client_for(annotator).get(url(drawn, "mask.svg"))
    assert response.status_code == 200 and response["Content-Type"].startswith("image/svg+xml")
    root = ET.fromstring(response.content)
    assert root.get("viewBox") == "0 0 64 48"
    assert len(root.findall(".//{http://www.w3.org/2000/svg}mask")) == 1
    transparent = ET.fromstring(client_for(annotator).get(url(drawn, "mask.svg") + "?background=none").content)
    assert transparent.findall("{http://www.w3.org/2000/svg}rect") == []


def test_strokes_json_is_the_strokes_document_with_timings(drawn, annotator, client_for):
    document = client_for(annotator).get(url(drawn, "strokes.json")).json()
    assert document["strokes"] == STROKES
    assert (document["label"], document["status"], document["version"]) == ("real", "submitted", 1)
    assert document["annotator"] == {"id": annotator.pk, "username": annotator.username, "is_test": False}
    assert document["started_at"] == drawn.started_at.isoformat()
    assert document["image"]["file_name"] == "a.png"


def test_strokes_json_is_the_same_line_as_in_the_jsonl_export(drawn, researcher, client_for):
    client = client_for(researcher)
    single = client.get(url(drawn, "strokes.json")).json()
    exported = b"".join(client.get(f"/api/datasets/{drawn.image.dataset_id}/export/?format=jsonl").streaming_content)
    assert json.loads(exported.decode().splitlines()[0]) == single


# --- Caching by version --------------------------------------------------------------------


@pytest.mark.parametrize("name", ["mask.png", "mask.svg", "strokes.json"])
def test_a_client_holding_this_version_gets_304(name, drawn, annotator, client_for):
    client = client_for(annotator)
    first = client.get(url(drawn, name))
    assert f"-v{drawn.version}-" in first["ETag"]
    assert "private" in first["Cache-Control"] and "no-cache" in first["Cache-Control"]
    again = client.get(url(drawn, name), HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304 and again.content == b""
    assert again["ETag"] == first["ETag"]


def test_a_new_version_gets_a_new_etag_and_the_new_mask(drawn, image, annotator, client_for):
    client = client_for(annotator)
    old = client.get(url(drawn, "mask.png"))
    client.put(
        f"/api/images/{image.pk}/annotation/",
        {"strokes": [rect(0, 0, 10, 10)], "label": "real", "status": "submitted", "version": 1},
        format="json",
    )
    fresh = client.get(url(drawn, "mask.png"), HTTP_IF_NONE_MATCH=old["ETag"])
    assert fresh.status_code == 200 and fresh["ETag"] != old["ETag"]
    assert (np.asarray(PILImage.open(io.BytesIO(fresh.content))) == rect_mask(0, 0, 10, 10)).all()


def test_the_png_depth_has_its_own_etag(drawn, annotator, client_for):
    client = client_for(annotator)
    one_bit = client.get(url(drawn, "mask.png"))
    eight_bit = client.get(url(drawn, "mask.png") + "?depth=8", HTTP_IF_NONE_MATCH=one_bit["ETag"])
    assert eight_bit.status_code == 200


# --- Who may see it, and bad parameters --------------------------------------------------------


def test_annotators_see_only_their_own_masks(drawn, make_user, client_for):
    other = make_user()
    for name in ("mask.png", "mask.svg", "strokes.json"):
        assert client_for(other).get(url(drawn, name)).status_code == 404


def test_researchers_and_admins_see_every_mask(drawn, researcher, admin_user, client_for):
    assert client_for(researcher).get(url(drawn, "mask.png")).status_code == 200
    assert client_for(admin_user).get(url(drawn, "mask.svg")).status_code == 200


def test_anonymous_clients_get_401(drawn, client_for):
    assert client_for(None).get(url(drawn, "mask.png")).status_code == 401


@pytest.mark.parametrize(
    "name, query, field",
    [
        ("mask.png", "depth=4", "depth"),
        ("mask.png", "size=2", "size"),
        ("mask.svg", "background=red", "background"),
        ("strokes.json", "pretty=1", "pretty"),
    ],
)
def test_bad_parameters_get_400_naming_them(name, query, field, drawn, annotator, client_for):
    response = client_for(annotator).get(url(drawn, name) + "?" + query)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == field


def test_an_unknown_annotation_is_404(annotator, client_for):
    assert client_for(annotator).get("/api/annotations/999999/mask.png").status_code == 404
