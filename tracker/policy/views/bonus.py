"""GET /api/me/ledger, GET /api/store, POST /api/store/purchase, POST /api/torrents/{id}/freeleech-token.

Logged-in members only. Writes are counted against the API's per-minute
budget like every request (api.throttling) and need the CSRF token when
sent with the session cookie (DRF's SessionAuthentication).
"""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from api.pagination import list_query, page_response
from core.listing import page_of
from tracker.policy.bonus import LEDGER_LIST, QUANTITY_MAX, ledger_entries, store_buy, store_offers, token_spend, warnings_active
from tracker.policy.serializers.bonus import (
    LedgerEntrySerializer,
    PurchaseRequestSerializer,
    PurchaseSerializer,
    StoreSerializer,
    TokenUseSerializer,
)


def _member(request: Request) -> User:
    user = request.user
    assert isinstance(user, User)  # IsAuthenticated
    return user


class LedgerView(APIView):
    """The caller's bonus points ledger: every earning and spending, newest first (their balance is the sum)."""

    permission_classes = [IsAuthenticated]
    list_specs = {"get": LEDGER_LIST}

    @extend_schema(responses=LedgerEntrySerializer(many=True))
    def get(self, request: Request) -> Response:
        query = list_query(request, LEDGER_LIST)
        entries = ledger_entries(user=_member(request)).order_by(*query.ordering(LEDGER_LIST))
        page = page_of(entries, page=query.page, per_page=query.per_page)
        return page_response(page, LedgerEntrySerializer(page.items, many=True).data)


class StoreView(APIView):
    """The bonus store: its items and prices, the caller's balance, tokens and active warnings."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=StoreSerializer)
    def get(self, request: Request) -> Response:
        member = _member(request)
        store = {
            "items": [offer._asdict() for offer in store_offers()],
            "balance": member.bonus_points,
            "freeleech_tokens": member.freeleech_tokens,
            "active_warnings": warnings_active(user=member).count(),
            "invites": member.invites,
            "max_quantity": QUANTITY_MAX,
        }
        return Response(StoreSerializer(store).data)


class StorePurchaseView(APIView):
    """Buy upload credit (GiB), freeleech tokens, the clearing of hit-and-run warnings or invites with bonus points; 201."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=PurchaseRequestSerializer,
        responses={
            201: PurchaseSerializer,
            409: OpenApiResponse(
                description="The points do not cover the purchase (INSUFFICIENT_POINTS); no active warning to clear, "
                "or an invite while registration is not by invite (CONFLICT)"
            ),
        },
    )
    def post(self, request: Request) -> Response:
        serializer = PurchaseRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        purchase = store_buy(user=_member(request), **serializer.validated_data)
        return Response(PurchaseSerializer(purchase).data, status=201)


class FreeleechTokenView(APIView):
    """Spend one freeleech token on a torrent: the caller's download of it counts nothing for the policy's token hours; 201."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=None,
        responses={
            201: TokenUseSerializer,
            409: OpenApiResponse(description="A token is running on this torrent already, it is gold, or no tokens are left (CONFLICT)"),
        },
    )
    def post(self, request: Request, pk: str) -> Response:
        use = token_spend(user=_member(request), torrent=pk)
        return Response(TokenUseSerializer(use).data, status=201)
