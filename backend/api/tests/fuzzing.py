"""Hostile requests for every operation of the OpenAPI schema and every role, in process (schemathesis).

Shared by the suite's bounded run (``test_schema_fuzz.py``) and the long one (``bench/fuzz_api.py``):
seed a small world of real objects, load the schema from the WSGI application, and send each
operation requests generated from it — ones that fit the schema (positive) and ones that break
it (negative) — as each role, checking every answer:

- never a server error (5xx);
- every 4xx is JSON in the project's error shape, its ``detail`` naming the problem;
- every answer's status is documented, and a documented answer matches its schema and media type.

Requests go through the whole stack (middleware, authentication, DRF, the exception handler)
without a network. Path ids hit real datasets, images and annotations most of the time.
"""

import logging
import time
import traceback
from collections import Counter
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import hypothesis
import schemathesis
from django.core.signals import got_request_exception, request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from backend.api import services
from backend.api.models import Dataset, Role
from backend.api.services import api_token_create
from backend.api.token_models import ApiToken, token_digest

from .conftest import brush, write_dataset

SCHEMA_PATH = "/api/schema/"
ROLES = ("anonymous", "annotator", "researcher", "admin", "participant")
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
# What an attacker would type: the seeded annotations hold it, so every answer that shows their text
# carries it (stored and shown as text, never run: see test_security.py).
HOSTILE_TEXT = '<img src=x onerror="window.__xss=1"> <script>window.__xss=1</script> "><svg onload=alert(1)>'


@schemathesis.check
def error_shape(ctx, response, case):
    """Every 4xx is JSON: {"code", "detail", "errors": [{field, code, detail}]}, its detail not empty."""
    if not 400 <= response.status_code < 500:
        return None
    media_type = (response.headers.get("content-type") or [""])[0]
    if "json" not in media_type:
        raise Failure(
            operation=case.operation.label,
            title="Error without a JSON body",
            message=f"{response.status_code} answered with {media_type or 'no content type'}, not the error JSON.",
        )
    try:
        body = response.json()
    except ValueError:
        body = None
    problems = []
    if not isinstance(body, dict):
        problems.append(f"the body is {type(body).__name__}, not an object")
    else:
        if not isinstance(body.get("code"), str) or not body["code"]:
            problems.append("no code")
        if not isinstance(body.get("detail"), str) or not body["detail"].strip():
            problems.append("no detail")
        errors = body.get("errors")
        if not isinstance(errors, list) or not errors:
            problems.append("no errors list")
        elif not all(isinstance(e, dict) and {"field", "code", "detail"} <= set(e) and e["detail"] for e in errors):
            problems.append("an entry of errors lacks field, code or detail")
    if problems:
        raise Failure(
            operation=case.operation.label,
            title="Badly shaped error",
            message=f"{response.status_code}: {', '.join(problems)}: {response.content[:300]!r}",
        )
    return None


CHECKS = [
    not_a_server_error,
    error_shape,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@dataclass
class World:
    """Real objects for path ids, and each role's API token (None: anonymous)."""

    tokens: dict[str, str | None]
    ids: dict[str, list[int]]
    users: dict = field(default_factory=dict)
    params: dict[str, list] = field(default_factory=dict)  # real values of other path parameters, by name

    def headers(self, role: str) -> dict[str, str]:
        token = self.tokens[role]
        return {"Authorization": f"Token {token}"} if token else {}

    def restore_tokens(self) -> None:
        """Give back tokens that a fuzzed ``auth/token/logout/`` revoked, so each role stays signed in."""
        for role, key in self.tokens.items():
            if key:
                if not ApiToken.objects.filter(digest=token_digest(key)).exists():
                    api_token_create(user=self.users[role], key=key)


def seed_world(dataset_root: Path) -> World:
    """Create two datasets (one open to every annotator, one to chosen ones), users of each role and their work."""
    open_ = services.dataset_import(
        folder=write_dataset(dataset_root / "fuzz-open"), name="Fuzz open", choices=["real", "fake"]
    ).dataset
    closed = services.dataset_import(
        folder=write_dataset(dataset_root / "fuzz-closed"), name="Fuzz closed", choices=["real", "fake"]
    ).dataset
    closed.access = Dataset.Access.CHOSEN
    closed.save()
    users = {
        "annotator": services.user_create(username="fuzz-annotator", password="pw-fuzz", role=Role.ANNOTATOR),
        "other": services.user_create(username="fuzz-other", password="pw-fuzz", role=Role.ANNOTATOR),
        "researcher": services.user_create(username="fuzz-researcher", password="pw-fuzz", role=Role.RESEARCHER),
        "admin": services.user_create(username="fuzz-admin", password="pw-fuzz", role=Role.ADMIN),
    }
    closed.annotators.add(users["other"])
    annotations = []
    for image, user, status in [
        (open_.images.order_by("position")[0], users["annotator"], "submitted"),
        (open_.images.order_by("position")[1], users["other"], "submitted"),
        (open_.images.order_by("position")[1], users["admin"], "draft"),
        (closed.images.order_by("position")[0], users["other"], "submitted"),
    ]:
        annotation, _ = services.annotation_save(
            image=image,
            annotator=user,
            content=services.AnnotationContent([brush([(3, 3), (20, 12)], width=6)], "real", HOSTILE_TEXT, status),
            base_version=0,
        )
        annotations.append(annotation.pk)
    study, trials, main_image = _seed_study(dataset_root)
    users["participant"] = trials[0].participant.user
    tokens = {"anonymous": None}
    # A participant signs in by the study link's session, never with a token; a token stands in for
    # that session here (every request of the fuzzing is authenticated by token).
    for role in ("annotator", "researcher", "admin", "participant"):
        tokens[role] = api_token_create(user=users[role]).key
    images = [image.pk for dataset in (open_, closed) for image in dataset.images.all()]
    instructions = study.steps.get(kind="instructions")
    return World(
        tokens=tokens,
        ids={
            "datasets": [open_.pk, closed.pk],
            "images": images,
            "annotations": annotations,
            "studies": [study.pk],
            "participation/images": [trial.image_id for trial in reversed(trials)],  # the open one first
        },
        users=users,
        params={
            "slug": [study.slug],
            "step": [instructions.pk],
            "name": ["eye"],
            "index": [3],
            "image_id": [main_image],
        },
    )


def _seed_study(dataset_root: Path):
    """Create a study and a participant on its practice: one image submitted (with feedback), the next open."""
    from .study_fixtures import mask_document, study_text, write_study_datasets

    write_study_datasets(dataset_root, main_images=4)
    study = services.study_import(text=study_text()).study
    participant = services.participant_enrol(slug=study.slug, params={}).participant
    for index, payload in enumerate([{"agree": True, "version": "v1"}, {}, {"answers": {"age": "18-30"}}]):
        services.participant_complete_step(participant_id=participant.pk, index=index, payload=payload)
    trials = services.trial_hand_out(participant_id=participant.pk, ahead=1).trials
    document = mask_document()
    content = services.AnnotationContent(document["strokes"], "real", "", "submitted")
    services.trial_save(participant_id=participant.pk, trial_id=trials[0].pk, content=content, base_version=0)
    # Another participant annotates the phase's first image, so the study has maps and figures.
    other = services.participant_enrol(slug=study.slug, params={"PROLIFIC_PID": "other"}).participant
    for index, payload in enumerate([{"agree": True, "version": "v1"}, {}, {"answers": {"age": "18-30"}}]):
        services.participant_complete_step(participant_id=other.pk, index=index, payload=payload)
    for _ in range(3):
        trial = services.trial_hand_out(participant_id=other.pk).trials[0]
        services.trial_save(participant_id=other.pk, trial_id=trial.pk, content=content, base_version=0)
    return study, list(trials), trial.image_id


@contextmanager
def in_process():
    """Serve requests in this thread's database transaction, and record the exception behind any 500.

    Django closes the database connection at the start and end of each request; inside a test's
    transaction that would throw the transaction away, so the test client does not do it either.
    """
    errors: list[str] = []

    def record(sender, request=None, **kwargs):
        errors.append(traceback.format_exc())

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    got_request_exception.connect(record)
    # Every refusal is logged as a warning; thousands of them are noise here.
    request_log = logging.getLogger("django.request")
    level = request_log.level
    request_log.setLevel(logging.ERROR)
    try:
        yield errors
    finally:
        request_log.setLevel(level)
        got_request_exception.disconnect(record)
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def load_schema():
    """Load the OpenAPI schema from the WSGI application, as a client would fetch it."""
    from django.core.wsgi import get_wsgi_application

    app = get_wsgi_application()
    with in_process():
        return schemathesis.openapi.from_wsgi(SCHEMA_PATH, app, headers={"Accept": "application/vnd.oai.openapi+json"})


def _resource(path: str) -> str | None:
    for name in ("datasets", "images", "annotations", "studies", "participation/images"):
        if path.startswith(f"/api/{name}/{{id}}"):
            return name
    return None


def _put_real_id(case, real: int | None, params: dict | None = None):
    """Use a real object's id (and real values of the other path parameters) unless generated to break the schema."""
    current = (case.path_parameters or {}).get("id")
    # Generated ids are ints; coverage cases carry them as text ("0"; "0.5", "true", "AAA" break the schema).
    well_formed = (isinstance(current, int) and not isinstance(current, bool)) or str(current).isdigit()
    if real is not None and well_formed:
        case.path_parameters = {**case.path_parameters, "id": real}
    if real is not None and params:
        for name, values in params.items():
            if name in (case.path_parameters or {}):
                case.path_parameters = {**case.path_parameters, name: values[0]}
    return case


def _with_real_ids(strategy, ids: list[int], params: dict | None = None):
    """Put a real object's id into most cases, so requests get past the 404 and into the view."""
    if not ids and not params:
        return strategy
    # None last: Hypothesis leans towards the first entries, so real ids come up more often than not.
    choices = [*ids, None] if ids else [0, None]  # 0: no id in the path, but real other parameters
    return st.tuples(strategy, st.sampled_from(choices)).map(lambda pair: _put_real_id(*pair, params))


def coverage_cases(schema, operation, limit: int | None = None) -> list:
    """Return schemathesis's coverage cases of the operation: deterministic boundary and type-breaking requests.

    With ``limit``, about that many of them, evenly spread (an operation with ten parameters has 200).
    """
    config = schema.config.generation_for(operation=operation)
    cases = list(schema.iter_coverage_cases(operation, generation_modes=list(MODES), generation_config=config))
    step = -(-len(cases) // limit) if limit else 1
    return cases[::step]


@dataclass
class Tally:
    """What one operation answered one role."""

    requests: int = 0
    statuses: Counter = field(default_factory=Counter)
    failures: dict[str, str] = field(default_factory=dict)  # a short key -> the first full report


def _failure_key(failures: Iterable[Failure], status: int) -> str:
    return "; ".join(sorted({f"{f.title} ({status})" for f in failures}))


# Every request carries a CSRF cookie and the matching header, so that the session login's
# validation is reached too; CSRF itself is tested in test_security.py.
_CSRF_SECRET = "fuzzfuzzfuzzfuzzfuzzfuzzfuzzfuzz"


def _send(case, world: World, role: str, tally: Tally) -> None:
    """Send the case as the role, check the answer and count it."""
    headers = {**world.headers(role), "X-CSRFToken": _CSRF_SECRET}
    with in_process() as errors:
        response = case.call(headers=headers, cookies={"csrftoken": _CSRF_SECRET})
    tally.requests += 1
    tally.statuses[response.status_code] += 1
    try:
        case.validate_response(response, checks=CHECKS, headers=headers)
    except FailureGroup as group:
        key = _failure_key(group.exceptions, response.status_code)
        tally.failures.setdefault(key, f"{group}\n{''.join(errors[-1:])}".strip())
    except Failure as failure:
        key = _failure_key([failure], response.status_code)
        tally.failures.setdefault(key, f"{failure}\n{''.join(errors[-1:])}".strip())
    if case.operation.path == "/api/auth/token/logout/":
        world.restore_tokens()


def fuzz_operation(
    schema,
    operation,
    world: World,
    *,
    roles=ROLES,
    max_examples: int,
    modes=MODES,
    coverage_roles=(),
    coverage_limit: int | None = None,
    seed: int | None = None,
) -> dict[str, Tally]:
    """Send one operation its coverage cases (as ``coverage_roles``) and ``max_examples`` generated cases per
    mode (each as every role); return {role: Tally}.

    Without ``seed`` the generated cases are the same on every run; with one, they are that seed's.
    """
    tallies = {role: Tally() for role in roles}
    ids = world.ids.get(_resource(operation.path) or "", [])
    params = {name: values for name, values in world.params.items() if f"{{{name}}}" in operation.path}
    if coverage_roles:
        for index, case in enumerate(coverage_cases(schema, operation, coverage_limit)):
            if (ids or params) and index % 4:  # every fourth keeps its generated id (0, a boundary, a missing one)
                _put_real_id(case, ids[index % len(ids)] if ids else 0, params)
            for role in coverage_roles:
                _send(case, world, role, tallies.setdefault(role, Tally()))
    for mode in modes if max_examples else ():

        @settings(
            max_examples=max_examples,
            derandomize=seed is None,
            database=None,
            deadline=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=_with_real_ids(operation.as_strategy(generation_mode=mode), ids, params))
        def run(case):
            for role in roles:
                _send(case, world, role, tallies[role])

        if seed is not None:
            run = hypothesis.seed(seed)(run)

        try:
            run()
        except Unsatisfiable:
            pass  # nothing of this operation can break the schema (no parameters, no body): no negative cases
    return tallies


def fuzz(
    schema,
    world: World,
    *,
    roles=ROLES,
    max_examples: int,
    modes=MODES,
    coverage_roles=(),
    coverage_limit: int | None = None,
    seed: int | None = None,
    log=None,
) -> dict:
    """Fuzz every operation of the schema; return {(operation label, role): Tally}."""
    results = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        started = time.monotonic()
        tallies = fuzz_operation(
            schema,
            operation,
            world,
            roles=roles,
            max_examples=max_examples,
            modes=modes,
            coverage_roles=coverage_roles,
            coverage_limit=coverage_limit,
            seed=seed,
        )
        for role, tally in tallies.items():
            results[(operation.label, role)] = tally
        if log:
            log(operation.label, tallies, time.monotonic() - started)
    return results
