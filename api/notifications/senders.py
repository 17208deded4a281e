"""Who actually sends a push: FCM in production, the console in development and tests.

One small interface, `Sender.send(pushes) -> outcomes` (same length, same order), so the
dispatcher neither knows nor cares which one it has. Every payload is built here, from
the notification's generic title and body and an opaque id: nothing else leaves.
"""

from __future__ import annotations

import hashlib
import logging
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO, Any, Protocol
from urllib.parse import urlsplit

from api.config import ConfigError, Settings
from api.vocabulary import NotificationKind

log = logging.getLogger("api.notifications")

GOOGLE_FCM = "https://fcm.googleapis.com"
FCM_BATCH = 500  # send_each refuses more

# Outcome.error values; the dispatcher decides what each means for the row.
UNREGISTERED = "unregistered"  # the token is dead (or not ours): delete it
QUOTA = "quota"  # 429: back off with jitter, retry later
TRANSIENT = "transient"  # 5xx, timeouts, connection errors: bounded retries
REJECTED = "rejected"  # FCM refused this message (400): retrying will not help
HIGH_PRIORITY = (NotificationKind.ALERT, NotificationKind.ESCALATION)


@dataclass(frozen=True)
class Push:
    """One notification to one device."""

    notification_id: uuid.UUID
    token: str
    platform: str
    kind: str
    title: str
    body: str
    link: str | None
    collapse_key: str


@dataclass(frozen=True)
class Outcome:
    ok: bool
    error: str | None = None
    code: str | None = None  # the provider's error code, for last_error (never the token)
    retry_after: float | None = None  # seconds, when the provider said


SENT = Outcome(ok=True)


class Sender(Protocol):
    max_batch: int

    def send(self, pushes: Sequence[Push]) -> list[Outcome]: ...


def payload_data(push: Push) -> dict[str, str]:
    """The app opens `link` (or the notification) by id and fetches the rest signed in."""
    data = {"notification_id": str(push.notification_id), "kind": push.kind}
    if push.link:
        data["link"] = push.link
    return data


class ConsoleSender:
    """Development and tests: one line per push (id, kind, generic title), nothing sent."""

    max_batch = FCM_BATCH

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stdout

    def send(self, pushes: Sequence[Push]) -> list[Outcome]:
        for push in pushes:
            print(
                f"push {push.notification_id} {push.kind} {push.title!r} ({push.platform})",
                file=self.stream,
                flush=True,
            )
        return [SENT for _ in pushes]


class FcmSender:
    """firebase-admin `messaging.send_each`, ≤500 per call, errors sorted per message."""

    max_batch = FCM_BATCH

    def __init__(
        self,
        *,
        project_id: str,
        credentials: str | dict[str, Any] | None,
        base_url: str | None,
        env: str,
        timeout: float,
    ) -> None:
        import firebase_admin
        from firebase_admin import credentials as firebase_credentials
        from firebase_admin import exceptions, messaging

        credential = (
            firebase_credentials.Certificate(credentials)
            if credentials
            else firebase_credentials.ApplicationDefault()
        )
        self._messaging = messaging
        self._errors = exceptions
        self._app = firebase_admin.initialize_app(
            credential,
            {"projectId": project_id, "httpTimeout": timeout},
            name=f"companion-push-{uuid.uuid4().hex[:8]}",
        )
        use_fcm_endpoint(self._app, base_url, env=env)
        # One OAuth token now: bad credentials fail at start, and the first batch's 500
        # threads do not each fetch their own.
        self._app.credential.get_access_token()

    def send(self, pushes: Sequence[Push]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        for start in range(0, len(pushes), FCM_BATCH):
            chunk = [fcm_message(push) for push in pushes[start : start + FCM_BATCH]]
            try:
                batch = self._messaging.send_each(chunk, app=self._app)
            except self._errors.FirebaseError as error:  # e.g. no OAuth token: all of them
                log.warning("fcm batch failed", extra={"error": type(error).__name__})
                outcomes.extend(Outcome(ok=False, error=TRANSIENT, code=error.code) for _ in chunk)
                continue
            outcomes.extend(_outcome(response) for response in batch.responses)
        return outcomes

    def close(self) -> None:
        import firebase_admin

        firebase_admin.delete_app(self._app)


def fcm_message(push: Push) -> Any:
    """Generic text, opaque data; private on Android's lock screen, no preview text on iOS.

    firebase-admin 7.7 deprecates `Message(token=...)` for `fid` (installation ids) and
    warns on every message. Our apps register FCM registration tokens, which FCM's v1
    API still takes in the `token` field, so we keep `token` and set it after
    construction: no warning per message, no global warning filter.
    """
    from firebase_admin import messaging

    collapse = wire_collapse_key(push.collapse_key)
    message = messaging.Message(
        data=payload_data(push),
        notification=messaging.Notification(title=push.title, body=push.body),
        android=messaging.AndroidConfig(
            collapse_key=collapse,
            # Alerts wake a dozing Android phone at once; everything else can wait.
            priority="high" if push.kind in HIGH_PRIORITY else "normal",
            notification=messaging.AndroidNotification(visibility="private"),
        ),
        apns=messaging.APNSConfig(headers={"apns-collapse-id": collapse}),
        webpush=messaging.WebpushConfig(headers={"Topic": collapse}),
    )
    message.token = push.token
    return message


def wire_collapse_key(collapse_key: str) -> str:
    """Planners key collapse by what a row is about ("phq9:…"): only a digest leaves us.
    24 hex characters fit Android, APNs (≤64 bytes) and Web Push topics (≤32)."""
    return hashlib.sha256(collapse_key.encode()).hexdigest()[:24]


def _outcome(response: Any) -> Outcome:
    if response.success:
        return SENT
    from firebase_admin import exceptions, messaging

    error = response.exception
    code = getattr(error, "code", None) or type(error).__name__
    if isinstance(error, messaging.UnregisteredError | messaging.SenderIdMismatchError):
        return Outcome(ok=False, error=UNREGISTERED, code=type(error).__name__)
    if isinstance(error, messaging.QuotaExceededError):
        return Outcome(ok=False, error=QUOTA, code=code, retry_after=_retry_after(error))
    if isinstance(error, exceptions.InvalidArgumentError):
        return Outcome(ok=False, error=REJECTED, code=code)
    return Outcome(ok=False, error=TRANSIENT, code=code)


def _retry_after(error: Any) -> float | None:
    response = getattr(error, "http_response", None)
    value = response.headers.get("Retry-After") if response is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None  # an HTTP date: our own backoff applies


def use_fcm_endpoint(app: Any, base_url: str | None, *, env: str) -> str:
    """Point an app's messaging at `base_url` and take the SDK's sleeping retries out.

    The one place that touches firebase-admin's private parts (7.x has no endpoint
    setting): `_MessagingService._fcm_url`, built from the class attribute `FCM_URL`.
    tests/test_push_delivery.py fails loudly if either disappears. Production refuses
    anything but Google's host. Returns the send URL in use.

    Retries: the SDK retries 500/503 four times and honours 429 Retry-After inside the
    call, sleeping for real (~7.5 s per failing message) while holding the batch. The
    dispatcher already retries with backoff and a bounded number of attempts, recorded
    in the row, so the SDK makes one attempt (plus one reconnect for a dropped
    keep-alive connection).
    """
    import requests
    from firebase_admin import messaging
    from urllib3.util import retry

    base = (base_url or GOOGLE_FCM).rstrip("/")
    parts = urlsplit(base)
    if env == "production" and (
        parts.scheme != "https" or not (parts.hostname or "").endswith(".googleapis.com")
    ):
        raise ConfigError(f"FCM_BASE_URL must be a Google URL in production, not {base!r}")
    service = messaging._get_messaging_service(app)
    if not hasattr(service, "_fcm_url") or not hasattr(type(service), "FCM_URL"):
        raise RuntimeError(
            "firebase-admin no longer has _MessagingService._fcm_url / FCM_URL: "
            "the FCM endpoint override needs updating for this version"
        )
    service._fcm_url = f"{base}/v1/projects/{app.project_id}/messages:send"
    one_attempt = retry.Retry(
        total=None,
        connect=1,
        read=0,
        status=0,
        other=0,
        redirect=0,
        status_forcelist=(),
        respect_retry_after_header=False,
        raise_on_status=False,
        allowed_methods=None,
    )
    adapter = requests.adapters.HTTPAdapter(
        pool_connections=4, pool_maxsize=FCM_BATCH, max_retries=one_attempt
    )
    service._client.session.mount(base, adapter)
    return str(service._fcm_url)


def build_sender(settings: Settings) -> Sender:
    """The sender the settings name; production refuses the console sender."""
    if settings.push_sender == "console":
        if settings.env == "production":
            raise ConfigError("production sends pushes through FCM (PUSH_SENDER=fcm)")
        return ConsoleSender()
    if settings.push_sender == "fcm":
        return FcmSender(
            project_id=settings.firebase_project_id,
            credentials=settings.fcm_credentials,
            base_url=settings.fcm_base_url,
            env=settings.env,
            timeout=settings.fcm_timeout_seconds,
        )
    raise ConfigError(f"PUSH_SENDER must be console or fcm, not {settings.push_sender!r}")
