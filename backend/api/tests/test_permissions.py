"""The roles matrix: every role against every endpoint, on datasets and work that are theirs or not.

Roles: anonymous, a user without a role, an annotator, an annotator chosen for the closed
dataset, a test annotator, a researcher, an admin. The "open" dataset is open to every
annotator; the "closed" one only to chosen annotators.
"""

from dataclasses import dataclass

import pytest
from django.urls import URLResolver, get_resolver, resolve, reverse
from rest_framework.test import APIClient

from backend.api import services
from backend.api.models import Annotation, Dataset, Role, Study, Trial

from .conftest import brush, document, write_dataset
from .study_fixtures import mask_document, study_text, write_study_datasets

ROLES = ["anonymous", "norole", "annotator", "chosen", "tester", "researcher", "admin", "participant"]


@dataclass
class Participation:
    study: Study
    trial: Trial  # the participant's own (a practice image)
    others_trial: Trial  # another participant's


class _Users(dict):
    """The users by role; the participant (and their study) is made only when a test asks for it."""

    def __init__(self, users, world):
        super().__init__(users)
        self.world = world

    def __missing__(self, role):
        if role != "participant":
            raise KeyError(role)
        return self.world.participation.trial.participant.user


@dataclass
class World:
    users: dict
    open: Dataset
    closed: Dataset
    others_annotation: Annotation
    root: object = None
    _participation: Participation | None = None
    _main_image: int | None = None

    @property
    def participation(self) -> Participation:
        """A study with two participants on its practice step, each handed an image (made on first use)."""
        if self._participation is None:
            write_study_datasets(self.root, main_images=4)
            study = services.study_import(text=study_text()).study
            trials = []
            for ahead in (0, 1):  # the other's second image is one the participant was never handed
                participant = services.participant_enrol(slug=study.slug, params={}).participant
                for index, payload in enumerate([{"agree": True, "version": "v1"}, {}, {"answers": {"age": "18-30"}}]):
                    services.participant_complete_step(participant_id=participant.pk, index=index, payload=payload)
                trials.append(services.trial_hand_out(participant_id=participant.pk, ahead=ahead).trials[ahead])
            self._participation = Participation(study=study, trial=trials[0], others_trial=trials[1])
        return self._participation

    @property
    def study(self) -> Study:
        return self.participation.study

    @property
    def trial(self) -> Trial:
        return self.participation.trial

    @property
    def others_trial(self) -> Trial:
        return self.participation.others_trial

    @property
    def main_image(self) -> int:
        """An image of the study's annotation phase, submitted by a participant (made on first use)."""
        if self._main_image is None:
            participant = services.participant_enrol(slug=self.study.slug, params={"PROLIFIC_PID": "m"}).participant
            for index, payload in enumerate([{"agree": True, "version": "v1"}, {}, {"answers": {"age": "18-30"}}]):
                services.participant_complete_step(participant_id=participant.pk, index=index, payload=payload)
            for _ in range(3):  # the practice, then the phase's first image
                trial = services.trial_hand_out(participant_id=participant.pk).trials[0]
                document = mask_document()
                services.trial_save(
                    participant_id=participant.pk,
                    trial_id=trial.pk,
                    content=services.AnnotationContent(document["strokes"], "real", "", "submitted"),
                    base_version=0,
                )
            self._main_image = trial.image_id
        return self._main_image

    def image(self, which):
        dataset = self.open if which == "open" else self.closed
        return dataset.images.order_by("position").first()


@pytest.fixture
def world(dataset_root, make_user, django_user_model):
    open_ = services.dataset_import(folder=write_dataset(dataset_root / "open"), name="Open").dataset
    closed = services.dataset_import(folder=write_dataset(dataset_root / "closed"), name="Closed").dataset
    closed.access = Dataset.Access.CHOSEN
    closed.save()
    users = {
        "anonymous": None,
        "norole": django_user_model.objects.create_user("norole", password="x"),
        "annotator": make_user(Role.ANNOTATOR),
        "chosen": make_user(Role.ANNOTATOR),
        "tester": make_user(Role.ANNOTATOR, is_test=True),
        "researcher": make_user(Role.RESEARCHER),
        "admin": make_user(Role.ADMIN),
    }
    closed.annotators.add(users["chosen"])
    other = make_user(Role.ANNOTATOR)
    closed.annotators.add(other)
    others = {}
    for which, dataset in (("open", open_), ("closed", closed)):
        image = dataset.images.order_by("position").last()
        others[which], _ = services.annotation_save(
            image=image,
            annotator=other,
            content=services.AnnotationContent([brush([(3, 3)])], None, "", "draft"),
            base_version=0,
        )
    world = World(users=users, open=open_, closed=closed, others_annotation=others["closed"], root=dataset_root)
    world.users = _Users(users, world)
    return world


def client_as(user):
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def own_annotation(world, role, which):
    """Give the role's user an annotation on the dataset's first image (when they may have one); return its id."""
    user = world.users[role]
    annotation, _ = services.annotation_save(
        image=world.image(which),
        annotator=user,
        content=services.AnnotationContent([brush([(1, 1)])], None, "", "draft"),
        base_version=0,
    )
    return annotation.pk


# endpoint: (method, url builder, body); the url builder gets (world, role).
ENDPOINTS = {
    "datasets": ("get", lambda w, r: "/api/datasets/", None),
    "dataset open": ("get", lambda w, r: f"/api/datasets/{w.open.pk}/", None),
    "dataset closed": ("get", lambda w, r: f"/api/datasets/{w.closed.pk}/", None),
    "next open": ("get", lambda w, r: f"/api/datasets/{w.open.pk}/next/", None),
    "next closed": ("get", lambda w, r: f"/api/datasets/{w.closed.pk}/next/", None),
    "progress open": ("get", lambda w, r: f"/api/datasets/{w.open.pk}/progress/", None),
    "progress closed": ("get", lambda w, r: f"/api/datasets/{w.closed.pk}/progress/", None),
    "images closed": ("get", lambda w, r: f"/api/images/?dataset={w.closed.pk}", None),
    "image open": ("get", lambda w, r: f"/api/images/{w.image('open').pk}/", None),
    "image closed": ("get", lambda w, r: f"/api/images/{w.image('closed').pk}/", None),
    "file closed": ("get", lambda w, r: f"/api/images/{w.image('closed').pk}/file/", None),
    "my annotation closed": ("get", lambda w, r: f"/api/images/{w.image('closed').pk}/annotation/", None),
    "save open": ("put", lambda w, r: f"/api/images/{w.image('open').pk}/annotation/", document([brush([(2, 2)])])),
    "save closed": (
        "put",
        lambda w, r: f"/api/images/{w.image('closed').pk}/annotation/",
        document([brush([(2, 2)])]),
    ),
    "change open": (
        "patch",
        lambda w, r: f"/api/images/{w.image('open').pk}/annotation/",
        {"version": 0, "append": [brush([(2, 2)])]},
    ),
    "change closed": (
        "patch",
        lambda w, r: f"/api/images/{w.image('closed').pk}/annotation/",
        {"version": 0, "append": [brush([(2, 2)])]},
    ),
    "skip open": ("post", lambda w, r: f"/api/images/{w.image('open').pk}/skip/", {"reason": "blurred"}),
    "skip closed": ("post", lambda w, r: f"/api/images/{w.image('closed').pk}/skip/", {"reason": "blurred"}),
    "annotations": ("get", lambda w, r: "/api/annotations/", None),
    "others annotation": ("get", lambda w, r: f"/api/annotations/{w.others_annotation.pk}/", None),
    "own annotation": ("get", lambda w, r: f"/api/annotations/{own_annotation(w, r, 'open')}/", None),
    "others mask png": ("get", lambda w, r: f"/api/annotations/{w.others_annotation.pk}/mask.png", None),
    "others mask svg": ("get", lambda w, r: f"/api/annotations/{w.others_annotation.pk}/mask.svg", None),
    "others strokes json": ("get", lambda w, r: f"/api/annotations/{w.others_annotation.pk}/strokes.json", None),
    "own mask png": ("get", lambda w, r: f"/api/annotations/{own_annotation(w, r, 'open')}/mask.png", None),
    "saliency closed": ("get", lambda w, r: f"/api/images/{w.image('closed').pk}/saliency.png", None),
    "overlay closed": ("get", lambda w, r: f"/api/images/{w.image('closed').pk}/saliency-overlay.png", None),
    "npy closed": ("get", lambda w, r: f"/api/images/{w.image('closed').pk}/saliency.npy", None),
    "image stats closed": ("get", lambda w, r: f"/api/images/{w.image('closed').pk}/stats/", None),
    "dataset stats closed": ("get", lambda w, r: f"/api/datasets/{w.closed.pk}/stats/", None),
    "export closed": ("get", lambda w, r: f"/api/datasets/{w.closed.pk}/export/?format=csv", None),
    "api root": ("get", lambda w, r: "/api/", None),
    "me": ("get", lambda w, r: "/api/auth/me/", None),
    "logout": ("post", lambda w, r: "/api/auth/logout/", None),
    "token logout": ("post", lambda w, r: "/api/auth/token/logout/", None),
    # Studies: enrolling by the link, the participation API, and studies for researchers.
    "enrol": ("post", lambda w, r: f"/api/studies/{w.study.slug}/enrol/", {"params": {}}),
    "participation": ("get", lambda w, r: "/api/participation/", None),
    "complete a step": ("post", lambda w, r: "/api/participation/steps/3/", {}),
    "withdraw": ("post", lambda w, r: "/api/participation/withdraw/", None),
    "trials": ("get", lambda w, r: "/api/participation/trials/", None),
    "own trial annotation": ("get", lambda w, r: f"/api/participation/images/{w.trial.image_id}/annotation/", None),
    "save own trial": (
        "put",
        lambda w, r: f"/api/participation/images/{w.trial.image_id}/annotation/",
        document([brush([(2, 2)])]),
    ),
    "change own trial": (
        "patch",
        lambda w, r: f"/api/participation/images/{w.trial.image_id}/annotation/",
        {"version": 0, "append": [brush([(2, 2)])]},
    ),
    "own trial": ("get", lambda w, r: f"/api/participation/images/{w.trial.image_id}/", None),
    "others trial": ("get", lambda w, r: f"/api/participation/images/{w.others_trial.image_id}/", None),
    "own trial image": ("get", lambda w, r: f"/api/participation/images/{w.trial.image_id}/file", None),
    "others trial image": ("get", lambda w, r: f"/api/participation/images/{w.others_trial.image_id}/file", None),
    "others trial annotation": (
        "get",
        lambda w, r: f"/api/participation/images/{w.others_trial.image_id}/annotation/",
        None,
    ),
    "save others trial": (
        "put",
        lambda w, r: f"/api/participation/images/{w.others_trial.image_id}/annotation/",
        document([brush([(2, 2)])]),
    ),
    "change others trial": (
        "patch",
        lambda w, r: f"/api/participation/images/{w.others_trial.image_id}/annotation/",
        {"version": 0, "append": [brush([(2, 2)])]},
    ),
    "trial saliency": ("get", lambda w, r: f"/api/participation/images/{w.trial.image_id}/ai-saliency", None),
    "trial feedback": ("get", lambda w, r: f"/api/participation/images/{w.trial.image_id}/feedback/", None),
    "trial reference mask": ("get", lambda w, r: f"/api/participation/images/{w.trial.image_id}/reference-mask", None),
    "step example": (
        "get",
        lambda w, r: f"/api/participation/steps/{w.study.steps.get(position=1).pk}/examples/eye",
        None,
    ),
    "studies": ("get", lambda w, r: "/api/studies/", None),
    "study": ("get", lambda w, r: f"/api/studies/{w.study.pk}/", None),
    "study file": ("get", lambda w, r: f"/api/studies/{w.study.pk}/file/", None),
    "study export": ("get", lambda w, r: f"/api/studies/{w.study.pk}/export/", None),
    "study participants": ("get", lambda w, r: f"/api/studies/{w.study.pk}/participants/", None),
    "study dashboard": ("get", lambda w, r: f"/api/studies/{w.study.pk}/dashboard/", None),
    "study stats": ("get", lambda w, r: f"/api/studies/{w.study.pk}/stats/", None),
    "study status": ("post", lambda w, r: f"/api/studies/{w.study.pk}/status/", {"status": "paused"}),
    "study link": ("post", lambda w, r: f"/api/studies/{w.study.pk}/link/", {"params": {"PROLIFIC_PID": "x"}}),
    "study image stats": ("get", lambda w, r: f"/api/studies/{w.study.pk}/images/{w.main_image}/stats/", None),
    "study image map": (
        "get",
        lambda w, r: f"/api/studies/{w.study.pk}/images/{w.main_image}/saliency.png?condition=no-help",
        None,
    ),
    "study image map npy": (
        "get",
        lambda w, r: f"/api/studies/{w.study.pk}/images/{w.main_image}/saliency.npy?condition=no-help",
        None,
    ),
}

# Expected status for each endpoint, in the order of ROLES.
#                          anon norole annot chosen tester resrch admin
EXPECTED = {
    "datasets": (401, 403, 200, 200, 200, 200, 200),
    "dataset open": (401, 403, 200, 200, 200, 200, 200),
    "dataset closed": (401, 403, 404, 200, 404, 200, 200),
    "next open": (401, 403, 200, 200, 200, 403, 200),
    "next closed": (401, 403, 404, 200, 404, 403, 200),
    "progress open": (401, 403, 200, 200, 200, 200, 200),
    "progress closed": (401, 403, 404, 200, 404, 200, 200),
    "images closed": (401, 403, 200, 200, 200, 200, 200),  # an empty list for those who may not see it
    "image open": (401, 403, 200, 200, 200, 200, 200),
    "image closed": (401, 403, 404, 200, 404, 200, 200),
    "file closed": (401, 403, 404, 200, 404, 200, 200),
    "my annotation closed": (401, 403, 404, 200, 404, 200, 200),
    "save open": (401, 403, 201, 201, 201, 403, 201),
    "save closed": (401, 403, 404, 201, 404, 403, 201),
    "change open": (401, 403, 201, 201, 201, 403, 201),  # an incremental save: as a whole one
    "change closed": (401, 403, 404, 201, 404, 403, 201),
    "skip open": (401, 403, 200, 200, 200, 403, 200),
    "skip closed": (401, 403, 404, 200, 404, 403, 200),
    "annotations": (401, 403, 200, 200, 200, 200, 200),
    "others annotation": (401, 403, 404, 404, 404, 200, 200),
    "own annotation": (None, None, 200, 200, 200, None, 200),  # None: the role has no annotations of its own
    "others mask png": (401, 403, 404, 404, 404, 200, 200),
    "others mask svg": (401, 403, 404, 404, 404, 200, 200),
    "others strokes json": (401, 403, 404, 404, 404, 200, 200),
    "own mask png": (None, None, 200, 200, 200, None, 200),
    "saliency closed": (401, 403, 403, 403, 403, 200, 200),
    "overlay closed": (401, 403, 403, 403, 403, 200, 200),
    "npy closed": (401, 403, 403, 403, 403, 200, 200),
    "image stats closed": (401, 403, 403, 403, 403, 200, 200),
    "dataset stats closed": (401, 403, 403, 403, 403, 200, 200),
    "export closed": (401, 403, 403, 403, 403, 200, 200),
    "api root": (401, 403, 200, 200, 200, 200, 200),
    "me": (401, 200, 200, 200, 200, 200, 200),  # a user without a role may see who they are, and sign out
    "logout": (401, 204, 204, 204, 204, 204, 204),
    "token logout": (401, 204, 204, 204, 204, 204, 204),
}
# A participant's user has no role: every endpoint above treats it as a user without one (its own
# annotations are reached through the participation API only).
for _endpoint, _expected in list(EXPECTED.items()):
    EXPECTED[_endpoint] = (*_expected, None if _endpoint.startswith("own ") else _expected[1])
PARTICIPATION = (401, 403, 403, 403, 403, 403, 403)
EXPECTED.update(
    {
        # Anyone may enrol; those signed in with an account are told to sign out; a participant resumes.
        "enrol": (201, 409, 409, 409, 409, 409, 409, 200),
        "participation": (*PARTICIPATION, 200),
        "complete a step": (*PARTICIPATION, 409),  # the participant is on the practice: done by its images
        "withdraw": (*PARTICIPATION, 200),
        "trials": (*PARTICIPATION, 200),
        "own trial annotation": (*PARTICIPATION, 200),
        "save own trial": (*PARTICIPATION, 201),
        "change own trial": (*PARTICIPATION, 201),  # an incremental save: as a whole one
        "own trial": (*PARTICIPATION, 200),
        "others trial": (*PARTICIPATION, 404),
        "own trial image": (*PARTICIPATION, 200),
        "others trial image": (*PARTICIPATION, 404),
        "others trial annotation": (*PARTICIPATION, 404),
        "save others trial": (*PARTICIPATION, 404),
        "change others trial": (*PARTICIPATION, 404),
        "trial saliency": (*PARTICIPATION, 404),  # a practice image is shown without guidance
        "trial feedback": (*PARTICIPATION, 404),  # not submitted yet
        "trial reference mask": (*PARTICIPATION, 404),
        "step example": (*PARTICIPATION, 200),
        "studies": (401, 403, 403, 403, 403, 200, 200, 403),
        "study": (401, 403, 403, 403, 403, 200, 200, 403),
        "study file": (401, 403, 403, 403, 403, 200, 200, 403),
        "study export": (401, 403, 403, 403, 403, 200, 200, 403),
        "study participants": (401, 403, 403, 403, 403, 200, 200, 403),
        "study dashboard": (401, 403, 403, 403, 403, 200, 200, 403),
        "study stats": (401, 403, 403, 403, 403, 200, 200, 403),
        "study status": (401, 403, 403, 403, 403, 403, 200, 403),  # opening and closing: admins
        "study link": (401, 403, 403, 403, 403, 200, 200, 403),
        "study image stats": (401, 403, 403, 403, 403, 200, 200, 403),
        "study image map": (401, 403, 403, 403, 403, 200, 200, 403),
        "study image map npy": (401, 403, 403, 403, 403, 200, 200, 403),
    }
)
CASES = [(role, endpoint, EXPECTED[endpoint][i]) for endpoint in ENDPOINTS for i, role in enumerate(ROLES)]


@pytest.mark.parametrize("role, endpoint, status", CASES, ids=[f"{r}-{e}" for r, e, _ in CASES])
def test_the_roles_matrix(role, endpoint, status, world):
    if status is None:
        pytest.skip(f"{role} cannot have annotations of their own")
    method, url, body = ENDPOINTS[endpoint]
    address = url(world, role)  # before the user: building it may make the study the participant is in
    response = getattr(client_as(world.users[role]), method)(address, body, format="json")
    if response.streaming:
        b"".join(response.streaming_content)  # an export reads in a transaction until it is consumed
    assert response.status_code == status, response.content[:300] if not response.streaming else ""
    if status >= 400:
        assert response.json()["detail"], "every refusal says why"


# Endpoints anyone may call, and why. Everything else under /api/ (but Django admin, which
# test_only_admins_reach_django_admin covers) must be in ENDPOINTS above.
PUBLIC = {
    ("health", "get"): "load balancers and monitoring probe it without credentials; it shows no data",
    ("csrf", "get"): "the sign-in page needs the CSRF cookie before anyone is signed in",
    ("login", "post"): "signing in: the credentials are the authentication (rate-limited, CSRF-checked)",
    ("token-login", "post"): "getting a token: the credentials are the authentication (rate-limited)",
    ("schema", "get"): "the OpenAPI description of the API; it holds no data",
    ("docs", "get"): "Swagger UI over the schema; it holds no data",
}


def api_endpoints() -> set[tuple[str, str]]:
    """Return (URL name, method) of every view under /api/ but Django admin, read from the URL resolver."""
    endpoints = set()

    def walk(patterns, prefix):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif (prefix + str(pattern.pattern)).startswith("api/") and not prefix.startswith("api/admin/"):
                callback = pattern.callback
                view = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
                actions = getattr(callback, "actions", None)  # a viewset's routes: {"get": "list", "head": "list"}
                handlers = {m for m in ("get", "post", "put", "patch", "delete") if hasattr(view, m)}
                methods = set(actions) - {"head"} if actions else handlers  # HEAD is GET (tested below)
                assert methods, f"{pattern.name}: no method found; teach api_endpoints() about its view"
                endpoints.update((pattern.name, method) for method in methods)

    walk(get_resolver().url_patterns, "")
    return endpoints


def test_every_api_endpoint_is_in_the_roles_matrix_or_deliberately_public(world):
    covered = set()
    for method, url, _ in ENDPOINTS.values():
        covered.add((resolve(url(world, "admin").split("?")[0]).url_name, method))  # admins may build every URL
    endpoints = api_endpoints()
    missing = endpoints - covered - PUBLIC.keys()
    assert not missing, f"endpoints not in the roles matrix (ENDPOINTS, EXPECTED) nor in PUBLIC: {sorted(missing)}"
    assert not PUBLIC.keys() - endpoints, "PUBLIC names endpoints that no longer exist"
    assert len(endpoints) >= 30  # the walk found the routers' views and the paths


@pytest.mark.parametrize("endpoint", [e for e in ENDPOINTS if EXPECTED[e][0] == 401])
def test_head_and_options_are_refused_to_anonymous_users_too(endpoint, world):
    url = ENDPOINTS[endpoint][1](world, "admin")
    for method in ("head", "options"):
        assert getattr(APIClient(), method)(url).status_code == 401, f"{method.upper()} {url}"


@pytest.mark.parametrize("name, method", sorted(PUBLIC))
def test_the_public_endpoints_answer_anonymous_users(name, method, db):
    response = getattr(APIClient(), method)(reverse(name), {}, format="json")
    assert response.status_code not in (401, 403), f"{name} is listed as public but refused: {response.status_code}"


VISIBLE_DATASETS = {
    "annotator": {"Open"},
    "chosen": {"Open", "Closed"},
    "tester": {"Open"},
    "researcher": {"Open", "Closed"},
    "admin": {"Open", "Closed"},
}


@pytest.mark.parametrize("role", VISIBLE_DATASETS)
def test_each_role_lists_only_the_datasets_it_may_see(role, world):
    listed = client_as(world.users[role]).get("/api/datasets/").json()["results"]
    assert {d["name"] for d in listed} == VISIBLE_DATASETS[role]
    images = client_as(world.users[role]).get(f"/api/images/?dataset={world.closed.pk}").json()["count"]
    assert images == (3 if "Closed" in VISIBLE_DATASETS[role] else 0)


@pytest.mark.parametrize("role", ["annotator", "chosen", "tester", "admin"])
def test_those_who_annotate_list_only_their_own_annotations(role, world):
    own_annotation(world, role, "open")
    listed = client_as(world.users[role]).get("/api/annotations/").json()["results"]
    expected = (
        {world.users[role].pk} if role != "admin" else {world.users[role].pk, world.others_annotation.annotator_id}
    )
    assert {a["annotator"] for a in listed} == expected


def test_researchers_list_everyones_annotations(world):
    listed = client_as(world.users["researcher"]).get("/api/annotations/").json()["results"]
    assert len(listed) == 2


@pytest.mark.parametrize("role, everyone", [("annotator", False), ("researcher", True), ("admin", True)])
def test_progress_shows_everyone_only_to_researchers_and_admins(role, everyone, world):
    body = client_as(world.users[role]).get(f"/api/datasets/{world.open.pk}/progress/").json()
    usernames = {row["username"] for row in body["annotators"]}
    if everyone:
        assert body["dataset"]["images"] == 3
        assert world.others_annotation.annotator.username in usernames
    else:
        assert body["dataset"] is None
        assert usernames == {world.users[role].username}


@pytest.mark.parametrize("role, status", [("annotator", 302), ("researcher", 302), ("admin", 200)])
def test_only_admins_reach_django_admin(role, status, world, client):
    client.force_login(world.users[role])
    assert client.get("/api/admin/").status_code == status


@pytest.mark.django_db
def test_the_openapi_schema_documents_skip_and_progress():
    paths = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()["paths"]
    assert "post" in paths["/api/images/{id}/skip/"]
    assert "get" in paths["/api/datasets/{id}/progress/"]
    next_body = paths["/api/datasets/{id}/next/"]["get"]["responses"]["200"]
    assert next_body["content"]["application/json"]["schema"]["$ref"].endswith("NextImage")
