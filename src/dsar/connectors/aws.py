"""One reading of AWS failures for every connector that talks to AWS (``s3``, ``dynamodb``).

:func:`classify` turns what botocore raises into a :class:`Fault`; :func:`connector_error`
turns that into the engine's :class:`~dsar.domain.errors.RetryableConnectorError` or
:class:`~dsar.domain.errors.PermanentConnectorError`, with a message naming the system, the
place (``set avatars``, ``table profiles``) and the error code or exception class, never the
service's own message (it may quote a key or a value).

::

    Fault          retryable  what raised it
    CHANGED        yes        a condition failed: what was read changed meanwhile (412,
                              PreconditionFailed, ConditionalCheckFailedException)
    BUSY           yes        throttling or a server-side error: the codes botocore's standard
                              retry mode treats as throttled or transient, 429, any 5xx but 501
    UNREACHABLE    yes        no answer: connection refused, DNS, TLS, proxy, timeouts, a
                              response cut short (botocore ConnectionError, HTTPClientError,
                              IncompleteReadError)
    CREDENTIALS    no         no usable credentials, token or region (NoCredentialsError ...,
                              InvalidAccessKeyId, ExpiredToken, UnrecognizedClientException ...)
    DENIED         no         access refused (AccessDenied, AccessDeniedException, 403)
    MISSING        no         the bucket or table named by the configuration does not exist
    UNSUPPORTED    no         the service does not implement the request (NotImplemented, 501)
    REFUSED        no         any other answer of the service (ValidationException,
                              InvalidArgument, an unknown 4xx code): the map does not match
    FAILED         no         anything else botocore raised before or after the call

Only botocore's exception classes and the error codes in ``exc.response`` are read; nothing of
the dsar connectors is imported, so both connectors (and their tests) share one table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from botocore.exceptions import (  # type: ignore[import-untyped]
    ClientError,
    CredentialRetrievalError,
    HTTPClientError,
    IncompleteReadError,
    NoAuthTokenError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    TokenRetrievalError,
    UnknownCredentialError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

from dsar.domain.errors import ConnectorError, PermanentConnectorError, RetryableConnectorError


class Fault(StrEnum):
    CHANGED = "changed"
    BUSY = "busy"
    UNREACHABLE = "unreachable"
    CREDENTIALS = "credentials"
    DENIED = "denied"
    MISSING = "missing"
    UNSUPPORTED = "unsupported"
    REFUSED = "refused"
    FAILED = "failed"


RETRYABLE_FAULTS = frozenset({Fault.CHANGED, Fault.BUSY, Fault.UNREACHABLE})

CHANGED_CODES = frozenset({"PreconditionFailed", "ConditionalCheckFailedException"})
# botocore's standard retry mode: its throttled and transient codes (retries/standard.py),
# plus the server-side and conflict codes S3 and DynamoDB document as worth retrying.
BUSY_CODES = frozenset(
    {
        # throttled
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
        "TooManyRequests",
        # transient
        "RequestTimeout",
        "RequestTimeoutException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        # a concurrent operation on the same object or item is in progress
        "OperationAborted",
        "ConditionalRequestConflict",
        "TransactionConflictException",
    }
)
CREDENTIAL_CODES = frozenset(
    {
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "IncompleteSignature",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "InvalidToken",
        "ExpiredToken",
        "ExpiredTokenException",
        "MissingAuthenticationToken",
        "MissingAuthenticationTokenException",
        "AuthFailure",
    }
)
DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException", "Forbidden", "403", "AllAccessDisabled"})
MISSING_CODES = frozenset({"NoSuchBucket", "ResourceNotFoundException"})
UNSUPPORTED_CODES = frozenset({"NotImplemented"})

_CREDENTIAL_ERRORS = (
    NoCredentialsError,
    PartialCredentialsError,
    CredentialRetrievalError,
    UnknownCredentialError,
    NoAuthTokenError,
    TokenRetrievalError,
    NoRegionError,
)
_NETWORK_ERRORS = (BotoConnectionError, HTTPClientError, IncompleteReadError)


@dataclass(frozen=True)
class AwsFailure:
    """What went wrong: the fault, and the error code (or the exception's class name)."""

    fault: Fault
    code: str

    @property
    def retryable(self) -> bool:
        return self.fault in RETRYABLE_FAULTS


def error_code(exc: ClientError) -> str:
    """The service's error code (``NoSuchKey``, ``ThrottlingException``; ``404`` for a HEAD)."""
    return str(exc.response.get("Error", {}).get("Code") or "Unknown")


def http_status(exc: ClientError) -> int:
    """The HTTP status of the answer, 0 when the error carries none."""
    try:
        return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    except (TypeError, ValueError):
        return 0


def fault_of(code: str, status: int = 0) -> Fault:
    """The fault an error code (and HTTP status, 0 when none) stands for: a ClientError's, or
    one of the per-key errors a batch call such as DeleteObjects answers with."""
    if code in CHANGED_CODES or status == 412:
        return Fault.CHANGED
    if code in MISSING_CODES:
        return Fault.MISSING
    if code in UNSUPPORTED_CODES or status == 501:
        return Fault.UNSUPPORTED
    if code in BUSY_CODES or status == 429 or status >= 500:
        return Fault.BUSY
    if code in CREDENTIAL_CODES:
        return Fault.CREDENTIALS
    if code in DENIED_CODES or status == 403:
        return Fault.DENIED
    return Fault.REFUSED


def classify(exc: BaseException) -> AwsFailure:
    """The fault behind an exception botocore (or a client answering as boto3 does) raised."""
    if isinstance(exc, ClientError):
        code = error_code(exc)
        return AwsFailure(fault_of(code, http_status(exc)), code)
    name = type(exc).__name__
    if isinstance(exc, _CREDENTIAL_ERRORS):
        return AwsFailure(Fault.CREDENTIALS, name)
    if isinstance(exc, _NETWORK_ERRORS):
        return AwsFailure(Fault.UNREACHABLE, name)
    return AwsFailure(Fault.FAILED, name)


# Message templates: {where} is the place (``set avatars``), {service} the service (``S3``),
# {code} the error code or exception class. A connector overrides those it says better.
MESSAGES: Mapping[Fault, str] = {
    Fault.CHANGED: "{where}: changed since it was read ({code}); try again",
    Fault.BUSY: "{where}: {service} is busy or unavailable ({code})",
    Fault.UNREACHABLE: "{where}: {service} unreachable ({code})",
    Fault.CREDENTIALS: "{where}: no usable AWS credentials or region ({code}); check the AWS environment",
    Fault.DENIED: "{where}: access refused ({code}); check the credentials and their permissions",
    Fault.MISSING: "{where}: does not exist ({code})",
    Fault.UNSUPPORTED: "{where}: {service} does not support this request ({code})",
    Fault.REFUSED: "{where}: request refused ({code})",
    Fault.FAILED: "{where}: request failed ({code})",
}


def connector_error(
    system: str, exc: BaseException, where: str, service: str, messages: Mapping[Fault, str] | None = None
) -> ConnectorError:
    """The engine's error for an AWS failure: retryable or permanent as :func:`classify` says,
    the message from ``messages`` (falling back to :data:`MESSAGES`). Raise it ``from None``:
    the original exception's text may hold a key or a value."""
    failure = classify(exc)
    template = (messages or {}).get(failure.fault) or MESSAGES[failure.fault]
    message = template.format(where=where, service=service, code=failure.code)
    if failure.retryable:
        return RetryableConnectorError(system, message)
    return PermanentConnectorError(system, message)
