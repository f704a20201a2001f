from django.db import DatabaseError, connection
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

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
        except DatabaseError as error:  # unreachable, restarting, misconfigured: say which
            return Response({"status": "error", "database": f"error: {error}"}, status=503)
        return Response({"status": "ok", "database": "ok"})
