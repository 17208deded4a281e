"""Who sends an email: the console in development and tests, SMTP in production.

The same shape as the push senders (`send(emails) -> outcomes`, same length and order),
so the dispatcher treats email as one more channel. Subject and body come from the
notification's kind (`api.notifications.texts`): generic words and a sign-in link, never
health data. Standard library only (`smtplib`, `email.message`).

SMTP_URL: `smtp://user:password@host:587` (STARTTLS) or `smtps://…:465` (TLS from the
first byte). Outside development a server that does not offer STARTTLS is refused: the
address and the link would otherwise cross the network in the clear.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid, parseaddr
from typing import IO, Protocol
from urllib.parse import unquote, urlsplit

from api.config import ConfigError, Settings
from api.notifications.senders import REJECTED, SENT, TRANSIENT, Outcome

log = logging.getLogger("api.notifications")
SMTP_BATCH = 100  # messages per SMTP connection


@dataclass(frozen=True)
class Email:
    """One notification to one verified address."""

    notification_id: uuid.UUID
    to: str
    kind: str
    subject: str
    body: str


class EmailSender(Protocol):
    max_batch: int

    def send(self, emails: Sequence[Email]) -> list[Outcome]: ...


def message(email: Email, sender: str) -> EmailMessage:
    """Plain text only: no images to fetch, no tracking, nothing hidden in HTML."""
    built = EmailMessage()
    built["From"] = sender
    built["To"] = email.to
    built["Subject"] = email.subject
    # Our own domain, not this machine's name.
    domain = parseaddr(sender)[1].rpartition("@")[2] or "companion.invalid"
    built["Message-ID"] = make_msgid(idstring=email.notification_id.hex, domain=domain)
    built["Auto-Submitted"] = "auto-generated"
    built.set_content(email.body)
    return built


class ConsoleEmailSender:
    """Development and tests: one line per email (id, kind, subject); no address printed."""

    max_batch = SMTP_BATCH

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stdout

    def send(self, emails: Sequence[Email]) -> list[Outcome]:
        for email in emails:
            print(
                f"email {email.notification_id} {email.kind} {email.subject!r}",
                file=self.stream,
                flush=True,
            )
        return [SENT for _ in emails]


class SmtpSender:
    """One connection per batch; STARTTLS (or smtps) unless `require_tls` is off."""

    max_batch = SMTP_BATCH

    def __init__(
        self,
        *,
        url: str,
        sender: str,
        require_tls: bool,
        timeout: float = 10.0,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ConfigError("SMTP_URL must look like smtp://user:password@host:587")
        self.host = parts.hostname
        self.implicit_tls = parts.scheme == "smtps"
        self.port = parts.port or (465 if self.implicit_tls else 587)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.sender = sender
        self.require_tls = require_tls
        self.timeout = timeout
        self.tls_context = tls_context or ssl.create_default_context()

    def send(self, emails: Sequence[Email]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        for start in range(0, len(emails), SMTP_BATCH):
            outcomes += self._send_batch(emails[start : start + SMTP_BATCH])
        return outcomes

    def _send_batch(self, emails: Sequence[Email]) -> list[Outcome]:
        try:
            connection = self._connect()
        except (OSError, smtplib.SMTPException) as error:
            log.warning("smtp connection failed", extra={"error": type(error).__name__})
            return [Outcome(ok=False, error=TRANSIENT, code=_code(error)) for _ in emails]
        outcomes = []
        try:
            for email in emails:
                outcomes.append(self._send_one(connection, email))
        finally:
            try:
                connection.quit()
            except (OSError, smtplib.SMTPException):
                connection.close()
        return outcomes

    def _connect(self) -> smtplib.SMTP:
        if self.implicit_tls:
            connection: smtplib.SMTP = smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=self.tls_context
            )
        else:
            connection = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            connection.ehlo()
            if not self.implicit_tls:
                if connection.has_extn("starttls"):
                    connection.starttls(context=self.tls_context)
                    connection.ehlo()
                elif self.require_tls:
                    raise smtplib.SMTPNotSupportedError("the server does not offer STARTTLS")
            if self.username:
                connection.login(self.username, self.password or "")
        except BaseException:
            connection.close()
            raise
        return connection

    def _send_one(self, connection: smtplib.SMTP, email: Email) -> Outcome:
        try:
            connection.send_message(message(email, self.sender))
        except smtplib.SMTPRecipientsRefused as error:
            codes = [code for code, _ in error.recipients.values()]
            permanent = all(code >= 500 for code in codes)
            return Outcome(ok=False, error=REJECTED if permanent else TRANSIENT, code=_code(error))
        except smtplib.SMTPResponseException as error:
            permanent = error.smtp_code >= 500
            return Outcome(ok=False, error=REJECTED if permanent else TRANSIENT, code=_code(error))
        except (OSError, smtplib.SMTPException) as error:
            return Outcome(ok=False, error=TRANSIENT, code=_code(error))
        return SENT


def _code(error: BaseException) -> str:
    """For last_error: the SMTP status or the error's class, never an address."""
    if isinstance(error, smtplib.SMTPResponseException):
        return f"smtp {error.smtp_code}"
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = sorted({code for code, _ in error.recipients.values()})
        return "smtp " + ",".join(str(code) for code in codes)
    return type(error).__name__


def build_email_sender(settings: Settings) -> EmailSender:
    """SMTP when SMTP_URL is set; otherwise the console, which production refuses (a
    dispatcher will not start without it)."""
    sender = configured_sender(settings)
    if sender is None:
        raise ConfigError("production sends email through SMTP: set SMTP_URL")
    return sender


def configured_sender(settings: Settings) -> EmailSender | None:
    """The same, or None in production without SMTP_URL (a request says so, not a 500)."""
    if settings.smtp_url:
        return SmtpSender(
            url=settings.smtp_url,
            sender=settings.email_from,
            require_tls=settings.env != "development",
        )
    return None if settings.env == "production" else ConsoleEmailSender()
