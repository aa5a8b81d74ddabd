"""One reading of AWS failures for the s3 and dynamodb connectors (dsar.connectors.aws), on
real botocore exceptions: a ClientError as botocore builds it from a service's answer, and the
client-side errors botocore raises before or instead of an answer."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import (  # type: ignore[import-untyped]
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    CredentialRetrievalError,
    EndpointConnectionError,
    IncompleteReadError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    PartialCredentialsError,
    ProxyConnectionError,
    ReadTimeoutError,
    ResponseStreamingError,
    SSLError,
    UnknownServiceError,
)

from dsar.connectors.aws import Fault, classify, connector_error, error_code, fault_of, http_status
from dsar.domain.errors import PermanentConnectorError, RetryableConnectorError

SECRET = "jane.doe@example.com"  # what a service's message may quote: never in ours


def client_error(code: str | None, status: int | None = None, operation: str = "GetObject") -> ClientError:
    response: dict[str, Any] = {"Error": {"Message": f"about {SECRET}"}}
    if code is not None:
        response["Error"]["Code"] = code
    if status is not None:
        response["ResponseMetadata"] = {"HTTPStatusCode": status, "RequestId": "r-1"}
    return ClientError(response, operation)


@pytest.mark.parametrize(
    ("code", "status", "fault"),
    [
        # a condition failed: read again
        ("PreconditionFailed", 412, Fault.CHANGED),
        ("SomethingNew", 412, Fault.CHANGED),
        ("ConditionalCheckFailedException", 400, Fault.CHANGED),
        # throttled (S3 and DynamoDB spellings)
        ("SlowDown", 503, Fault.BUSY),
        ("Throttling", 400, Fault.BUSY),
        ("ThrottlingException", 400, Fault.BUSY),
        ("ProvisionedThroughputExceededException", 400, Fault.BUSY),
        ("RequestLimitExceeded", 400, Fault.BUSY),
        ("TooManyRequests", 429, Fault.BUSY),
        ("BandwidthLimitExceeded", 400, Fault.BUSY),
        ("TransactionInProgressException", 400, Fault.BUSY),
        # transient server side
        ("InternalError", 500, Fault.BUSY),
        ("InternalServerError", 500, Fault.BUSY),
        ("InternalFailure", 500, Fault.BUSY),
        ("ServiceUnavailable", 503, Fault.BUSY),
        ("RequestTimeout", 400, Fault.BUSY),
        ("OperationAborted", 409, Fault.BUSY),
        ("ConditionalRequestConflict", 409, Fault.BUSY),
        ("TransactionConflictException", 400, Fault.BUSY),
        ("SomethingNew", 502, Fault.BUSY),
        ("SomethingNew", 429, Fault.BUSY),
        # the service lacks the feature: retrying will not add it
        ("NotImplemented", 501, Fault.UNSUPPORTED),
        ("SomethingNew", 501, Fault.UNSUPPORTED),
        # credentials
        ("InvalidAccessKeyId", 403, Fault.CREDENTIALS),
        ("SignatureDoesNotMatch", 403, Fault.CREDENTIALS),
        ("ExpiredToken", 400, Fault.CREDENTIALS),
        ("ExpiredTokenException", 400, Fault.CREDENTIALS),
        ("UnrecognizedClientException", 400, Fault.CREDENTIALS),
        ("InvalidClientTokenId", 403, Fault.CREDENTIALS),
        # access refused
        ("AccessDenied", 403, Fault.DENIED),
        ("AccessDeniedException", 400, Fault.DENIED),
        ("403", 403, Fault.DENIED),
        ("SomethingNew", 403, Fault.DENIED),
        # the configured bucket or table is not there
        ("NoSuchBucket", 404, Fault.MISSING),
        ("ResourceNotFoundException", 400, Fault.MISSING),
        # the request itself is refused: the data map does not match
        ("ValidationException", 400, Fault.REFUSED),
        ("InvalidArgument", 400, Fault.REFUSED),
        ("NoSuchKey", 404, Fault.REFUSED),
        ("SomethingNew", 400, Fault.REFUSED),
        ("SomethingNew", None, Fault.REFUSED),
        (None, None, Fault.REFUSED),
    ],
)
def test_a_client_error_is_read_by_its_code_then_its_status(code: str | None, status: int | None, fault: Fault) -> None:
    exc = client_error(code, status)
    failure = classify(exc)
    assert failure.fault is fault
    assert failure.code == (code or "Unknown")
    assert failure.retryable == (fault in (Fault.CHANGED, Fault.BUSY))
    assert fault_of(code or "Unknown", status or 0) is fault


@pytest.mark.parametrize(
    ("exc", "fault"),
    [
        (EndpointConnectionError(endpoint_url="http://127.0.0.1:9"), Fault.UNREACHABLE),
        (ConnectTimeoutError(endpoint_url="http://127.0.0.1:9"), Fault.UNREACHABLE),
        (ReadTimeoutError(endpoint_url="http://127.0.0.1:9"), Fault.UNREACHABLE),
        (ConnectionClosedError(endpoint_url="http://127.0.0.1:9"), Fault.UNREACHABLE),
        (ProxyConnectionError(proxy_url="http://proxy:3128", error="refused"), Fault.UNREACHABLE),
        (SSLError(endpoint_url="https://127.0.0.1:9", error="handshake"), Fault.UNREACHABLE),
        (ResponseStreamingError(error="cut short"), Fault.UNREACHABLE),
        (IncompleteReadError(actual_bytes=1, expected_bytes=2), Fault.UNREACHABLE),
        (NoCredentialsError(), Fault.CREDENTIALS),
        (PartialCredentialsError(provider="env", cred_var="AWS_SECRET_ACCESS_KEY"), Fault.CREDENTIALS),
        (CredentialRetrievalError(provider="process", error_msg="exit 1"), Fault.CREDENTIALS),
        (NoRegionError(), Fault.CREDENTIALS),
        (ParamValidationError(report=f"Invalid length for parameter Key: {SECRET}"), Fault.FAILED),
        (UnknownServiceError(service_name="s4", known_service_names="s3"), Fault.FAILED),
        (ValueError(SECRET), Fault.FAILED),
    ],
)
def test_client_side_errors_are_read_by_their_class(exc: Exception, fault: Fault) -> None:
    failure = classify(exc)
    assert failure.fault is fault and failure.code == type(exc).__name__
    assert failure.retryable == (fault is Fault.UNREACHABLE)


def test_code_and_status_are_read_safely() -> None:
    assert error_code(client_error("NoSuchKey", 404)) == "NoSuchKey" and http_status(client_error("NoSuchKey", 404)) == 404
    assert error_code(client_error(None)) == "Unknown" and http_status(client_error(None)) == 0
    odd = ClientError({"Error": {"Code": "X"}, "ResponseMetadata": {"HTTPStatusCode": "not a number"}}, "HeadObject")
    assert http_status(odd) == 0


@pytest.mark.parametrize(
    ("exc", "error", "text"),
    [
        (
            client_error("ThrottlingException", 400),
            RetryableConnectorError,
            "table profiles: DynamoDB is busy or unavailable (ThrottlingException)",
        ),
        (
            client_error("PreconditionFailed", 412),
            RetryableConnectorError,
            "table profiles: changed since it was read (PreconditionFailed)",
        ),
        (
            EndpointConnectionError(endpoint_url="http://127.0.0.1:9"),
            RetryableConnectorError,
            "DynamoDB unreachable (EndpointConnectionError)",
        ),
        (client_error("AccessDeniedException", 400), PermanentConnectorError, "access refused (AccessDeniedException)"),
        (NoCredentialsError(), PermanentConnectorError, "no usable AWS credentials or region (NoCredentialsError)"),
        (client_error("ValidationException", 400), PermanentConnectorError, "table profiles: request refused (ValidationException)"),
        (ParamValidationError(report=SECRET), PermanentConnectorError, "request failed (ParamValidationError)"),
    ],
)
def test_the_engine_error_names_system_place_and_code_never_the_services_message(exc: Exception, error: type[Exception], text: str) -> None:
    got = connector_error("crm", exc, "table profiles", "DynamoDB")
    assert type(got) is error and got.system == "crm"
    assert str(got).startswith("crm: ") and text in str(got)
    assert SECRET not in str(got) and "127.0.0.1" not in str(got)


def test_a_connector_words_the_faults_it_knows_better() -> None:
    messages = {Fault.MISSING: "{where}: the bucket does not exist", Fault.CHANGED: "{where}: changed; locate again ({code})"}
    missing = connector_error("files", client_error("NoSuchBucket", 404), "set avatars", "S3", messages)
    assert isinstance(missing, PermanentConnectorError) and str(missing) == "files: set avatars: the bucket does not exist"
    changed = connector_error("files", client_error("PreconditionFailed", 412), "set events", "S3", messages)
    assert isinstance(changed, RetryableConnectorError) and str(changed) == "files: set events: changed; locate again (PreconditionFailed)"
    busy = connector_error("files", client_error("SlowDown", 503), "set avatars", "S3", messages)
    assert str(busy) == "files: set avatars: S3 is busy or unavailable (SlowDown)"  # the shared wording where none is given
