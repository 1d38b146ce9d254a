"""The appliance's errors: one base class with a message fit for the user.

The CLI maps each class to an exit code and one clear line; the API maps it to an RFC 9457
``application/problem+json`` response with the same status and title.
"""

from __future__ import annotations


class ApplianceError(Exception):
    """Base of every error the appliance reports to a user."""

    exit_code = 1
    http_status = 500
    title = "Appliance error"

    def __init__(self, message: str, *, reasons: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.reasons = list(reasons or [])

    def __str__(self) -> str:
        if self.reasons:
            return f"{self.message} ({'; '.join(self.reasons)})"
        return self.message


class InvalidInput(ApplianceError):
    """The caller sent something malformed, too large or inconsistent; nothing was changed."""

    exit_code = 2
    http_status = 400
    title = "Invalid input"


class PayloadTooLarge(InvalidInput):
    """A record or upload is over the configured size limit."""

    http_status = 413
    title = "Payload too large"


class AuthenticationFailed(ApplianceError):
    """No token, or an unknown, revoked or expired one."""

    exit_code = 3
    http_status = 401
    title = "Authentication failed"


class AccessDenied(ApplianceError):
    """The policy denied the action; ``reasons`` names the rules that denied it."""

    exit_code = 4
    http_status = 403
    title = "Access denied"


class NotFound(ApplianceError):
    """The named dataset, job, model, export or user does not exist."""

    exit_code = 5
    http_status = 404
    title = "Not found"


class Conflict(ApplianceError):
    """The action does not fit the object's current state (e.g. approving an approved dataset)."""

    exit_code = 6
    http_status = 409
    title = "Conflict"


class IntegrityError(ApplianceError):
    """Stored data failed authentication or verification: it was changed, truncated or moved."""

    exit_code = 7
    http_status = 500
    title = "Integrity check failed"


class PolicyUnavailable(ApplianceError):
    """The policy engine could not decide; the appliance fails closed."""

    exit_code = 8
    http_status = 503
    title = "Policy engine unavailable"


class AuditUnavailable(ApplianceError):
    """The audit event could not be written; the access is refused (no audit, no data)."""

    exit_code = 8
    http_status = 503
    title = "Audit log unavailable"


class ConfigurationError(ApplianceError):
    """The home or its configuration is missing, unsafe or inconsistent."""

    exit_code = 9
    http_status = 500
    title = "Configuration error"
