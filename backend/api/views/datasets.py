"""Datasets the caller may see, the next image to annotate, and progress."""

from django.http import Http404
from django.utils.functional import cached_property
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from .. import selectors, services
from ..permissions import CanTakeImages
from ..serializers import (
    AheadQuerySerializer,
    DatasetProgressSerializer,
    DatasetSerializer,
    NextSerializer,
    handout_data,
)

AHEAD_PARAMETER = OpenApiParameter(
    "ahead",
    int,
    description="Also lease and return up to this many further images (0 to 20; default 0), in queue order, "
    "to work on while the server cannot be reached. They count towards targets like any lease, are renewed by "
    "every `next`, and never take the caller past their expected share.",
)


class DatasetViewSet(viewsets.ReadOnlyModelViewSet):
    """Datasets the caller may see, each with the caller's progress."""

    serializer_class = DatasetSerializer

    def get_queryset(self):
        if self.action in ("list", "retrieve"):
            return selectors.dataset_list(user=self.request.user)
        return selectors.visible_datasets(user=self.request.user)

    def get_object(self):
        if self.action != "next":
            return super().get_object()
        # The hand-out's dataset in one raw query (see selectors.visible_dataset), 404 as get_object's.
        dataset = selectors.visible_dataset(user=self.request.user, pk=self.kwargs["pk"])
        if dataset is None:
            raise Http404
        self.check_object_permissions(self.request, dataset)
        return dataset

    @cached_property
    def _eligible_everyone(self) -> int:
        return selectors.eligible_annotator_count(None)

    def get_serializer_context(self):
        # Counted once per request: the number of annotators a dataset open to everyone shares its work among.
        return {**super().get_serializer_context(), "eligible_everyone": lambda: self._eligible_everyone}

    @extend_schema(responses=NextSerializer, parameters=[AHEAD_PARAMETER])
    @action(detail=True, permission_classes=[CanTakeImages])
    def next(self, request, pk=None):
        """Hand the caller the image to annotate now, reserved for them for the dataset's lease (null when done).

        Their leased or draft image first (a reload or a second device gets the same image),
        else a new one: furthest from its target, first in their own order. With ``?ahead=k``,
        up to k further images leased to them in `ahead`.
        """
        ahead = AheadQuerySerializer.read(request)
        dataset = self.get_object()
        handout = services.queue_next(dataset=dataset, annotator=request.user, ahead=ahead)
        progress = selectors.handout_progress(handout=handout, dataset=dataset)
        return Response(handout_data(handout, progress=progress, dataset=dataset, request=request))

    @extend_schema(responses=DatasetProgressSerializer)
    @action(detail=True)
    def progress(self, request, pk=None):
        """Progress per annotator (done, skipped, in progress, time spent) and of the whole dataset.

        Researchers and admins see every annotator and the dataset's figures (test users left
        out of them); an annotator sees only their own row.
        """
        dataset = self.get_object()
        return Response(selectors.dataset_progress(dataset=dataset, user=request.user))
