from django.db import models

from .ids import next_order_id


class Order(models.Model):
    id = models.BigIntegerField(primary_key=True, default=next_order_id, editable=False)
    item = models.CharField(max_length=40)
    made = models.DateTimeField(auto_now_add=True)
