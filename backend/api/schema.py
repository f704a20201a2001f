"""The OpenAPI schema's errors: the one error shape, and the errors each operation may answer.

drf-spectacular documents what a view answers when all goes well; clients (and the fuzzing
tests, which refuse any status the schema does not name) need the refusals too. Rather than
repeat them on every view, this hook derives them from each operation: signed-in endpoints
answer 401 and 403, an id in the path or a page number 404, parameters or a body 400, a body
411, 413 and 415, signing in and enrolling 429, and all 503 while the database is away. Views declare the errors
only they answer (409; health's own 503 body) themselves.
"""

ERROR = {
    "type": "object",
    "description": "Every error: `detail` is the first problem, ready to show; `errors` lists each one.",
    "required": ["code", "detail", "errors"],
    "properties": {
        "code": {"type": "string", "description": "What went wrong, for programs: `invalid`, `not_found`, ..."},
        "detail": {"type": "string", "minLength": 1, "description": "The first problem, naming its field."},
        "errors": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["field", "code", "detail"],
                "properties": {
                    "field": {
                        "type": "string",
                        "nullable": True,
                        "description": "The field, e.g. `strokes[3].width`; null for the whole request.",
                    },
                    "code": {"type": "string"},
                    "detail": {"type": "string", "minLength": 1},
                },
            },
        },
    },
}

# For views' own extend_schema(responses=...): a response body in the error shape.
ERROR_RESPONSE = {"$ref": "#/components/schemas/Error"}

_DESCRIPTIONS = {
    400: "Invalid parameters or body; `errors` names each field.",
    401: "No credentials, or a token or session that is not valid.",
    403: "Signed in, but this role may not do this (or the CSRF token is missing).",
    404: "No such object that you may see, or no such page.",
    411: "The body was sent in chunks without a Content-Length; send a Content-Length.",
    413: "The body is larger than ANNOTATION_MAX_BODY_BYTES.",
    415: "The body is not JSON.",
    429: "Too many attempts (signing in, enrolling in a study) from this address; `detail` says when to try again.",
    503: "The database cannot be reached right now (`database_unavailable`); try again after `Retry-After`.",
}


def error_response(description: str) -> dict:
    """Return an OpenAPI response whose body is the error shape."""
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _errors_of(path: str, operation: dict) -> list[int]:
    signed_in = operation.get("security", [{}]) != [{}]  # [{}]: no authentication at all (health, csrf)
    parameters = {p["name"]: p["in"] for p in operation.get("parameters", [])}
    body = "requestBody" in operation
    statuses = []
    if "query" in parameters.values() or body:
        statuses.append(400)
    if signed_in:
        statuses += [401, 403]
    if "path" in parameters.values() or "page" in parameters:
        statuses.append(404)
    if body:
        statuses += [411, 413, 415]
    if path.endswith(("/login/", "/enrol/")):
        statuses.append(429)
    statuses.append(503)  # the database cannot be reached: try again after Retry-After (exceptions.py)
    return statuses


def add_error_responses(result, generator, request, public):
    """drf-spectacular postprocessing hook: document the error shape and each operation's errors."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR
    for path, item in result.get("paths", {}).items():
        for operation in item.values():
            responses = operation.setdefault("responses", {})
            for status in _errors_of(path, operation):
                responses.setdefault(str(status), error_response(_DESCRIPTIONS[status]))
    return result
