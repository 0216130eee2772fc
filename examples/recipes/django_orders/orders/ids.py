"""The order ids: one SnowflakeCounter for the process, and the module-level function that a
migration can name (``orders.ids.next_order_id``)."""

from atomic_counter import Layout, SnowflakeCounter

# In a fleet, take the node from lease_node_id(...) when the process starts.
ORDER_IDS = SnowflakeCounter(Layout.INT64, node=5)


def next_order_id() -> int:
    return ORDER_IDS.next()
