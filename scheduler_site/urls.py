from django.contrib import admin
from django.urls import include, path

from tasks_app.web import health

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("healthz/scheduler", health.healthz_scheduler, name="healthz_scheduler"),
    path("admin/", admin.site.urls),
    path("api/", include("tasks_app.api.urls")),
    path("", include("tasks_app.web.urls")),
]
