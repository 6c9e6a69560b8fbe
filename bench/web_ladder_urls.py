"""The rungs of bench/web_ladder.py below the real endpoints, on top of bench/web_load_urls.py (the minimal view
and the product's URLs): a DRF view answering a constant through the API's own authentication, permission and
throttle, and the same with one ORM query."""
from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView

from tasks_app.models import Task
from tasks_app.roles import VIEWER
from web_load_urls import urlpatterns as load_urlpatterns


class Constant(APIView):
    """DRF with the settings' authentication (API key), RolePermission and KeyThrottle; no database of its own."""

    required_roles = {"get": VIEWER}

    def get(self, request):
        return Response({"ok": True})


class OneQuery(Constant):
    def get(self, request):
        return Response({"task_id": Task.objects.filter(task_id=request.query_params.get("task_id", ""))
                         .values_list("task_id", flat=True).first()})


urlpatterns = [path("bench/drf-constant", Constant.as_view()), path("bench/drf-one-query", OneQuery.as_view()),
               *load_urlpatterns]
