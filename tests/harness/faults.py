"""A fault-injecting HTTP proxy of our own, on 127.0.0.1, in front of the moto server.

The provider is pointed at the proxy (``endpoints { url = proxy.url }``); the proxy names every request's AWS
service and operation, forwards it to moto, and on the way injects the faults a test asks for. Standard library
only (threads); nothing is mocked: every request that is not answered with a fault reaches the real moto server.

Naming a request
    service     the SigV4 credential scope in ``Authorization`` (``Credential=AKID/date/region/SERVICE/aws4_request``);
                unsigned requests fall back to the ``X-Amz-Target`` prefix, else ``"unknown"``.
    operation   query protocol (EC2, IAM, STS, RDS): ``Action=`` in the form body or the query string;
                JSON protocol (Logs, KMS, Organizations, ECR, DynamoDB, Secrets Manager, CloudTrail):
                ``X-Amz-Target: Prefix.Operation``;
                REST protocols (EKS, S3, CloudFront, Route53): method + path pattern (see ``REST_ROUTES`` and
                :func:`s3_operation`); a REST request that matches no pattern is named ``"METHOD /path"``.
    attempt     the SDK's ``amz-sdk-request: attempt=N; max=M`` header: attempt 1 is a new call, N > 1 a retry
                (requests without the header count as new calls).

Faults (each shaped like the real service's answer for its protocol, see :func:`fault_response`)
    "throttle"  query: 400 ``Throttling``; EC2: 503 ``RequestLimitExceeded``; JSON: 400 ``ThrottlingException``;
                EKS: 429 ``ThrottlingException``; S3: 503 ``SlowDown``; CloudFront/Route53: 400 ``Throttling``.
    "5xx"       500 ``InternalError``/``InternalFailure`` (or 503 ``ServiceUnavailable``, chosen by the seed).
    "reset"     the TCP connection is reset (SO_LINGER 0) without an answer.
    A :class:`Fault` gives any other status/code/message, e.g. ``Fault(400, "InvalidParameterValue", "no")``.
    Injected faults are answered by the proxy itself, before the request reaches moto (so the request has no
    effect), except a reset with ``after=True`` (``"reset-after"``): moto applies the request and the answer is
    lost, which is what a network cut after the server acted looks like to a client.

Interface
    proxy = FaultProxy(upstream="http://127.0.0.1:PORT", seed=7).start()   # or the ``fault_proxy`` fixture
    proxy.url                                   # use as the provider endpoint
    proxy.transient(rate=0.15, kinds=("throttle", "5xx", "reset"), services=None, operations=None)
                                                # every matching request faults with probability ``rate``
                                                # (``kinds`` equally likely, from the seeded generator)
    proxy.fail("eks", "CreateNodegroup", after=2, error="5xx")
                                                # the first 2 calls succeed; every request after them fails
                                                # with ``error`` (a kind or a Fault), permanently
    proxy.once("ec2", "CreateVpc", call=1, error="reset-after")
                                                # only the first request of the 1st call of CreateVpc
                                                # faults (its retries and every other call pass)
    proxy.on_call(callback, when="after")       # callback(call: Call) for every request; when="before": before
                                                # it is forwarded; "after": after moto answered, before the
                                                # answer is relayed (e.g. SIGKILL the provider after call N)
    proxy.stats()                               # {(service, operation): OpStats(requests, calls, retries,
                                                #   faults, forwarded)}; requests = every HTTP request seen,
                                                #   calls = attempt-1 requests, retries = attempt>1 requests,
                                                #   faults = faults injected, forwarded = reached moto
    proxy.calls                                 # every Call in order (service, operation, attempt, fault...)
    proxy.report()                              # a printable table of the counters, worst first
    proxy.clear()                               # forget rules, callbacks and counters (between tests)
    proxy.stop()

``/moto-api/`` requests (the harness's own reset) pass through unnamed and are never faulted.
"""

from __future__ import annotations

import http.client
import json
import random
import re
import socket
import struct
import threading
import urllib.parse
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

# --- naming ---------------------------------------------------------------------------------------------

#: Services that speak the query protocol (form body with ``Action=``); EC2's dialect differs in its errors.
QUERY_SERVICES = {"ec2", "iam", "sts", "rds", "sns", "sqs", "autoscaling", "elasticloadbalancing",
                  "cloudformation", "elasticache", "redshift", "ses"}
#: Services that speak the JSON protocol (``X-Amz-Target``).
JSON_SERVICES = {"logs", "kms", "organizations", "ecr", "dynamodb", "secretsmanager", "cloudtrail", "ssm",
                 "events", "monitoring", "acm", "sso", "kinesis"}
REST_JSON_SERVICES = {"eks"}
REST_XML_SERVICES = {"s3", "cloudfront", "route53"}

# (method, path regex after the API version prefix, operation). The first match wins: specific paths first.
_EKS = [
    ("POST", r"/clusters", "CreateCluster"),
    ("GET", r"/clusters", "ListClusters"),
    ("GET", r"/clusters/[^/]+", "DescribeCluster"),
    ("DELETE", r"/clusters/[^/]+", "DeleteCluster"),
    ("POST", r"/clusters/[^/]+/update-config", "UpdateClusterConfig"),
    ("POST", r"/clusters/[^/]+/updates", "UpdateClusterVersion"),
    ("GET", r"/clusters/[^/]+/updates", "ListUpdates"),
    ("GET", r"/clusters/[^/]+/updates/[^/]+", "DescribeUpdate"),
    ("POST", r"/clusters/[^/]+/node-groups", "CreateNodegroup"),
    ("GET", r"/clusters/[^/]+/node-groups", "ListNodegroups"),
    ("GET", r"/clusters/[^/]+/node-groups/[^/]+", "DescribeNodegroup"),
    ("DELETE", r"/clusters/[^/]+/node-groups/[^/]+", "DeleteNodegroup"),
    ("POST", r"/clusters/[^/]+/node-groups/[^/]+/update-config", "UpdateNodegroupConfig"),
    ("POST", r"/clusters/[^/]+/node-groups/[^/]+/update-version", "UpdateNodegroupVersion"),
    ("POST", r"/clusters/[^/]+/addons", "CreateAddon"),
    ("GET", r"/clusters/[^/]+/addons", "ListAddons"),
    ("GET", r"/clusters/[^/]+/addons/[^/]+", "DescribeAddon"),
    ("DELETE", r"/clusters/[^/]+/addons/[^/]+", "DeleteAddon"),
    ("POST", r"/clusters/[^/]+/addons/[^/]+/update", "UpdateAddon"),
    ("POST", r"/clusters/[^/]+/fargate-profiles", "CreateFargateProfile"),
    ("GET", r"/clusters/[^/]+/fargate-profiles", "ListFargateProfiles"),
    ("GET", r"/clusters/[^/]+/fargate-profiles/[^/]+", "DescribeFargateProfile"),
    ("DELETE", r"/clusters/[^/]+/fargate-profiles/[^/]+", "DeleteFargateProfile"),
    ("POST", r"/clusters/[^/]+/access-entries", "CreateAccessEntry"),
    ("GET", r"/clusters/[^/]+/access-entries", "ListAccessEntries"),
    ("GET", r"/clusters/[^/]+/access-entries/[^/]+", "DescribeAccessEntry"),
    ("DELETE", r"/clusters/[^/]+/access-entries/[^/]+", "DeleteAccessEntry"),
    ("POST", r"/tags/.+", "TagResource"),
    ("DELETE", r"/tags/.+", "UntagResource"),
    ("GET", r"/tags/.+", "ListTagsForResource"),
]
_CLOUDFRONT = [
    ("POST", r"/distribution\?(.*&)?WithTags(&.*)?", "CreateDistributionWithTags"),
    ("POST", r"/distribution", "CreateDistribution"),
    ("GET", r"/distribution", "ListDistributions"),
    ("GET", r"/distribution/[^/]+", "GetDistribution"),
    ("DELETE", r"/distribution/[^/]+", "DeleteDistribution"),
    ("GET", r"/distribution/[^/]+/config", "GetDistributionConfig"),
    ("PUT", r"/distribution/[^/]+/config", "UpdateDistribution"),
    ("POST", r"/distribution/[^/]+/invalidation", "CreateInvalidation"),
    ("POST", r"/origin-access-control", "CreateOriginAccessControl"),
    ("GET", r"/origin-access-control", "ListOriginAccessControls"),
    ("GET", r"/origin-access-control/[^/]+", "GetOriginAccessControl"),
    ("DELETE", r"/origin-access-control/[^/]+", "DeleteOriginAccessControl"),
    ("GET", r"/origin-access-control/[^/]+/config", "GetOriginAccessControlConfig"),
    ("PUT", r"/origin-access-control/[^/]+/config", "UpdateOriginAccessControl"),
    ("POST", r"/tagging\?(.*&)?Operation=Tag(&.*)?", "TagResource"),
    ("POST", r"/tagging\?(.*&)?Operation=Untag(&.*)?", "UntagResource"),
    ("GET", r"/tagging", "ListTagsForResource"),
]
_ROUTE53 = [
    ("POST", r"/hostedzone", "CreateHostedZone"),
    ("GET", r"/hostedzone", "ListHostedZones"),
    ("GET", r"/hostedzonesbyname", "ListHostedZonesByName"),
    ("GET", r"/hostedzonecount", "GetHostedZoneCount"),
    ("GET", r"/hostedzone/[^/]+", "GetHostedZone"),
    ("DELETE", r"/hostedzone/[^/]+", "DeleteHostedZone"),
    ("POST", r"/hostedzone/[^/]+", "UpdateHostedZoneComment"),
    ("POST", r"/hostedzone/[^/]+/rrset/?", "ChangeResourceRecordSets"),
    ("GET", r"/hostedzone/[^/]+/rrset/?", "ListResourceRecordSets"),
    ("GET", r"/change/[^/]+", "GetChange"),
    ("GET", r"/tags/[^/]+/[^/]+", "ListTagsForResource"),
    ("POST", r"/tags/[^/]+/[^/]+", "ChangeTagsForResource"),
    ("POST", r"/healthcheck", "CreateHealthCheck"),
    ("GET", r"/healthcheck/[^/]+", "GetHealthCheck"),
    ("DELETE", r"/healthcheck/[^/]+", "DeleteHealthCheck"),
]
#: REST routes per service: (version prefix regex, [(method, path regex, operation)]).
REST_ROUTES: Dict[str, Tuple[str, List[Tuple[str, str, str]]]] = {
    "eks": (r"", _EKS),
    "cloudfront": (r"/20\d\d-\d\d-\d\d", _CLOUDFRONT),
    "route53": (r"/20\d\d-\d\d-\d\d", _ROUTE53),
}
_COMPILED = {
    svc: [(m, re.compile(prefix + p + (r"(\?.*)?" if r"\?" not in p else "") + r"$"), op) for m, p, op in routes]
    for svc, (prefix, routes) in REST_ROUTES.items()
}

#: S3 sub-resources (query keys) → operation per method. Bucket-level and object-level differ below.
_S3_BUCKET_SUBRESOURCES = {
    "policy": {"GET": "GetBucketPolicy", "PUT": "PutBucketPolicy", "DELETE": "DeleteBucketPolicy"},
    "tagging": {"GET": "GetBucketTagging", "PUT": "PutBucketTagging", "DELETE": "DeleteBucketTagging"},
    "versioning": {"GET": "GetBucketVersioning", "PUT": "PutBucketVersioning"},
    "encryption": {"GET": "GetBucketEncryption", "PUT": "PutBucketEncryption", "DELETE": "DeleteBucketEncryption"},
    "lifecycle": {"GET": "GetBucketLifecycleConfiguration", "PUT": "PutBucketLifecycleConfiguration",
                  "DELETE": "DeleteBucketLifecycle"},
    "ownershipControls": {"GET": "GetBucketOwnershipControls", "PUT": "PutBucketOwnershipControls",
                          "DELETE": "DeleteBucketOwnershipControls"},
    "publicAccessBlock": {"GET": "GetPublicAccessBlock", "PUT": "PutPublicAccessBlock",
                          "DELETE": "DeletePublicAccessBlock"},
    "logging": {"GET": "GetBucketLogging", "PUT": "PutBucketLogging"},
    "acl": {"GET": "GetBucketAcl", "PUT": "PutBucketAcl"},
    "cors": {"GET": "GetBucketCors", "PUT": "PutBucketCors", "DELETE": "DeleteBucketCors"},
    "website": {"GET": "GetBucketWebsite", "PUT": "PutBucketWebsite", "DELETE": "DeleteBucketWebsite"},
    "location": {"GET": "GetBucketLocation"},
    "versions": {"GET": "ListObjectVersions"},
    "uploads": {"GET": "ListMultipartUploads"},
    "delete": {"POST": "DeleteObjects"},
    "notification": {"GET": "GetBucketNotificationConfiguration", "PUT": "PutBucketNotificationConfiguration"},
    "replication": {"GET": "GetBucketReplication", "PUT": "PutBucketReplication",
                    "DELETE": "DeleteBucketReplication"},
}
_S3_OBJECT_SUBRESOURCES = {
    "tagging": {"GET": "GetObjectTagging", "PUT": "PutObjectTagging", "DELETE": "DeleteObjectTagging"},
    "acl": {"GET": "GetObjectAcl", "PUT": "PutObjectAcl"},
    "uploads": {"POST": "CreateMultipartUpload"},
    "uploadId": {"PUT": "UploadPart", "POST": "CompleteMultipartUpload", "DELETE": "AbortMultipartUpload",
                 "GET": "ListParts"},
}


def s3_operation(method: str, path: str, query: str) -> str:
    """The S3 operation of a path-style request (``/bucket`` or ``/bucket/key``)."""
    keys = [k for k, _ in urllib.parse.parse_qsl(query, keep_blank_values=True)]
    parts = path.lstrip("/").split("/", 1)
    bucket = parts[0]
    has_key = len(parts) == 2 and parts[1] != ""
    if not bucket:
        return "ListBuckets" if method == "GET" else f"{method} /"
    table = _S3_OBJECT_SUBRESOURCES if has_key else _S3_BUCKET_SUBRESOURCES
    for k in keys:
        if k in table and method in table[k]:
            return table[k][method]
    if has_key:
        return {"GET": "GetObject", "PUT": "PutObject", "HEAD": "HeadObject", "DELETE": "DeleteObject"}.get(
            method, f"{method} object"
        )
    if method == "GET":
        return "ListObjectsV2" if ("list-type", "2") in urllib.parse.parse_qsl(query) else "ListObjects"
    return {"PUT": "CreateBucket", "HEAD": "HeadBucket", "DELETE": "DeleteBucket"}.get(method, f"{method} bucket")


_CREDENTIAL = re.compile(r"Credential=[^/,\s]+/\d{8}/([^/,\s]+)/([^/,\s]+)/aws4_request")
_TARGET_SERVICE = {
    "Logs_20140328": "logs", "TrentService": "kms", "AWSOrganizationsV20161128": "organizations",
    "AmazonEC2ContainerRegistry_V20150921": "ecr", "DynamoDB_20120810": "dynamodb", "secretsmanager": "secretsmanager",
    "CloudTrail_20131101": "cloudtrail",
    "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101": "cloudtrail",
}


def service_of(headers: Dict[str, str]) -> str:
    """The signing service from the SigV4 credential scope; ``X-Amz-Target`` for unsigned requests."""
    auth = headers.get("authorization", "")
    m = _CREDENTIAL.search(auth)
    if m:
        return m.group(2)
    target = headers.get("x-amz-target", "")
    if "." in target:
        return _TARGET_SERVICE.get(target.rsplit(".", 1)[0], "unknown")
    return "unknown"


def operation_of(service: str, method: str, target: str, headers: Dict[str, str], body: bytes) -> str:
    """The operation name of one request (``target`` is path?query as sent)."""
    path, _, query = target.partition("?")
    amz_target = headers.get("x-amz-target", "")
    if amz_target:
        return amz_target.rsplit(".", 1)[-1]
    if service == "s3":
        return s3_operation(method, urllib.parse.unquote(path), query)
    if service in _COMPILED:
        for m, rx, op in _COMPILED[service]:
            if m == method and rx.match(target):
                return op
        return f"{method} {path}"
    # Query protocol: Action in the query string (GET) or the form body (POST).
    for source in (query, body.decode("utf-8", "replace") if body else ""):
        for k, v in urllib.parse.parse_qsl(source, keep_blank_values=True):
            if k == "Action":
                return v
    return f"{method} {path}"


def attempt_of(headers: Dict[str, str]) -> int:
    """The SDK attempt number from ``amz-sdk-request: attempt=N; max=M`` (1 when absent)."""
    m = re.search(r"attempt=(\d+)", headers.get("amz-sdk-request", ""))
    return int(m.group(1)) if m else 1


# --- faults ---------------------------------------------------------------------------------------------

KINDS = ("throttle", "5xx", "reset", "reset-after")


@dataclass(frozen=True)
class Fault:
    """An error answer: HTTP ``status`` with the service's error ``code`` and ``message``."""

    status: int
    code: str
    message: str = "injected by the fault proxy"


def protocol_of(service: str) -> str:
    if service == "ec2":
        return "ec2"
    if service in QUERY_SERVICES:
        return "query"
    if service in JSON_SERVICES:
        return "json"
    if service in REST_JSON_SERVICES:
        return "rest-json"
    if service == "s3":
        return "s3"
    if service in REST_XML_SERVICES:
        return "rest-xml"
    return "query"


def fault_for(kind: str, service: str, rng: Optional[random.Random] = None) -> Fault:
    """The ``Fault`` a kind ("throttle", "5xx") means for ``service``, as the real service answers it."""
    proto = protocol_of(service)
    if kind == "throttle":
        return {
            "ec2": Fault(503, "RequestLimitExceeded", "Request limit exceeded."),
            "query": Fault(400, "Throttling", "Rate exceeded"),
            "json": Fault(400, "ThrottlingException", "Rate exceeded"),
            "rest-json": Fault(429, "ThrottlingException", "Rate exceeded"),
            "s3": Fault(503, "SlowDown", "Please reduce your request rate."),
            "rest-xml": Fault(400, "Throttling", "Rate exceeded"),
        }[proto]
    if kind == "5xx":
        if rng is not None and rng.random() < 0.5:
            return Fault(503, "ServiceUnavailable", "Service is unavailable. Please try again.")
        code = {"ec2": "InternalError", "s3": "InternalError", "json": "InternalFailure"}.get(proto, "InternalFailure")
        return Fault(500, code, "We encountered an internal error. Please try again.")
    raise ValueError(f"{kind!r} is not an HTTP fault kind (use 'throttle' or '5xx', or a Fault)")


def _xml_escape(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def fault_response(fault: Fault, service: str, request_id: str = "") -> Tuple[int, Dict[str, str], bytes]:
    """(status, headers, body) of ``fault`` in the wire format of ``service``'s protocol."""
    request_id = request_id or str(uuid.uuid4())
    code, msg = _xml_escape(fault.code), _xml_escape(fault.message)
    proto = protocol_of(service)
    headers = {"x-amzn-RequestId": request_id}
    if proto == "json":
        headers["Content-Type"] = "application/x-amz-json-1.1"
        body = json.dumps({"__type": fault.code, "message": fault.message}).encode()
    elif proto == "rest-json":
        headers["Content-Type"] = "application/json"
        headers["x-amzn-ErrorType"] = fault.code
        body = json.dumps({"message": fault.message}).encode()
    elif proto == "ec2":
        headers["Content-Type"] = "text/xml"
        body = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{code}</Code>"
                f"<Message>{msg}</Message></Error></Errors><RequestID>{request_id}</RequestID></Response>").encode()
    elif proto == "s3":
        headers["Content-Type"] = "application/xml"
        headers["x-amz-request-id"] = request_id
        body = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{msg}</Message>"
                f"<RequestId>{request_id}</RequestId></Error>").encode()
    else:  # query and rest-xml (CloudFront, Route53) share the ErrorResponse envelope
        headers["Content-Type"] = "text/xml"
        kind = "Receiver" if fault.status >= 500 else "Sender"
        body = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ErrorResponse><Error><Type>{kind}</Type>"
                f"<Code>{code}</Code><Message>{msg}</Message></Error><RequestId>{request_id}</RequestId>"
                "</ErrorResponse>").encode()
    return fault.status, headers, body


# --- bookkeeping ----------------------------------------------------------------------------------------

@dataclass
class Call:
    """One HTTP request the proxy saw."""

    index: int  # 1-based, in arrival order
    service: str
    operation: str
    method: str
    path: str
    attempt: int
    n: int  # how many calls (attempt-1 requests) of this operation so far, this one included
    fault: Optional[str] = None  # what was injected: "throttle", "5xx", "reset", "reset-after", a code, or None
    status: Optional[int] = None  # the status relayed (None after a reset)
    body: bytes = b""

    @property
    def key(self) -> Tuple[str, str]:
        return (self.service, self.operation)


@dataclass
class OpStats:
    requests: int = 0
    calls: int = 0
    retries: int = 0
    faults: int = 0
    forwarded: int = 0


@dataclass
class _Permanent:
    service: str
    operation: str
    after: int
    error: Union[str, Fault]
    seen: int = 0


@dataclass
class _Once:
    service: str
    operation: str
    call: int
    error: Union[str, Fault]
    done: bool = False


@dataclass
class _Transient:
    rate: float
    kinds: Tuple[str, ...]
    services: Optional[frozenset]
    operations: Optional[frozenset]


Callback = Callable[[Call], None]


class FaultProxy:
    """See the module docstring."""

    def __init__(self, upstream: str, *, seed: int = 0, host: str = "127.0.0.1", port: int = 0,
                 upstream_timeout: float = 300.0):
        parsed = urllib.parse.urlsplit(upstream)
        if parsed.scheme != "http" or not parsed.hostname:
            raise ValueError(f"upstream must be http://host:port, got {upstream!r}")
        self.upstream = upstream
        self._up_host, self._up_port = parsed.hostname, parsed.port or 80
        self._upstream_timeout = upstream_timeout
        self._bind = (host, port)
        self._lock = threading.Lock()
        self.seed = seed
        self._rng = random.Random(seed)
        self._transient: Optional[_Transient] = None
        self._permanent: List[_Permanent] = []
        self._once: List[_Once] = []
        self._callbacks: List[Tuple[str, Callback]] = []
        self._stats: Dict[Tuple[str, str], OpStats] = {}
        self.calls: List[Call] = []
        self._server: Optional[ThreadingHTTPServer] = None
        self._thread: Optional[threading.Thread] = None
        self.url = ""

    # -- configuration -------------------------------------------------------------------------------------

    def transient(self, rate: float, kinds: Sequence[str] = ("throttle", "5xx", "reset"), *,
                  services: Optional[Iterable[str]] = None, operations: Optional[Iterable[str]] = None) -> None:
        """Fault every matching request with probability ``rate`` (0 turns it off)."""
        if not 0 <= rate <= 1:
            raise ValueError("rate must be within 0..1")
        for k in kinds:
            if k not in KINDS:
                raise ValueError(f"unknown fault kind {k!r}: use one of {KINDS}")
        with self._lock:
            self._transient = _Transient(
                rate, tuple(kinds), frozenset(services) if services else None,
                frozenset(operations) if operations else None,
            ) if rate > 0 else None

    def fail(self, service: str, operation: str, *, after: int = 0, error: Union[str, Fault] = "5xx") -> None:
        """Let ``after`` calls of service/operation succeed, then fail every later request with ``error``."""
        if isinstance(error, str) and error not in KINDS:
            raise ValueError(f"unknown fault kind {error!r}: use one of {KINDS} or a Fault")
        with self._lock:
            self._permanent.append(_Permanent(service, operation, after, error))

    def once(self, service: str, operation: str, *, call: int = 1, error: Union[str, Fault] = "reset-after") -> None:
        """Fault only the first request of the ``call``-th call of service/operation with ``error``; its
        retries and every other call pass (e.g. lose exactly one answer after moto applied the request)."""
        if isinstance(error, str) and error not in KINDS:
            raise ValueError(f"unknown fault kind {error!r}: use one of {KINDS} or a Fault")
        if call < 1:
            raise ValueError("call counts from 1")
        with self._lock:
            self._once.append(_Once(service, operation, call, error))

    def on_call(self, callback: Callback, when: str = "after") -> None:
        """Call ``callback(call)`` for every request: ``when="before"`` forwarding, or ``"after"`` moto
        answered (before the answer is relayed to the client). Exceptions in a callback are printed."""
        if when not in ("before", "after"):
            raise ValueError("when must be 'before' or 'after'")
        with self._lock:
            self._callbacks.append((when, callback))

    def clear(self) -> None:
        """Forget rules, callbacks, calls and counters; reseed the generator."""
        with self._lock:
            self._transient = None
            self._permanent.clear()
            self._once.clear()
            self._callbacks.clear()
            self._stats.clear()
            self.calls.clear()
            self._rng = random.Random(self.seed)

    # -- counters ------------------------------------------------------------------------------------------

    def stats(self) -> Dict[Tuple[str, str], OpStats]:
        with self._lock:
            return {k: OpStats(**vars(v)) for k, v in self._stats.items()}

    def totals(self) -> OpStats:
        total = OpStats()
        for s in self.stats().values():
            for f in vars(total):
                setattr(total, f, getattr(total, f) + getattr(s, f))
        return total

    def report(self, limit: Optional[int] = None) -> str:
        """A table of requests, calls, retries and faults per operation, most retried first."""
        rows = sorted(self.stats().items(), key=lambda kv: (-kv[1].retries, -kv[1].requests, kv[0]))
        if limit:
            rows = rows[:limit]
        lines = [f"{'service':<15} {'operation':<38} {'requests':>8} {'calls':>6} {'retries':>7} {'faults':>6}"]
        for (svc, op), s in rows:
            lines.append(f"{svc:<15} {op:<38} {s.requests:>8} {s.calls:>6} {s.retries:>7} {s.faults:>6}")
        t = self.totals()
        lines.append(f"{'total':<15} {'':<38} {t.requests:>8} {t.calls:>6} {t.retries:>7} {t.faults:>6}")
        return "\n".join(lines)

    # -- the decision (pure, under the lock) ---------------------------------------------------------------

    def _decide(self, service: str, operation: str, method: str, path: str, attempt: int,
                body: bytes) -> Tuple[Call, Optional[Union[str, Fault]]]:
        with self._lock:
            st = self._stats.setdefault((service, operation), OpStats())
            st.requests += 1
            if attempt > 1:
                st.retries += 1
            else:
                st.calls += 1
            call = Call(len(self.calls) + 1, service, operation, method, path, attempt, st.calls, body=body)
            self.calls.append(call)
            fault: Optional[Union[str, Fault]] = None
            for rule in self._permanent:
                if rule.service == service and rule.operation == operation:
                    if attempt == 1:
                        rule.seen += 1
                    if rule.seen > rule.after:
                        fault = rule.error
                        break
            for one in self._once:
                if (fault is None and not one.done and attempt == 1 and one.service == service
                        and one.operation == operation and st.calls == one.call):
                    one.done = True
                    fault = one.error
            t = self._transient
            if fault is None and t is not None:
                if (t.services is None or service in t.services) and (
                        t.operations is None or operation in t.operations):
                    if self._rng.random() < t.rate:
                        fault = self._rng.choice(t.kinds)
            if fault is not None:
                st.faults += 1
                call.fault = fault if isinstance(fault, str) else fault.code
            return call, fault

    def _run_callbacks(self, when: str, call: Call) -> None:
        with self._lock:
            callbacks = [cb for w, cb in self._callbacks if w == when]
        for cb in callbacks:
            try:
                cb(call)
            except Exception as exc:  # a test's callback must not take the proxy down
                print(f"fault proxy: on_call callback failed: {exc!r}")

    # -- lifecycle -----------------------------------------------------------------------------------------

    def start(self) -> "FaultProxy":
        proxy = self

        class Handler(_ProxyHandler):
            owner = proxy

        self._server = ThreadingHTTPServer(self._bind, Handler)
        self._server.daemon_threads = True
        host, port = self._server.server_address[:2]
        self.url = f"http://{host}:{port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="fault-proxy", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "FaultProxy":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"FaultProxy(url={self.url!r}, upstream={self.upstream!r})"


_HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade",
               "expect", "content-length"}


class _ProxyHandler(BaseHTTPRequestHandler):
    owner: FaultProxy
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's name
        pass  # quiet: the counters say what happened

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                line = self.rfile.readline()
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _reset(self) -> None:
        """Abort the connection with a TCP RST and no answer."""
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.close_connection = True
        try:
            self.connection.close()
        except OSError:
            pass

    def _send(self, status: int, headers: Dict[str, str], body: bytes, head: bool = False,
              length: Optional[str] = None) -> None:
        self.send_response_only(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", length if head and length is not None else str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _handle(self) -> None:
        owner = self.owner
        body = self._read_body()
        headers = {k.lower(): v for k, v in self.headers.items()}
        if self.path.startswith("/moto-api"):
            self._forward(body, None)
            return
        service = service_of(headers)
        operation = operation_of(service, self.command, self.path, headers, body)
        call, fault = owner._decide(service, operation, self.command, self.path, attempt_of(headers), body)
        owner._run_callbacks("before", call)
        if fault == "reset":
            owner._run_callbacks("after", call)
            self._reset()
            return
        if fault is not None and fault != "reset-after":
            f = fault if isinstance(fault, Fault) else fault_for(fault, service, owner._rng)
            status, fheaders, fbody = fault_response(f, service)
            call.status = status
            owner._run_callbacks("after", call)
            self._send(status, fheaders, fbody, head=self.command == "HEAD")
            return
        self._forward(body, call, reset_after=fault == "reset-after")

    def _forward(self, body: bytes, call: Optional[Call], reset_after: bool = False) -> None:
        owner = self.owner
        conn = http.client.HTTPConnection(owner._up_host, owner._up_port, timeout=owner._upstream_timeout)
        try:
            out_headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            out_headers["Content-Length"] = str(len(body))
            conn.request(self.command, self.path, body=body, headers=out_headers)
            resp = conn.getresponse()
            data = resp.read()
            status = resp.status
            rheaders = [(k, v) for k, v in resp.getheaders() if k.lower() not in _HOP_BY_HOP]
            upstream_length = resp.getheader("Content-Length")
        finally:
            conn.close()
        if call is not None:
            with owner._lock:
                owner._stats[call.key].forwarded += 1
            call.status = None if reset_after else status
            owner._run_callbacks("after", call)
        if reset_after:
            self._reset()
            return
        self.send_response_only(status)
        for k, v in rheaders:
            self.send_header(k, v)
        head = self.command == "HEAD"
        self.send_header("Content-Length", upstream_length if head and upstream_length else str(len(data)))
        self.end_headers()
        if not head:
            self.wfile.write(data)

    def _dispatch(self) -> None:
        try:
            self._handle()
        except (ConnectionError, BrokenPipeError, socket.timeout, OSError):
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _dispatch
