"""Every API error is JSON: DRF's own errors, the loader's validation errors, bad query parameters, unknown
paths and crashes."""
import logging

from django.core.exceptions import ObjectDoesNotExist, ValidationError as DjangoValidationError
from django.db import IntegrityError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from tasks_app.definition.loader import TaskValidationError
from tasks_app.params import ParamError

logger = logging.getLogger("APIInterface")


def json_exception_handler(exc, context):
    if isinstance(exc, (TaskValidationError, ParamError)):
        exc = exceptions.ValidationError(exc.errors)
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    elif isinstance(exc, ObjectDoesNotExist):
        exc = exceptions.NotFound(f"Not found: {exc}")  # e.g. deleted by someone else during this request
    elif isinstance(exc, IntegrityError):
        # Two changes raced (the services turn the known cases into validation errors first).
        logger.warning("Conflicting change refused: %s", exc)
        return Response({"detail": "This change conflicts with another one made at the same time; try again."},
                        status=status.HTTP_409_CONFLICT)
    response = exception_handler(exc, context)
    if response is None:
        request = context.get("request")
        logger.exception("Unexpected error on %s %s", getattr(request, "method", "?"), getattr(request, "path", "?"))
        return Response({"detail": "Internal server error."}, status=status.HTTP_500_INTERNAL_SERVER_ERROR)
    if isinstance(response.data, list):
        response.data = {"non_field_errors": response.data}
    return response
