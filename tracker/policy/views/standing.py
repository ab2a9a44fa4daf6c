"""GET /api/me/standing (the member's standing in one call), GET /api/members/watch (moderators: who is on ratio watch)."""

from datetime import timedelta

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.pagination import list_query, page_response
from core.errors import Forbidden
from core.listing import ListSpec, page_of
from tracker.policy.members import member_standing, members_on_watch
from tracker.policy.serializers.standing import StandingSerializer, WatchMemberSerializer
from tracker.policy.standing import ratio_text, required_ratio, watch_ended
from tracker.swarm.lookups import cached_policy

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
        rules = cached_policy()
        moment = timezone.now()
        rows = [
            {
                "id": m.pk,
                "username": m.username,
                "uploaded": m.uploaded,
                "downloaded": m.downloaded,
                "ratio": ratio_text(m.uploaded, m.downloaded),
                "required_ratio": f"{required_ratio(m.downloaded, rules.ratio_bands) / 100:.2f}",
                "watch_since": m.ratio_watch_since,
                "watch_ends": m.ratio_watch_since + timedelta(days=rules.watch_days),
                "can_download": not watch_ended(
                    uploaded=m.uploaded, downloaded=m.downloaded, watch_since=m.ratio_watch_since, now=moment,
                    bands=rules.ratio_bands, watch_days=rules.watch_days,
                ),
            }
            for m in page.items
        ]  # fmt: skip
        return page_response(page, WatchMemberSerializer(rows, many=True).data)
