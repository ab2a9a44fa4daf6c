"""The hit-and-run API: a member's requirements and warnings, moderators' pardons, cleared warnings and the members with a record.

GET /api/me/hnr, /api/users/{id}/hnr, /api/me/warnings, /api/users/{id}/warnings,
/api/hnr/members; POST /api/snatches/{id}/pardon, /api/warnings/{id}/clear.
Logged in only; the rules of who may see what are tracker.policy.hnr's.
"""

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.pagination import list_query, page_response
from core.listing import page_of
from tracker.policy import hnr
from tracker.policy.serializers.hnr import HnrEntrySerializer, HnrMemberSerializer, ReasonSerializer, WarningSerializer

_STATE = OpenApiParameter(
    "state",
    str,
    enum=list(hnr.LIST_STATES),
    description="Only requirements in this state (overdue: past the deadline, not met, before the warning).",
)


class HnrListView(APIView):
    """A member's downloads with a hit-and-run requirement: what is left to seed and by when. The member and moderators only.

    Snatches of torrents the caller may not see are left out.
    """

    permission_classes = [IsAuthenticated]
    list_specs = {"get": hnr.HNR_LIST}

    @extend_schema(parameters=[_STATE], responses=HnrEntrySerializer(many=True))
    def get(self, request: Request, pk: str | None = None, **kwargs: Any) -> Response:
        owner = hnr.member_for_viewer(viewer=request.user, pk=pk)
        query = list_query(request, hnr.HNR_LIST)
        page = hnr.hnr_page(user=owner, viewer=request.user, state=request.query_params.get("state") or None, query=query)
        return page_response(page, HnrEntrySerializer(page.items, many=True).data)


class WarningListView(APIView):
    """A member's hit-and-run warnings, active and past, newest first. The member and moderators only."""

    permission_classes = [IsAuthenticated]
    list_specs = {"get": hnr.WARNING_LIST}

    @extend_schema(responses=WarningSerializer(many=True))
    def get(self, request: Request, pk: str | None = None, **kwargs: Any) -> Response:
        owner = hnr.member_for_viewer(viewer=request.user, pk=pk)
        query = list_query(request, hnr.WARNING_LIST)
        warnings = hnr.warning_list(user=owner).order_by(*query.ordering(hnr.WARNING_LIST))
        page = page_of(warnings, page=query.page, per_page=query.per_page)
        return page_response(page, WarningSerializer(page.items, many=True, context={"now": timezone.now()}).data)


class HnrMembersView(APIView):
    """Members with a hit-and-run record, most active warnings first (search by username). Moderators only."""

    permission_classes = [IsAuthenticated]
    list_specs = {"get": hnr.HNR_MEMBERS_LIST}

    @extend_schema(responses=HnrMemberSerializer(many=True))
    def get(self, request: Request) -> Response:
        hnr.moderator_required(request.user)
        query = list_query(request, hnr.HNR_MEMBERS_LIST)
        members = hnr.members_with_hnr(now=timezone.now(), search=query.search).order_by(*query.ordering(hnr.HNR_MEMBERS_LIST))
        page = page_of(members, page=query.page, per_page=query.per_page)
        return page_response(page, HnrMemberSerializer(page.items, many=True).data)


class SnatchPardonView(APIView):
    """POST /api/snatches/{id}/pardon: a moderator forgives a hit-and-run (its active warning is cleared); 200 with the new state."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=ReasonSerializer,
        responses={
            200: HnrEntrySerializer,
            409: OpenApiResponse(description="The download has no hit-and-run requirement, or met it already"),
        },
    )
    def post(self, request: Request, pk: str) -> Response:
        hnr.moderator_required(request.user)
        snatch = hnr.snatch_get_visible(viewer=request.user, pk=pk)
        reason = ReasonSerializer(data=request.data)
        reason.is_valid(raise_exception=True)
        hnr.hnr_pardon(snatch=snatch, actor=request.user, reason=reason.validated_data["reason"])
        return Response(HnrEntrySerializer(hnr.hnr_entry_now(hnr.snatch_get_visible(viewer=request.user, pk=pk))).data)


class WarningClearView(APIView):
    """POST /api/warnings/{id}/clear: a moderator clears a warning (it stops counting at once); 200 with the warning."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=ReasonSerializer, responses=WarningSerializer)
    def post(self, request: Request, pk: str) -> Response:
        hnr.moderator_required(request.user)
        warning = hnr.warning_get(pk=pk)
        reason = ReasonSerializer(data=request.data)
        reason.is_valid(raise_exception=True)
        warning = hnr.warning_clear(warning=warning, actor=request.user, reason=reason.validated_data["reason"])
        return Response(WarningSerializer(warning, context={"now": timezone.now()}).data)
