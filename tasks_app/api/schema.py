"""OpenAPI details drf-spectacular cannot infer: the Bearer key scheme and the JSON errors every operation may
answer with, so that a client (or schemathesis) finds each status code it can receive documented."""
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    """{"detail": "..."}, or for invalid input {"<field or parameter>": ["message", ...], ...}."""

    detail = serializers.CharField(required=False)


# Both an execution and a task have a "status" with different values: name the two enums.
CUSTOM_SETTINGS = {
    "ENUM_NAME_OVERRIDES": {
        "ExecutionStatusEnum": "tasks_app.models.ExecutionStatus",
        "TaskStateEnum": [("running", "running"), ("idle", "idle"), ("disabled", "disabled")],
    },
}

ERROR_DESCRIPTIONS = {
    "400": "Invalid input: the body names each field (or query parameter) and what is wrong with it",
    "401": "No credentials, or an unknown, malformed, revoked or expired API key",
    "403": "Your role may not do this",
    "404": "No such task, execution, backup or page",
    "405": "Method not allowed",
    "406": "Not acceptable",
    "409": "Conflict",
    "413": "The request body is larger than the limit (REQUEST_MAX_BODY_BYTES), which the answer names",
    "415": "Unsupported media type: send application/json",
    "429": "Too many requests (per key, or without credentials per address), or too many invalid API keys from "
           "your address: the Retry-After header says when to try again",
}


class ApiAutoSchema(AutoSchema):
    # Operations that answer with one more error status.
    extra_error_codes = {}

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        codes = ["400", "401", "403", "404", "405", "406", "429"]
        if self.method in ("POST", "PUT", "PATCH"):
            codes += ["413", "415"]
        codes += getattr(self.view, "extra_error_codes", {}).get(getattr(self.view, "action", None), [])
        for code in codes:
            if code not in responses:
                responses[code] = self._get_response_for_code(ErrorSerializer, code, direction=direction)
                responses[code]["description"] = ERROR_DESCRIPTIONS[code]
        return responses


class BearerKeyScheme(OpenApiAuthenticationExtension):
    target_class = "tasks_app.api.authentication.BearerKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key: `Authorization: Bearer <key>`. Create one with "
            "`python manage.py create_api_key --user NAME` or in the admin.",
        }


_TYPES = {int: {"type": "integer"}, bool: {"type": "boolean"}, str: {"type": "string"},
          OpenApiTypes.DATETIME: {"type": "string", "format": "date-time"}}


def query(name, type_=str, description="", enum=None, required=False, minimum=None, maximum=None, max_length=None):
    """A query parameter with its bounds in the schema, so clients (and schemathesis) know the valid range."""
    schema = dict(_TYPES[type_])
    if enum is not None:
        schema["enum"] = list(enum)
    for key, value in (("minimum", minimum), ("maximum", maximum), ("maxLength", max_length)):
        if value is not None:
            schema[key] = value
    return OpenApiParameter(name, schema, OpenApiParameter.QUERY, required=required, description=description)


class ApiSchemaGenerator(SchemaGenerator):
    """Publishes the paths without a trailing slash (/api/tasks/{task_id}), as docs/api.md writes them; both
    forms work."""

    def get_schema(self, request=None, public=False):
        schema = super().get_schema(request, public)
        schema["paths"] = {
            (path.rstrip("/") if path.count("/") > 2 and not path.endswith("/schema/") else path): item
            for path, item in schema["paths"].items()
        }
        return schema
