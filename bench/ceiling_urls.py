"""EyeTagger's URLs plus ``POST /api/bench/ceiling/``: the least a write through the stack costs.

The ceiling of bench/save_load.py. The view is a plain DRF view with the API's default
authentication and permission classes (token, then session; ``HasRole``), so a request costs the
same authentication queries as a save; it inserts one row into ``bench_ceiling_row`` (created by
bench/save_load.py, ``CEILING_TABLE_SQL``) and answers its id as JSON. Loaded only through
bench/ceiling_settings.py, never by the production URLconf.
"""

import gc
import threading
import time

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


_collecting = threading.local()


def _gc_time(phase, info):
    """Add each collection's CPU time to the thread that ran it (collections run in the thread that triggers them)."""
    if phase == "start":
        _collecting.started = time.thread_time()
    else:
        _collecting.total = getattr(_collecting, "total", 0.0) + time.thread_time() - _collecting.started


gc.callbacks.append(_gc_time)


class ThreadCpuMiddleware:
    """Answer the request's CPU time in its thread (X-Bench-CPU-ms) and the collector's part (X-Bench-GC-ms).

    Only Django's share of the request: Gunicorn's parsing of the request and writing of the
    answer come before and after it.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        cpu, collected = time.thread_time(), getattr(_collecting, "total", 0.0)
        response = self.get_response(request)
        response["X-Bench-CPU-ms"] = f"{(time.thread_time() - cpu) * 1000:.3f}"
        response["X-Bench-GC-ms"] = f"{(getattr(_collecting, 'total', 0.0) - collected) * 1000:.3f}"
        return response


urlpatterns = [path("api/bench/ceiling/", CeilingApi.as_view(), name="bench-ceiling"), *production_urlpatterns]
