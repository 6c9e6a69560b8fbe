"""Small helpers the API views share: who is asking (for the services and the APIInterface log lines)."""
import logging

from rest_framework import renderers

logger = logging.getLogger("APIInterface")
VIA = "api"


def actor_of(request):
    return request.user.get_username()


def who(request):
    """The user, and which key they used, for the APIInterface log lines (never the key itself)."""
    key = getattr(request.auth, "prefix", None)
    return f"{actor_of(request)} (key {key}…)" if key else actor_of(request)


class TextRenderer(renderers.JSONRenderer):
    """Lets a download be asked for as text or bytes; an error on such a request is still a JSON body."""

    media_type = "text/plain"
    charset = "utf-8"


class OctetRenderer(TextRenderer):
    media_type = "application/octet-stream"
    charset = None


DOWNLOAD_RENDERERS = [renderers.JSONRenderer, TextRenderer, OctetRenderer]
