"""Small helpers the API views share: who is asking (for the services and the APIInterface log lines)."""
import logging

from rest_framework import exceptions, renderers

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


def run_body_env(request):
    """The "env" of a run's body ({"env": {...}}: one-off task_env values), or None; a body that is not a JSON
    object is a 400 naming it."""
    data = request.data
    if data is None or data == {} or (hasattr(data, "keys") and not list(data.keys())):
        return None
    if not isinstance(data, dict):
        raise exceptions.ValidationError({"non_field_errors": ["The body must be a JSON object such as "
                                                               '{"env": {"NAME": "value"}}.']})
    unknown = sorted(set(data) - {"env"})
    if unknown:
        raise exceptions.ValidationError({name: ["Unknown field: the body takes only env."] for name in unknown})
    return data.get("env")
