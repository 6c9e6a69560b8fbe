"""STUB: the API engineer implements the API routes."""
urlpatterns = []
