"""Rows for the research tests: annotations with hand-checkable masks, written through the services."""

import numpy as np
import pytest

from backend.api import services
from backend.api.models import Role


def rect(x0, y0, x1, y1, tool="lasso"):
    """Return a lasso around the pixels x0..x1-1, y0..y1-1 exactly (their centres lie inside, no others)."""
    corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
    return {
        "tool": tool,
        "width": 1.0,
        "points": [[float(x), float(y), 10.0 * i, 0.5] for i, (x, y) in enumerate(corners)],
    }


def rect_mask(x0, y0, x1, y1, width=64, height=48):
    mask = np.zeros((height, width), dtype=bool)
    mask[y0:y1, x0:x1] = True
    return mask


def annotate(image, user, strokes, *, label=None, status="submitted", text="", active_ms=1000):
    """Save the user's annotation of the image through the service, as the API would."""
    annotation, _ = services.annotation_save(
        image=image,
        annotator=user,
        content=services.AnnotationContent(strokes=strokes, label=label, text=text, status=status),
        base_version=0,
        active_ms=active_ms,
    )
    return annotation


@pytest.fixture(name="study")
def study_fixture(demo_dataset, make_user):
    """Three images (a real, b fake, c real; 64x48) annotated by alice, bob, a test user and a drafter.

    - a.png: alice rect(0,0,10,10) "real" 1000 ms; bob rect(5,0,15,10) "fake" 3000 ms;
      tess (test user) rect(0,0,64,48) "real"; dave a draft rect(40,40,50,48) "real".
    - b.png: alice rect(0,0,20,10) "real" 2000 ms; bob rect(0,0,10,10) "fake" 4000 ms.
    - c.png: nobody.
    """
    users = {
        "alice": make_user(Role.ANNOTATOR, username="alice"),
        "bob": make_user(Role.ANNOTATOR, username="bob"),
        "tess": make_user(Role.ANNOTATOR, username="tess", is_test=True),
        "dave": make_user(Role.ANNOTATOR, username="dave"),
    }
    images = {image.path.removeprefix("images/"): image for image in demo_dataset.images.all()}
    a, b = images["a.png"], images["b.png"]
    annotations = {
        ("a", "alice"): annotate(a, users["alice"], [rect(0, 0, 10, 10)], label="real", active_ms=1000, text="rim"),
        ("a", "bob"): annotate(a, users["bob"], [rect(5, 0, 15, 10)], label="fake", active_ms=3000),
        ("a", "tess"): annotate(a, users["tess"], [rect(0, 0, 64, 48)], label="real", active_ms=500),
        ("a", "dave"): annotate(a, users["dave"], [rect(40, 40, 50, 48)], label="real", status="draft"),
        ("b", "alice"): annotate(b, users["alice"], [rect(0, 0, 20, 10)], label="real", active_ms=2000),
        ("b", "bob"): annotate(b, users["bob"], [rect(0, 0, 10, 10)], label="fake", active_ms=4000),
    }
    return {"dataset": demo_dataset, "users": users, "images": images, "annotations": annotations}
