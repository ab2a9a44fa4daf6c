"""Shapes of the bonus points API: the ledger, the store, a purchase and a spent freeleech token."""

from typing import Any

from rest_framework import serializers

from tracker.policy.bonus import QUANTITY_MAX, STORE_ITEMS
from tracker.policy.models import LedgerEntry, LedgerKind, TokenUse


def points_field(**kwargs: Any) -> serializers.DecimalField:
    """A number of points as the ledger keeps it: a decimal string with 2 places ("12.50")."""
    return serializers.DecimalField(max_digits=14, decimal_places=2, **kwargs)


class LedgerEntrySerializer(serializers.ModelSerializer):
    """One earning (positive) or spending (negative) of points; `period` is the hour a seeding row pays for."""

    amount = points_field(help_text="Points, as a decimal string: earned (positive) or spent (negative).")
    kind = serializers.ChoiceField(choices=LedgerKind.choices)

    class Meta:
        model = LedgerEntry
        fields = ["id", "amount", "kind", "period", "note", "created_at"]
        read_only_fields = fields


class StoreItemSerializer(serializers.Serializer):
    item = serializers.ChoiceField(choices=list(STORE_ITEMS))
    name = serializers.CharField(help_text="What one unit is.")
    price = serializers.IntegerField(min_value=0, help_text="Points for one unit.")


class StoreSerializer(serializers.Serializer):
    """The store as a member sees it: what it sells, and what they have to spend."""

    items = StoreItemSerializer(many=True)
    balance = points_field()
    freeleech_tokens = serializers.IntegerField(min_value=0)
    active_warnings = serializers.IntegerField(min_value=0, help_text="Hit-and-run warnings the `warning` item could clear.")
    invites = serializers.IntegerField(min_value=0, help_text="Invites the member may send (the `invite` item adds to them).")
    max_quantity = serializers.IntegerField(help_text="The most units one purchase may buy.")


class PurchaseRequestSerializer(serializers.Serializer):
    item = serializers.ChoiceField(choices=list(STORE_ITEMS))
    quantity = serializers.IntegerField(min_value=1, max_value=QUANTITY_MAX, default=1)


class PurchaseSerializer(serializers.Serializer):
    """A purchase done: what it cost and the member's figures after it."""

    item = serializers.CharField(source="entry.kind")
    quantity = serializers.IntegerField()
    price = points_field(help_text="The points spent.")
    balance = points_field(source="user.bonus_points")
    freeleech_tokens = serializers.IntegerField(source="user.freeleech_tokens")
    uploaded = serializers.IntegerField(source="user.uploaded")
    invites = serializers.IntegerField(source="user.invites")
    entry = LedgerEntrySerializer()


class TokenUseSerializer(serializers.ModelSerializer):
    """A freeleech token running on a torrent: the member's download of it counts nothing until `expires_at`."""

    torrent = serializers.IntegerField(source="torrent_id")
    freeleech_tokens = serializers.IntegerField(source="user.freeleech_tokens", help_text="Tokens the member has left.")

    class Meta:
        model = TokenUse
        fields = ["torrent", "created_at", "expires_at", "freeleech_tokens"]
        read_only_fields = fields
