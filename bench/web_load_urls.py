"""The product's URLs plus /bench/minimal: the baseline of bench/web_load.py, a Django view that answers a constant
and touches no database, behind the product's whole middleware stack."""
from django.http import HttpResponse
from django.urls import include, path


def minimal(request):
    return HttpResponse(b"ok", content_type="text/plain")


urlpatterns = [path("bench/minimal", minimal), path("", include("scheduler_site.urls"))]
