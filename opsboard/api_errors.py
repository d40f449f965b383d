"""How the REST API refuses a request, and the OpenAPI entries that say so.

DRF answers its own refusals as JSON (``{"detail": …}``, or each invalid field with what is
wrong with it). Two gaps remain, both closed here: a URL under /api/ that matches no route (an
id that is not a UUID) reached Django's HTML 404 page, and the schema documented only the
successes, so clients could not know the 400, 401, 403, 404 and 415 an operation can answer.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults

API_PREFIX = "/api/"


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """``handler404``: JSON in DRF's shape under /api/, the HTML page elsewhere."""
    if request.path.startswith(API_PREFIX):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)


REFUSAL = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}
INVALID_REQUEST = {
    "type": "object",
    "description": "Each invalid field with a list of what is wrong with it, or ``error`` naming the problem.",
    "additionalProperties": {},
}


def document_refusals(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: adds the refusals an operation can answer to those
    its view documents itself (a view's own entry, e.g. the Prometheus error shape, wins)."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("Refusal", REFUSAL)
    schemas.setdefault("InvalidRequest", INVALID_REQUEST)
    for path, operations in result.get("paths", {}).items():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for code, response in _refusals(path, operation).items():
                responses.setdefault(code, response)
    return result


def _refusals(path: str, operation: dict[str, Any]) -> dict[str, dict[str, Any]]:
    refusals = {}
    if "requestBody" in operation or any(p.get("in") == "query" for p in operation.get("parameters", [])):
        refusals["400"] = _json("The request cannot be used; the body says what is wrong", "InvalidRequest")
    if "requestBody" in operation:
        refusals["415"] = _json("The body's media type is not one the operation reads", "Refusal")
    if operation.get("security"):
        refusals["401"] = _json("No credentials, or an unknown or revoked API token", "Refusal")
        refusals["403"] = _json("The caller's role or the token's scopes do not allow this", "Refusal")
    if "{" in path:
        refusals["404"] = _json("Nothing has this id", "Refusal")
    return refusals


def _json(description: str, component: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{component}"}}},
    }
