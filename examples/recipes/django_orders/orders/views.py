import json

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_POST

from .models import Order


@require_POST
def create_orders(request: HttpRequest) -> HttpResponse:
    """POST {"items": ["...", ...]}: one order per item, in one INSERT. The ids go back as
    strings: JSON numbers are exact only below 2**53, and these ids are far above it."""
    items = json.loads(request.body)["items"]
    orders = Order.objects.bulk_create([Order(item=str(item)) for item in items])
    return JsonResponse({"ids": [str(order.id) for order in orders]})
