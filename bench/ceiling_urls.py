"""EyeTagger's URLs plus ``POST /api/bench/ceiling/``: the least a write through the stack costs.

The ceiling of bench/save_load.py. The view is a plain DRF view with the API's default
authentication and permission classes (token, then session; ``HasRole``), so a request costs the
same authentication queries as a save; it inserts one row into ``bench_ceiling_row`` (created by
bench/save_load.py, ``CEILING_TABLE_SQL``) and answers its id as JSON. Loaded only through
bench/ceiling_settings.py, never by the production URLconf.
"""

from django.db import connection, transaction
from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.urls import urlpatterns as production_urlpatterns


class CeilingApi(APIView):
    """Insert one row for the caller and answer its id."""

    def post(self, request):
        value = request.data.get("value") if isinstance(request.data, dict) else None
        if not (type(value) is int and 0 <= value < 2**31):
            value = None
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO bench_ceiling_row (user_id, value) VALUES (%s, %s) RETURNING id",
                [request.user.pk, value],
            )
            (row_id,) = cursor.fetchone()
        return Response({"id": row_id}, status=201)


urlpatterns = [path("api/bench/ceiling/", CeilingApi.as_view(), name="bench-ceiling"), *production_urlpatterns]
