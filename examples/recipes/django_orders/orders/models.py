from django.db import models

from atomic_counter.django import FleetIdField


class Order(models.Model):
    # A bigint primary key drawn in Python from settings.ATOMIC_COUNTER's FleetCounter: unique
    # across every process and host, in the order the orders were made.
    id = FleetIdField(primary_key=True)
    item = models.CharField(max_length=40)
    made = models.DateTimeField(auto_now_add=True)
