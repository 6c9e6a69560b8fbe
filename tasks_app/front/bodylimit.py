"""The cap on request bodies, for every way in (pages, admin, API): a request that announces a body of
REQUEST_MAX_BODY_BYTES or more is refused with 413 before anything reads it, its answer naming the limit (JSON under
/api/, a small page elsewhere). Django's own DATA_UPLOAD_MAX_MEMORY_SIZE only guards form parsing: the API's JSON
parser reads the body as a stream. The web server `serve` starts (waitress) stops longer bodies too, chunked
ones included (waitress refuses a body that reaches its max_request_body_size, hence "under" the limit here too)."""
from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.utils.html import escape


def too_large_message(length: int) -> str:
    limit = settings.REQUEST_MAX_BODY_BYTES
    return (f"Request body too large: {length} bytes; bodies must be under {limit} bytes ({limit / 1048576:g} MiB, "
            f"REQUEST_MAX_BODY_BYTES).")


class RequestBodyLimitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0  # Django reads a malformed length as no body at all
        if length >= settings.REQUEST_MAX_BODY_BYTES:
            message = too_large_message(length)
            if request.path.startswith("/api/"):
                response = JsonResponse({"detail": message}, status=413)
            else:
                response = HttpResponse(f"<!doctype html><title>Request too large</title><h1>Request too large</h1>"
                                        f"<p>{escape(message)}</p>", status=413)
            return response
        return self.get_response(request)
