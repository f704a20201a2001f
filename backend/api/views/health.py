import logging

from django.db import DatabaseError, connection
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from ..exceptions import RETRY_AFTER_SECONDS

logger = logging.getLogger(__name__)

_HEALTH = inline_serializer("Health", {"status": serializers.CharField(), "database": serializers.CharField()})


class HealthApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []

    @extend_schema(responses={200: _HEALTH, 503: OpenApiResponse(_HEALTH, description="The database does not answer.")})
    def get(self, request):
        """Return 200 when the database answers, 503 when it does not."""
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
        except DatabaseError:  # unreachable, restarting, misconfigured
            # The reason goes to the log, not to anonymous callers: it can name hosts and ports.
            logger.exception("health check: the database does not answer")
            return Response(
                {"status": "error", "database": "unavailable"},
                status=503,
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        return Response({"status": "ok", "database": "ok"})
