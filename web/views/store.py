"""The bonus store (/store/): what points buy, the member's balance, a form per item, and the ledger.

Purchases go through tracker.policy.bonus.store_buy, the service
POST /api/store/purchase calls; its refusals (not enough points, no warning
to clear) come back as messages above the page.
"""

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from core.errors import Conflict, Invalid
from core.listing import page_of
from tracker.policy.bonus import QUANTITY_MAX, STORE_ITEMS, StoreOffer, ledger_entries, store_buy, store_offers, warnings_active
from web.access import member_required
from web.errors import form_add_domain_error
from web.forms import PlainLabels
from web.views.standing import page_number

LEDGER_ROWS = 25


class StoreBuyForm(PlainLabels, forms.Form):
    """How many of one store item to buy (the item is the form's: one form per item on the page)."""

    quantity = forms.IntegerField(min_value=1, max_value=QUANTITY_MAX, initial=1)


def _form_for(offer: StoreOffer, data: Any = None) -> StoreBuyForm:
    # Each item's form has its own ids, so every quantity box has its own label.
    return StoreBuyForm(data, auto_id=f"id_{offer.item}_%s")


@member_required
@never_cache  # the member's balance and ledger
@require_http_methods(["GET", "POST"])
def store(request: HttpRequest) -> HttpResponseBase:
    """GET /store/: items, balance and ledger (?page=); POST item=<item>&quantity=<n>: buy it, then back here with a message."""
    offers = store_offers()
    if request.method == "GET":
        return _render_store(request, offers)
    offer = next((o for o in offers if o.item == request.POST.get("item")), None)
    if offer is None:
        messages.error(request, f"No such item in the store. Items: {', '.join(STORE_ITEMS)}.")
        return redirect("web:store")
    form = _form_for(offer, request.POST)
    if form.is_valid():
        try:
            purchase = store_buy(user=request.user, item=offer.item, quantity=form.cleaned_data["quantity"])  # type: ignore[arg-type]
        except Conflict as exc:  # InsufficientPoints, or no active warning to clear: nothing was bought
            messages.error(request, exc.message)
            return redirect("web:store")
        except Invalid as exc:
            form_add_domain_error(form, exc, default_field="quantity")
        else:
            messages.success(
                request,
                f"Bought {purchase.quantity} x {offer.name} for {purchase.price} points. "
                f"Your balance is {purchase.user.bonus_points} points.",
            )
            return redirect("web:store")
    return _render_store(request, offers, bound=form, bound_item=offer.item, status=422)


def _render_store(
    request: HttpRequest, offers: list[StoreOffer], *, bound: StoreBuyForm | None = None, bound_item: str = "", status: int = 200
) -> HttpResponse:
    user = request.user
    entries = ledger_entries(user=user)  # type: ignore[arg-type]
    context = {
        "items": [(offer, bound if offer.item == bound_item else _form_for(offer)) for offer in offers],
        "balance": user.bonus_points,  # type: ignore[union-attr]
        "freeleech_tokens": user.freeleech_tokens,  # type: ignore[union-attr]
        "active_warnings": warnings_active(user=user).count(),  # type: ignore[arg-type]
        "invites": user.invites,  # type: ignore[union-attr]
        "ledger": page_of(entries, page=page_number(request), per_page=LEDGER_ROWS),
        "nav": "store",
    }
    return render(request, "web/store.html", context, status=status)
