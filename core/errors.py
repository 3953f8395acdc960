"""Errors with a stable code.

Every error Reppu shows to a client is a `ReppuError`: a stable machine-readable
`code`, an HTTP `status`, a `temporary` flag (may the client retry the same
request later?), a human message and optional structured `details`. Code
branches on the class or the code, never on the message. The mapping to HTTP
happens once, at the edge (`core.api.error_handler`).

    ReppuError
    ├── BadRequest          400 invalid_request      (details: list of problems)
    │   └── RosterInvalid   422 roster_invalid       (details: every bad row)
    ├── Unauthorized        401 unauthorized
    ├── Forbidden           403 forbidden
    ├── NotFound            404 not_found            (also: exists but not yours)
    ├── Conflict            409 conflict
    ├── PayloadTooLarge     413 payload_too_large
    └── Unavailable         503 unavailable          (temporary)
"""

from __future__ import annotations

from typing import Any, ClassVar


class ReppuError(Exception):
    code: ClassVar[str] = "internal_error"
    status: ClassVar[int] = 500
    temporary: ClassVar[bool] = False

    def __init__(self, message: str, *, details: Any = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        if code is not None:
            self.code = code  # type: ignore[misc]

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "code": self.code,
            "message": self.message,
            "temporary": self.temporary,
        }
        if self.details is not None:
            body["details"] = self.details
        return body


class BadRequest(ReppuError):
    code = "invalid_request"
    status = 400


class RosterInvalid(BadRequest):
    code = "roster_invalid"
    status = 422


class Unauthorized(ReppuError):
    code = "unauthorized"
    status = 401


class Forbidden(ReppuError):
    code = "forbidden"
    status = 403


class NotFound(ReppuError):
    """Not there, or not yours: the two are indistinguishable on purpose, so that
    a probe cannot learn that another family's child exists."""

    code = "not_found"
    status = 404


class Conflict(ReppuError):
    code = "conflict"
    status = 409


class PayloadTooLarge(ReppuError):
    code = "payload_too_large"
    status = 413


class Unavailable(ReppuError):
    code = "unavailable"
    status = 503
    temporary = True
