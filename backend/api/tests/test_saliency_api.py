"""Saliency heat maps over the API: values on hand-made masks, filters, smoothing, overlay, caching, permissions."""

import io

import numpy as np
import pytest
from PIL import Image as PILImage

from backend.api.files import image_path

from .research_fixtures import annotate, rect, rect_mask, study_fixture  # noqa: F401 (the study fixture)


def saliency(client, image, name="saliency.npy", etag=None, **params):
    headers = {"HTTP_IF_NONE_MATCH": etag} if etag else {}
    return client.get(f"/api/images/{image.pk}/{name}", params, **headers)


def heat(response) -> np.ndarray:
    assert response.status_code == 200, response.content
    return np.load(io.BytesIO(response.content), allow_pickle=False)


def test_the_heat_map_is_the_mean_of_the_submitted_non_test_masks(study, researcher, client_for):
    response = saliency(client_for(researcher), study["images"]["a.png"])
    expected = (rect_mask(0, 0, 10, 10).astype(np.float32) + rect_mask(5, 0, 15, 10)) / 2  # alice and bob
    assert (heat(response) == expected).all()
    assert response["X-Annotation-Count"] == "2"


def test_the_png_is_greyscale_at_the_image_size(study, researcher, client_for):
    response = saliency(client_for(researcher), study["images"]["a.png"], "saliency.png")
    assert response["Content-Type"] == "image/png"
    picture = PILImage.open(io.BytesIO(response.content))
    assert (picture.mode, picture.size) == ("L", (64, 48))
    pixels = np.asarray(picture)
    assert (pixels[0, 0], pixels[0, 7], pixels[0, 12], pixels[20, 20]) == (128, 255, 128, 0)


FILTERS = [
    ("test users in", {"include_test": "true"}, [(0, 0, 10, 10), (5, 0, 15, 10), (0, 0, 64, 48)]),
    ("one annotator", {"annotator": "bob"}, [(5, 0, 15, 10)]),
    ("right answers only", {"correct": "true"}, [(0, 0, 10, 10)]),
    ("one answer", {"label": "fake"}, [(5, 0, 15, 10)]),
    ("drafts", {"status": "draft"}, [(40, 40, 50, 48)]),
]


@pytest.mark.parametrize("case, params, boxes", FILTERS, ids=[f[0] for f in FILTERS])
def test_filters_choose_whose_masks_are_averaged(case, params, boxes, study, researcher, client_for):
    expected = np.mean([rect_mask(*box) for box in boxes], axis=0)
    response = saliency(client_for(researcher), study["images"]["a.png"], **params)
    assert np.allclose(heat(response), expected)
    assert response["X-Annotation-Count"] == str(len(boxes))


def test_an_image_nobody_annotated_has_a_zero_heat_map(study, researcher, client_for):
    response = saliency(client_for(researcher), study["images"]["c.png"])
    assert not heat(response).any() and response["X-Annotation-Count"] == "0"


def test_sigma_smooths_and_keeps_the_total(study, researcher, client_for):
    client = client_for(researcher)
    sharp = heat(saliency(client, study["images"]["a.png"]))
    smooth = heat(saliency(client, study["images"]["a.png"], sigma="2.5"))
    assert smooth.sum() == pytest.approx(sharp.sum(), rel=1e-4)  # reflected edges keep the mass
    assert smooth.max() < sharp.max() and (smooth > 0).sum() > (sharp > 0).sum()


def test_the_overlay_is_the_image_dimmed_where_nobody_drew(study, researcher, client_for):
    image = study["images"]["a.png"]
    response = saliency(client_for(researcher), image, "saliency-overlay.png")
    overlay = np.asarray(PILImage.open(io.BytesIO(response.content)))
    grey = np.asarray(PILImage.open(image_path(image)).convert("L"), dtype=np.float64)
    dimmed = np.repeat(np.rint(grey * 0.5).astype(np.uint8)[..., None], 3, axis=-1)
    assert overlay.shape == (48, 64, 3)
    assert (overlay[20:, 20:] == dimmed[20:, 20:]).all()
    assert not (overlay[0:10, 5:10] == dimmed[0:10, 5:10]).all()


def test_overlay_true_on_saliency_png_is_the_overlay(study, researcher, client_for):
    client = client_for(researcher)
    image = study["images"]["a.png"]
    assert (
        saliency(client, image, "saliency.png", overlay="true").content
        == saliency(client, image, "saliency-overlay.png").content
    )


def test_a_missing_image_file_makes_the_overlay_404_saying_so(study, researcher, client_for):
    image = study["images"]["a.png"]
    image_path(image).unlink()
    response = saliency(client_for(researcher), image, "saliency-overlay.png")
    assert response.status_code == 404 and "missing on the server" in response.json()["detail"]


def test_the_heat_map_is_cached_until_an_annotation_changes(study, researcher, make_user, client_for):
    client = client_for(researcher)
    image = study["images"]["a.png"]
    first = saliency(client, image, "saliency.png")
    assert saliency(client, image, "saliency.png", etag=first["ETag"]).status_code == 304
    other = saliency(client, image, "saliency.png", sigma="1", etag=first["ETag"])
    assert other.status_code == 200  # other options, another file
    annotate(image, make_user(), [rect(0, 0, 2, 2)], label="real")
    assert saliency(client, image, "saliency.png", etag=first["ETag"]).status_code == 200


def test_annotators_may_not_see_heat_maps(study, client_for):
    response = saliency(client_for(study["users"]["alice"]), study["images"]["a.png"], "saliency.png")
    assert response.status_code == 403


def test_anonymous_clients_get_401(study, client_for):
    assert saliency(client_for(None), study["images"]["a.png"], "saliency.png").status_code == 401


BAD_PARAMETERS = [
    ("negative sigma", "saliency.png", {"sigma": "-1"}, "sigma"),
    ("huge sigma", "saliency.npy", {"sigma": "1000"}, "sigma"),
    ("sigma not a number", "saliency.png", {"sigma": "wide"}, "sigma"),
    ("sigma infinite", "saliency.png", {"sigma": "inf"}, "sigma"),
    ("opacity above one", "saliency-overlay.png", {"opacity": "2"}, "opacity"),
    ("overlay not a boolean", "saliency.png", {"overlay": "maybe"}, "overlay"),
    ("overlay on the array", "saliency.npy", {"overlay": "true"}, "overlay"),
    ("label not a choice", "saliency.png", {"label": "blue"}, "label"),
    ("unknown annotator", "saliency.png", {"annotator": "nobody"}, "annotator"),
    ("misspelt parameter", "saliency.png", {"sigm": "2"}, "sigm"),
]


@pytest.mark.parametrize("case, name, params, field", BAD_PARAMETERS, ids=[b[0] for b in BAD_PARAMETERS])
def test_bad_parameters_get_400_naming_them(case, name, params, field, study, researcher, client_for):
    response = saliency(client_for(researcher), study["images"]["a.png"], name, **params)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == field


def test_a_bad_sigma_says_the_allowed_range(study, researcher, client_for):
    response = saliency(client_for(researcher), study["images"]["a.png"], sigma="1000")
    assert response.json()["detail"] == "sigma must be a number from 0 to 256 image pixels; got '1000'."
