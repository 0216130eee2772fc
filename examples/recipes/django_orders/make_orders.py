"""Creates a few orders and reads them back in id order (which is the order they were made)."""

import django

django.setup()

from orders.models import Order  # noqa: E402

from atomic_counter import Layout  # noqa: E402
from atomic_counter.django import fleet_counter  # noqa: E402

made = [Order.objects.create(item=f"item {i}") for i in range(3)]
back = list(Order.objects.order_by("id"))
print(
    [o.item for o in back] == ["item 0", "item 1", "item 2"],
    # drawn on the node this process leased
    Layout.INT64.decode(back[0].id).node == fleet_counter().node,
)
