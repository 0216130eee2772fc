from django.urls import path
from orders.views import create_orders

urlpatterns = [path("orders", create_orders)]
