"""Signing in and out: session with CSRF for the SPA, tokens for scripts."""

from django.contrib.auth import authenticate, login, logout
from django.middleware.csrf import get_token
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import ensure_csrf_cookie
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle, ScopedRateThrottle
from rest_framework.views import APIView

from .. import services
from ..serializers import LoginSerializer, MeSerializer, TokenSerializer
from ..token_models import ApiToken


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
    """Get a new API token for scripts, this sign-in's own: send it as ``Authorization: Token <auth_token>``."""

    @extend_schema(request=LoginSerializer, responses=TokenSerializer)
    def post(self, request):
        user = _authenticate(request, request.data)
        token = services.api_token_sign_in(user=user, name=_sign_in_name(request))
        return Response({"auth_token": token.key})


def _sign_in_name(request) -> str:
    """Name a sign-in's token after where it came from, for the admin's list of tokens."""
    agent = request.META.get("HTTP_USER_AGENT", "")[:80] or "no user agent"
    address = BaseThrottle().get_ident(request)  # the client's, behind NUM_PROXIES proxies too
    return f"signed in from {address} ({agent})"


class TokenLogoutApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={204: None})
    def post(self, request):
        """Revoke the token this request is signed with; the user's other tokens keep working."""
        if isinstance(request.auth, ApiToken):
            services.api_token_revoke(token=request.auth)
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
