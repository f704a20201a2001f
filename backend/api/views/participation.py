"""The participation API: a study participant's own state, steps, trials and files, and enrolling by the link.

Every view here but enrolment is for study participants only (``IsParticipant``) and reads only
the caller's own participation: a participant can reach nothing else, and nothing else reaches
here (annotators, researchers and admins are refused).
"""

from django.contrib.auth import login, logout
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from .. import services
from ..models import Annotation, ImageAttachment, Step, Trial
from ..permissions import IsParticipant, participant_of
from ..schema import ERROR_RESPONSE
from ..selectors import studies as study_selectors
from ..serializers import (
    AheadQuerySerializer,
    AnnotationSummarySerializer,
    OwnAnnotationSerializer,
    SavedAnnotationSerializer,
    VersionConflictSerializer,
)
from ..study_serializers import (
    FEEDBACK,
    PARTICIPANT_STATE,
    TRIALS,
    EnrolSerializer,
    StepCompleteSerializer,
    TrialChangeSerializer,
    TrialSerializer,
    TrialWriteSerializer,
)
from .file_responses import FileApiMixin, image_file_response
from .images import PREFER_PARAMETER, _prefers_minimal, _saved

REFUSED = OpenApiResponse(
    ERROR_RESPONSE,
    description="The study's state refuses it (`code` says which): a step done already or not reached, the study "
    "closed, paused or full, the time up, finished already, signed in with an account; or on saving, "
    "`version_conflict`, `image_full`, `trial_finished`.",
)


def _state(participant, *, status=200) -> Response:
    return Response(study_selectors.participant_state(participant), status=status)


class EnrolApi(APIView):
    """Take part in a study by its link: enrol, or come back as the participant one already is."""

    permission_classes = [AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "enrol"  # per client address; STUDY_ENROL_THROTTLE_RATE

    @extend_schema(request=EnrolSerializer, responses={200: PARTICIPANT_STATE, 201: PARTICIPANT_STATE, 409: REFUSED})
    def post(self, request, slug):
        """Enrol in the study (201), or resume (200): the same browser, or the same platform participant id.

        Signs the browser in as the participant (a session). Refused, storing nothing: an unknown
        study (404 no_study), a malformed link or one for another study (400 invalid_link), a
        signed study's link without its signature, changed since it was signed, or expired (400
        unsigned_link, tampered_link, link_expired), a visitor signed in with an EyeTagger account
        (409 signed_in), a study not open, paused, closed or full (409 study_not_open, study_paused,
        study_closed, study_full).
        """
        SessionAuthentication().enforce_csrf(request)  # no one may be enrolled from another site
        body = EnrolSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        enrolment = services.participant_enrol(slug=slug, params=body.validated_data["params"], caller=request.user)
        participant = enrolment.participant
        if request.user != participant.user:
            login(request, participant.user, backend="django.contrib.auth.backends.ModelBackend")
        return _state(participant, status=201 if enrolment.created else 200)


class ParticipationApi(APIView):
    permission_classes = [IsParticipant]

    @extend_schema(responses=PARTICIPANT_STATE)
    def get(self, request):
        """Return the caller's participation: their steps, where they are, their progress, their code once finished."""
        return _state(participant_of(request.user))


class ParticipationStepApi(APIView):
    permission_classes = [IsParticipant]

    @extend_schema(
        request=StepCompleteSerializer,
        responses={200: PARTICIPANT_STATE, 409: REFUSED},
    )
    def post(self, request, index):
        """Complete the step the caller is on (``index``): consent, instructions, questionnaire, or finish.

        Consent with ``{"agree": false}`` declines: nothing is kept of the caller, who is signed out
        (``{"declined": true}``). Finishing answers the state with ``completion``: the code and the
        platform's redirect. A step done already is refused (409 step_done), so a replayed request
        (a replayed completion too) changes nothing.
        """
        body = StepCompleteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        participant = participant_of(request.user)
        done = services.participant_complete_step(
            participant_id=participant.pk, index=index, payload=body.validated_data
        )
        if done.declined:
            logout(request)
            return Response({"declined": True, "detail": "You declined to take part. Nothing about you was kept."})
        return _state(done.participant)


class ParticipationWithdrawApi(APIView):
    permission_classes = [IsParticipant]

    @extend_schema(request=None, responses=inline_serializer("Withdrawn", {"deleted": serializers.BooleanField()}))
    def post(self, request):
        """Withdraw from the study: the caller's data is deleted, or kept marked withdrawn, as the study says."""
        deleted = services.participant_withdraw(participant_id=participant_of(request.user).pk)
        logout(request)
        return Response({"deleted": deleted})


AHEAD = OpenApiParameter("ahead", int, description="Also hand out up to this many further images (0 to 20).")


class ParticipationTrialsApi(APIView):
    permission_classes = [IsParticipant]

    @extend_schema(responses={200: TRIALS, 409: REFUSED}, parameters=[AHEAD])
    def get(self, request):
        """Return the caller's image to annotate now in their step, and up to ``ahead`` more to go on with offline."""
        ahead = AheadQuerySerializer.read(request)
        batch = services.trial_hand_out(participant_id=participant_of(request.user).pk, ahead=ahead)
        steps = study_selectors.participant_steps(batch.participant)
        return Response(
            {
                "trials": TrialSerializer(batch.trials, many=True).data,
                "finished": batch.finished,
                "progress": study_selectors.participant_progress(batch.participant, steps),
            }
        )


def _own_trial(request, pk) -> Trial:
    """Return the caller's own trial of image ``pk`` (a participant sees an image once), or 404."""
    trial = (
        Trial.objects.select_related("image__dataset", "step", "annotation")
        .filter(image_id=pk, participant=participant_of(request.user))
        .first()
    )
    if trial is None:
        raise NotFound(f"There is no image {str(pk)[:20]} of yours in this study.")
    return trial


class TrialAnnotationApi(APIView):
    permission_classes = [IsParticipant]

    @extend_schema(responses=OwnAnnotationSerializer)
    def get(self, request, pk):
        """Return the caller's annotation of the image (version 0 before its first save), with ``guidance_events``."""
        trial = _own_trial(request, pk)
        empty = Annotation(image=trial.image, annotator=request.user, version=0, started_at=None)
        # The guidance's toggles so far come back with it, so a page that reloads goes on with the log.
        return Response(
            {**OwnAnnotationSerializer(trial.annotation or empty).data, "guidance_events": trial.guidance_events}
        )

    @extend_schema(
        request=TrialWriteSerializer,
        responses={200: SavedAnnotationSerializer, 201: SavedAnnotationSerializer, 409: REFUSED},
        parameters=[PREFER_PARAMETER],
    )
    def put(self, request, pk):
        """Save the caller's work on the trial's image: the strokes document, as for ``images/{id}/annotation/``.

        Also ``guidance_events`` (every toggle of the guidance so far) and ``timed_out``. Submitting
        finishes the image; the last of the step moves the caller on to their next step.
        """
        trial = _own_trial(request, pk)
        body = TrialWriteSerializer(data=request.data, context={"image": trial.image, "request": request})
        body.is_valid(raise_exception=True)
        trial, annotation, changed = services.trial_save(
            participant_id=participant_of(request.user).pk,
            trial_id=trial.pk,
            guidance_events=body.validated_data.get("guidance_events"),
            timed_out=body.validated_data["timed_out"],
            **body.save_arguments(),
        )
        return _saved(annotation, created=changed and annotation.version == 1, minimal=_prefers_minimal(request))

    @extend_schema(
        request=TrialChangeSerializer,
        responses={
            200: AnnotationSummarySerializer,
            201: AnnotationSummarySerializer,
            409: OpenApiResponse(
                VersionConflictSerializer,
                description="`version` is not the stored version (version_conflict: `current` is the stored "
                "annotation), or the study's state refuses it (`code` says which, as for PUT: `trial_finished`, "
                "`image_full`, `study_closed`, `time_up`, ...).",
            ),
        },
    )
    def patch(self, request, pk):
        """Save what changed in the work on the trial's image since ``version``, as ``images/{id}/annotation/`` does.

        The change (docs/strokes.md, "Incremental saves"), with ``guidance_events`` and ``timed_out``
        as for PUT; answered without the strokes. A finished image answers a retry of its last change
        (the same ``op``) as saved, and refuses any other change (409 trial_finished).
        """
        trial = _own_trial(request, pk)
        change = TrialChangeSerializer(data=request.data, context={"image": trial.image, "request": request})
        change.is_valid(raise_exception=True)
        trial, annotation, changed = services.trial_change(
            participant_id=participant_of(request.user).pk,
            trial_id=trial.pk,
            guidance_events=change.validated_data.get("guidance_events"),
            timed_out=change.validated_data["timed_out"],
            **change.save_arguments(),
        )
        return _saved(annotation, created=changed and annotation.version == 1, minimal=True)


class TrialApi(APIView):
    permission_classes = [IsParticipant]

    @extend_schema(responses=TrialSerializer)
    def get(self, request, pk):
        """Return the caller's trial of the image: its place, the image's size and address, the guidance shown."""
        return Response(TrialSerializer(_own_trial(request, pk)).data)


class TrialImageApi(FileApiMixin, APIView):
    permission_classes = [IsParticipant]

    @extend_schema(responses={(200, "image/*"): OpenApiTypes.BINARY})
    def get(self, request, pk):
        """Return the bytes of the trial's image."""
        return image_file_response(request, _own_trial(request, pk).image)


class TrialSaliencyApi(FileApiMixin, APIView):
    permission_classes = [IsParticipant]

    @extend_schema(responses={(200, "image/*"): OpenApiTypes.BINARY})
    def get(self, request, pk):
        """Return the AI's saliency map of the trial's image, when the caller's condition shows it."""
        trial = _own_trial(request, pk)
        attachment = study_selectors.attachment_of(trial.image, ImageAttachment.Kind.AI_SALIENCY)
        if not trial.guidance.get("ai_saliency") or attachment is None:
            raise NotFound("This image is shown without the AI's saliency map.")
        return image_file_response(request, attachment)


def _feedback_trial(request, pk) -> Trial:
    """Return the caller's finished practice trial ``pk`` of a step that gives feedback, or 404."""
    trial = _own_trial(request, pk)
    finished = trial.status in (Trial.Status.SUBMITTED, Trial.Status.TIMED_OUT)
    if trial.kind != Trial.Kind.PRACTICE or not trial.step.config.get("feedback") or not finished:
        raise NotFound("Feedback is given on practice images once they are submitted.")
    return trial


class TrialFeedbackApi(APIView):
    permission_classes = [IsParticipant]

    @extend_schema(responses=FEEDBACK)
    def get(self, request, pk):
        """Return the feedback on a submitted practice image: the known answer, and the reference mask if any."""
        return Response(study_selectors.practice_feedback(_feedback_trial(request, pk)))


class TrialReferenceMaskApi(FileApiMixin, APIView):
    permission_classes = [IsParticipant]

    @extend_schema(responses={(200, "image/*"): OpenApiTypes.BINARY})
    def get(self, request, pk):
        """Return the reference mask of a submitted practice image (feedback; never of any other image)."""
        trial = _feedback_trial(request, pk)
        attachment = study_selectors.attachment_of(trial.image, ImageAttachment.Kind.REFERENCE_MASK)
        if attachment is None:
            raise NotFound("This practice image has no reference mask.")
        return image_file_response(request, attachment)


class StepExampleApi(FileApiMixin, APIView):
    permission_classes = [IsParticipant]

    @extend_schema(responses={(200, "image/*"): OpenApiTypes.BINARY})
    def get(self, request, step, name):
        """Return an example image of one of the caller's instructions steps."""
        participant = participant_of(request.user)
        own = step in participant.sequence
        found = Step.objects.select_related("study").filter(pk=step).first() if own else None
        image = study_selectors.example_image(found, name) if found is not None else None
        if image is None:
            raise NotFound(f"There is no example {name[:50]!r} in your study's instructions.")
        return image_file_response(request, image)
