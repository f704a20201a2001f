"""The REST API: thin views that validate input, call a service or selector, and serialize the output."""

from django.contrib.auth import authenticate, login, logout
from django.db import DatabaseError, connection
from django.middleware.csrf import get_token
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import ensure_csrf_cookie
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status, viewsets
from rest_framework.authentication import SessionAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.decorators import action
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from . import selectors, services
from .filters import AnnotationFilter, ImageFilter
from .files import image_file_response
from .models import Annotation
from .permissions import CanAnnotate
from .serializers import (
    AnnotationSerializer,
    AnnotationSummarySerializer,
    AnnotationWriteSerializer,
    DatasetSerializer,
    ImageSerializer,
    LoginSerializer,
    MeSerializer,
    TokenSerializer,
)

ProgressSerializer = inline_serializer("Progress", {"done": serializers.IntegerField(), "total": serializers.IntegerField()})
NextSerializer = inline_serializer("NextImage", {"image": ImageSerializer(allow_null=True), "progress": ProgressSerializer})


class DatasetViewSet(viewsets.ReadOnlyModelViewSet):
    """Datasets the caller may see, each with the caller's progress."""

    serializer_class = DatasetSerializer

    def get_queryset(self):
        return selectors.dataset_list(user=self.request.user)

    @extend_schema(responses=NextSerializer)
    @action(detail=True)
    def next(self, request, pk=None):
        """Return the image the caller should annotate next (null when done) and their progress."""
        dataset = self.get_object()
        image = selectors.next_image_for(dataset=dataset, user=request.user)
        return Response({
            "image": ImageSerializer(image, context=self.get_serializer_context()).data if image else None,
            "progress": selectors.dataset_progress(dataset=dataset, user=request.user),
        })


class ImageViewSet(viewsets.ReadOnlyModelViewSet):
    """Images of the datasets the caller may see; ``?dataset=`` narrows to one dataset."""

    serializer_class = ImageSerializer
    filterset_class = ImageFilter

    def get_queryset(self):
        return selectors.image_list(user=self.request.user)

    @extend_schema(responses={(200, "image/*"): OpenApiTypes.BINARY})
    @action(detail=True)
    def file(self, request, pk=None):
        """Return the image's bytes."""
        return image_file_response(request, self.get_object())

    @extend_schema(methods=["GET"], responses=AnnotationSerializer)
    @extend_schema(methods=["PUT"], request=AnnotationWriteSerializer,
                   responses={200: AnnotationSerializer, 201: AnnotationSerializer})
    @action(detail=True, methods=["get", "put"], permission_classes=[CanAnnotate])
    def annotation(self, request, pk=None):
        """Get or save the caller's own annotation of this image (version 0: nothing saved yet)."""
        image = self.get_object()
        if request.method == "GET":
            annotation = selectors.annotation_for(image=image, user=request.user)
            empty = Annotation(image=image, annotator=request.user, version=0, started_at=None)
            return Response(AnnotationSerializer(annotation or empty).data)
        body = AnnotationWriteSerializer(data=request.data, context={"image": image, "request": request})
        body.is_valid(raise_exception=True)
        document = body.validated_data
        annotation, changed = services.annotation_save(
            image=image,
            annotator=request.user,
            content=services.AnnotationContent(
                strokes=document["strokes"], label=document["label"], text=document["text"], status=document["status"]
            ),
            base_version=document["version"],
            started_at=document.get("started_at"),
            active_ms=document.get("active_ms"),
            client=document.get("client"),
        )
        created = changed and annotation.version == 1
        return Response(AnnotationSerializer(annotation).data, status=201 if created else 200)


class AnnotationViewSet(viewsets.ReadOnlyModelViewSet):
    """Annotations: the caller's own for annotators, everyone's for researchers and admins.

    The list leaves out the strokes; fetch one annotation for its whole strokes document.
    """

    filterset_class = AnnotationFilter

    def get_queryset(self):
        return selectors.annotation_list(user=self.request.user)

    def get_serializer_class(self):
        return AnnotationSummarySerializer if self.action == "list" else AnnotationSerializer

    def filter_queryset(self, queryset):
        if self.action == "list":
            queryset = queryset.defer("strokes", "mask_rle", "client")
        return super().filter_queryset(queryset)


# --- Authentication ------------------------------------------------------------------


def _authenticate(request, data):
    """Return the user these credentials sign in, or raise AuthenticationFailed."""
    credentials = LoginSerializer(data=data)
    credentials.is_valid(raise_exception=True)
    user = authenticate(request, **credentials.validated_data)
    if user is None:
        raise AuthenticationFailed("Unable to sign in with this username and password.", code="invalid_credentials")
    return user


class LoginApi(APIView):
    """Sign in with a session (the SPA). Send the csrftoken cookie's value as X-CSRFToken."""

    permission_classes = [AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "login"  # against password guessing; the rate is LOGIN_THROTTLE_RATE

    @extend_schema(request=LoginSerializer, responses=MeSerializer)
    def post(self, request):
        # DRF only checks CSRF for requests already signed in; check it here too (login CSRF).
        SessionAuthentication().enforce_csrf(request)
        user = _authenticate(request, request.data)
        login(request, user)
        return Response(MeSerializer(user).data)


class LogoutApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={204: None})
    def post(self, request):
        """Sign out of the session."""
        logout(request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TokenLoginApi(LoginApi):
    """Get an API token for scripts: send it as ``Authorization: Token <auth_token>``."""

    @extend_schema(request=LoginSerializer, responses=TokenSerializer)
    def post(self, request):
        user = _authenticate(request, request.data)
        token, _ = Token.objects.get_or_create(user=user)
        return Response({"auth_token": token.key})


class TokenLogoutApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={204: None})
    def post(self, request):
        """Revoke the caller's API token."""
        Token.objects.filter(user=request.user).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


@method_decorator(ensure_csrf_cookie, name="dispatch")
class MeApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=MeSerializer)
    def get(self, request):
        """Return the signed-in user and their role."""
        return Response(MeSerializer(request.user).data)


@method_decorator(ensure_csrf_cookie, name="dispatch")
class CsrfApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []

    @extend_schema(responses=inline_serializer("Csrf", {"csrf_token": serializers.CharField()}))
    def get(self, request):
        """Set the csrftoken cookie and return its value, for signing in from a fresh page."""
        return Response({"csrf_token": get_token(request)})


class HealthApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []

    @extend_schema(responses=inline_serializer("Health", {"status": serializers.CharField(),
                                                          "database": serializers.CharField()}))
    def get(self, request):
        """Return 200 when the database answers, 503 when it does not."""
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
        except DatabaseError as error:  # unreachable, restarting, misconfigured: say which
            return Response({"status": "error", "database": f"error: {error}"}, status=503)
        return Response({"status": "ok", "database": "ok"})
