"""CSRF on every session-authenticated write, and free text that is stored and served as text, never as markup.

Who may call what is the roles matrix (test_permissions.py); the login's rate limit is in
test_auth_api.py; Django admin's escaping in test_admin.py; the browser's side in
e2e/hostileText.test.js.
"""

import json

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from backend.api import services
from backend.api.models import Annotation, Assignment, Participant, Role, Study
from backend.api.services import api_token_create
from backend.api.token_models import ApiToken

from .conftest import brush, document
from .study_fixtures import study_text, write_study_datasets
from .test_permissions import api_endpoints

# Every write under /api/, read from the URL resolver: a new one is checked without being named here.
WRITES = sorted((name, method) for name, method in api_endpoints() if method in ("post", "put", "patch", "delete"))

# Writes that need the CSRF token whatever authenticates them, and why.
SESSION_ONLY = {
    ("login", "post"): "signing in starts a session: refusing a forged one stops login CSRF",
    ("study-enrol", "post"): "enrolling starts a participant's session: no site may enrol a visitor",
}
# Writes of study participants (the participation API), and the step their participant is on.
PARTICIPATION = {"participation-step": 0, "participation-annotation": 3, "participation-withdraw": 3}

HOSTILE = [
    '<img src=x onerror="window.__xss=1">',
    "<script>window.__xss=1</script>",
    '"><svg onload=window.__xss=1>',
    "</textarea><iframe srcdoc='<script>parent.__xss=1</script>'>",
    '=HYPERLINK("http://evil") & \' " ` \u202e',
]


def request_for(name, method, user, image, trial=None):
    """Return (url, body) of a valid request to the endpoint as the user."""
    bodies = {
        "login": {"username": user.username, "password": "pw-" + user.username},
        "token-login": {"username": user.username, "password": "pw-" + user.username},
        "logout": None,
        "token-logout": None,
        "image-annotation": document([brush([(2, 2)])]),
        "image-skip": {"reason": "blurred"},
        "study-enrol": {"params": {}},
        "participation-step": {"agree": True, "version": "v1"},
        "participation-annotation": document([brush([(2, 2)])]),
        "participation-withdraw": None,
        "study-status": {"status": "paused"},
        "study-link": {"params": {"PROLIFIC_PID": "p-1", "STUDY_ID": "s-1", "SESSION_ID": "x-1"}},
    }
    if (name, method) == ("image-annotation", "patch"):
        return reverse(name, kwargs={"pk": image.pk}), {"version": 0, "append": [brush([(2, 2)])]}
    assert name in bodies, f"{method.upper()} {name} is a write this test does not know: give it a valid body here"
    kwargs = {"pk": image.pk} if name.startswith("image-") else {}
    kwargs = {"slug": "iris-test"} if name == "study-enrol" else kwargs
    kwargs = {"index": 0} if name == "participation-step" else kwargs
    kwargs = {"pk": trial.image_id} if name == "participation-annotation" else kwargs
    kwargs = {"pk": Study.objects.get().pk} if name in ("study-status", "study-link") else kwargs
    return reverse(name, kwargs=kwargs), bodies[name]


def actor(name, admin_user, dataset_root):
    """Return (user, trial) to send the write as: the admin, or a study participant (None for enrolling)."""
    if name in ("study-enrol", "study-status", "study-link") or name in PARTICIPATION:
        write_study_datasets(dataset_root, main_images=4)
        services.study_import(text=study_text())
    if name == "study-enrol":
        return None, None
    if name not in PARTICIPATION:
        return admin_user, None
    participant = services.participant_enrol(slug="iris-test", params={}).participant
    steps = [{"agree": True, "version": "v1"}, {}, {"answers": {"age": "18-30"}}][: PARTICIPATION[name]]
    for index, payload in enumerate(steps):
        services.participant_complete_step(participant_id=participant.pk, index=index, payload=payload)
    trial = services.trial_hand_out(participant_id=participant.pk).trials[0] if PARTICIPATION[name] == 3 else None
    return participant.user, trial


def stored_state(user):
    return (
        Annotation.objects.count(),
        Assignment.objects.filter(status=Assignment.Status.SKIPPED).count(),
        ApiToken.objects.filter(user=user).count() if user else 0,
        sorted(Participant.objects.values_list("status", "step_index")),
        sorted(Study.objects.values_list("status", flat=True)),
    )


@pytest.mark.parametrize("name, method", WRITES)
def test_a_session_write_without_the_csrf_token_is_refused_and_changes_nothing(
    name, method, admin_user, image, dataset_root
):
    user, trial = actor(name, admin_user, dataset_root)
    client = APIClient(enforce_csrf_checks=True)
    if user is not None:
        client.force_login(user)  # a real session cookie, as the SPA has
        api_token_create(user=user)
    before = stored_state(user)
    url, body = request_for(name, method, admin_user, image, trial)
    response = getattr(client, method)(url, body, format="json")
    assert response.status_code == 403, response.content[:300]
    assert "CSRF" in response.json()["detail"]
    assert stored_state(user) == before
    if user is not None:
        assert client.get("/api/auth/me/").status_code == 200  # still signed in: the logout did not happen


@pytest.mark.parametrize("name, method", WRITES)
def test_a_session_write_with_the_csrf_token_goes_through(name, method, admin_user, image, dataset_root):
    user, trial = actor(name, admin_user, dataset_root)
    client = APIClient(enforce_csrf_checks=True)
    if user is not None:
        client.force_login(user)
    token = client.get("/api/auth/csrf/").cookies["csrftoken"].value  # as the SPA reads it
    url, body = request_for(name, method, admin_user, image, trial)
    response = getattr(client, method)(url, body, format="json", HTTP_X_CSRFTOKEN=token)
    assert response.status_code in (200, 201, 204), response.content[:300]


@pytest.mark.parametrize("name, method", WRITES)
def test_a_token_write_needs_no_csrf_token(name, method, admin_user, image, dataset_root):
    user, trial = actor(name, admin_user, dataset_root)
    client = APIClient(enforce_csrf_checks=True)
    if user is not None:
        # A participant never has a token (it has no password to get one with); one stands in here.
        client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_create(user=user).key}")
    url, body = request_for(name, method, admin_user, image, trial)
    response = getattr(client, method)(url, body, format="json")
    if (name, method) in SESSION_ONLY:
        assert response.status_code == 403 and "CSRF" in response.json()["detail"]
    else:
        assert response.status_code in (200, 201, 204), response.content[:300]


def test_every_write_is_checked():
    assert {name for name, _ in WRITES} >= {"login", "logout", "token-logout", "image-annotation", "image-skip"}


# --- Free text: stored verbatim, served as JSON text ----------------------------------------


@pytest.mark.parametrize("text", HOSTILE)
def test_a_text_with_html_or_script_is_stored_and_served_verbatim_as_json(text, annotator, image, client_for):
    client = client_for(annotator)
    saved = client.put(f"/api/images/{image.pk}/annotation/", document([brush([(2, 2)])], text=text), format="json")
    assert saved.status_code == 201
    assert Annotation.objects.get().text == text  # not escaped, not stripped: what the annotator typed
    for url in (f"/api/images/{image.pk}/annotation/", f"/api/annotations/{saved.json()['id']}/"):
        response = client.get(url)
        assert response["Content-Type"] == "application/json"
        assert response["X-Content-Type-Options"] == "nosniff"  # no browser sniffs it into HTML
        assert response.json()["text"] == text
    strokes_json = client.get(f"/api/annotations/{saved.json()['id']}/strokes.json")
    assert strokes_json["Content-Type"] == "application/json"
    assert json.loads(strokes_json.content)["text"] == text


def test_a_skip_reason_with_html_is_stored_verbatim(annotator, image, client_for):
    response = client_for(annotator).post(f"/api/images/{image.pk}/skip/", {"reason": HOSTILE[1]}, format="json")
    assert response.status_code == 200
    assert Assignment.objects.get(status=Assignment.Status.SKIPPED).skip_reason == HOSTILE[1]


def test_the_strokes_svg_escapes_an_image_name_holding_markup(make_dataset, make_user, client_for):
    # An SVG opened on its own runs scripts: nothing from the data may become markup in it.
    from backend.api import services

    dataset = make_dataset(n=1)
    image = dataset.images.get()
    image.path = 'images/<script>window.__xss=1</script>"&.png'
    image.save()
    annotator = make_user(Role.ANNOTATOR)
    annotation, _ = services.annotation_save(
        image=image,
        annotator=annotator,
        content=services.AnnotationContent([brush([(2, 2)])], None, HOSTILE[0], "draft"),
        base_version=0,
    )
    svg = client_for(make_user(Role.RESEARCHER)).get(f"/api/annotations/{annotation.pk}/mask.svg").content.decode()
    assert "<script" not in svg and "&lt;script&gt;" in svg
    assert "onerror" not in svg  # the text is not in the SVG at all
