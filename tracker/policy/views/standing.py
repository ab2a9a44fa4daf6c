"""GET /api/me/standing (the member's standing in one call), GET /api/members/watch (moderators: who is on ratio watch)."""

from drf_spectacular.utils import extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.pagination import list_query, page_response
from core.errors import Forbidden
from core.listing import ListSpec, page_of
from tracker.policy.members import member_standing, members_on_watch, watch_rows
from tracker.policy.serializers.standing import StandingSerializer, WatchMemberSerializer

WATCH_LIST = ListSpec(
    sorts={"watch_since": "ratio_watch_since", "username": "username", "downloaded": "downloaded"}, default_sort="watch_since"
)


class StandingView(APIView):
    """The caller's standing: ratio and requirement, watch, slots, hit-and-runs, warnings, points and tokens."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=StandingSerializer)
    def get(self, request: Request) -> Response:
        response = Response(StandingSerializer(member_standing(request.user)._asdict()).data)
        response["Cache-Control"] = "no-store"
        return response


class WatchListView(APIView):
    """Members on ratio watch (moderators only), the longest-running watch first."""

    permission_classes = [IsAuthenticated]
    list_specs = {"get": WATCH_LIST}

    @extend_schema(responses=WatchMemberSerializer(many=True))
    def get(self, request: Request) -> Response:
        if not getattr(request.user, "is_moderator", False):
            raise Forbidden("Only moderators may see who is on ratio watch.")
        query = list_query(request, WATCH_LIST)
        page = page_of(members_on_watch().order_by(*query.ordering(WATCH_LIST)), page=query.page, per_page=query.per_page)
        rows = watch_rows(page.items)
        return page_response(page, WatchMemberSerializer(rows, many=True).data)
