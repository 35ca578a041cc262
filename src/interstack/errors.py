"""The one exception hierarchy of interstack.

Every layer raises these; nothing else crosses a layer boundary. Backends translate the errors of
their SDKs into them (``raise ... from exc``) and the API layer translates them, once, into each
OpenStack service's own fault body (``api/faults.py``)::

    InterstackError                 500  something went wrong that the caller cannot fix
    ├── BadRequest                  400  the request is malformed or invalid
    ├── Unauthorized                401  no, bad or expired credentials
    ├── Forbidden                   403  authenticated, but policy does not allow it
    ├── NotFound                    404  the resource does not exist (or is not visible)
    ├── MethodNotAllowed            405  the path exists, the method does not
    ├── NotAcceptable               406  an API version outside the supported range
    ├── Conflict                    409  the resource exists already, or is in the wrong state
    ├── LengthRequired              411  a body without Content-Length where one is needed
    ├── PreconditionFailed          412  an If-Match / If-None-Match condition does not hold
    ├── PayloadTooLarge             413  the body is over the configured limit
    ├── UnsupportedMediaType        415  the body's Content-Type is not one the call takes
    ├── RangeNotSatisfiable         416  a Range header outside the data
    ├── UnprocessableEntity         422  the body does not match what its headers promise
    ├── QuotaExceeded               403/409/413, as the service answers it
    ├── NotSupported                501  the region's backend lacks the capability
    └── BackendError                500  the cloud behind a region failed
        └── BackendUnavailable      503  the cloud behind a region cannot be reached

Messages are written for a person reading a CLI's one-line error: they say what was wrong and, where
it helps, what to do. They never carry secrets or stack traces.
"""

from __future__ import annotations


class InterstackError(Exception):
    """Base of every error interstack raises on purpose."""

    status = 500
    title = "Internal Server Error"

    def __init__(
        self,
        message: str = "An unexpected error prevented the request.",
        *,
        kind: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        #: a machine-readable name for services whose faults carry one (Neutron's ``type``)
        self.kind = kind


class BadRequest(InterstackError):
    status = 400
    title = "Bad Request"


class Unauthorized(InterstackError):
    status = 401
    title = "Unauthorized"

    def __init__(self, message: str = "The request you have made requires authentication.") -> None:
        super().__init__(message)


class Forbidden(InterstackError):
    status = 403
    title = "Forbidden"

    def __init__(
        self, message: str = "You are not authorized to perform the requested action."
    ) -> None:
        super().__init__(message)


class NotFound(InterstackError):
    status = 404
    title = "Not Found"

    def __init__(
        self, message: str = "The resource could not be found.", *, kind: str | None = None
    ) -> None:
        super().__init__(message, kind=kind)


class MethodNotAllowed(InterstackError):
    status = 405
    title = "Method Not Allowed"


class NotAcceptable(InterstackError):
    status = 406
    title = "Not Acceptable"


class Conflict(InterstackError):
    status = 409
    title = "Conflict"


class LengthRequired(InterstackError):
    status = 411
    title = "Length Required"


class PreconditionFailed(InterstackError):
    status = 412
    title = "Precondition Failed"


class PayloadTooLarge(InterstackError):
    status = 413
    title = "Request Entity Too Large"


class UnsupportedMediaType(InterstackError):
    status = 415
    title = "Unsupported Media Type"


class RangeNotSatisfiable(InterstackError):
    status = 416
    title = "Requested Range Not Satisfiable"


class UnprocessableEntity(InterstackError):
    status = 422
    title = "Unprocessable Entity"


class QuotaExceeded(InterstackError):
    status = 403
    title = "Forbidden"


class NotSupported(InterstackError):
    """The operation exists in the API, but the region's backend cannot do it."""

    status = 501
    title = "Not Implemented"


class BackendError(InterstackError):
    status = 500
    title = "Internal Server Error"


class BackendUnavailable(BackendError):
    status = 503
    title = "Service Unavailable"
