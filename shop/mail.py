"""Sending mail: SMTP when ``SHOP_MAIL_URL`` is set, otherwise the log and ``instance/mail/``.

Pages never talk to a mail server themselves: :func:`send_later` ends the request's transaction
and hands the message to the job queue, whose worker sends it with a connection timeout and
retries (a relay that is down or hangs costs the shopper nothing, holds no lock, and an address
with an account answers as fast as one without). With ``SHOP_JOBS_IMMEDIATE`` (the tests) the
worker's part runs at once, still after the transaction.

The development backend works like Django's console backend: nothing leaves the machine, and the
message (a password-reset link, say) can be read in the server's log or opened as an ``.eml``
file. ``SHOP_MAIL_URL`` takes ``smtp://host:port``, ``smtp+starttls://user:password@host:587``
or ``smtps://user:password@host:465``.
"""

from __future__ import annotations

import logging
import secrets
import smtplib
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import unquote, urlsplit

from flask import current_app, url_for

from shop.database import end_transaction
from shop.jobs import huey
from shop.seo.urls import base_url

log = logging.getLogger(__name__)

SMTP_TIMEOUT_SECONDS = 20
#: A message the relay refused or never took is tried again this many times, this far apart.
DELIVERY_RETRIES = 3
DELIVERY_RETRY_SECONDS = 60
#: Where links in mail point when no base URL is configured: the address `make run` prints.
DEVELOPMENT_BASE_URL = "http://127.0.0.1:5000"


class MailError(RuntimeError):
    """The message could not be handed to the mail server."""


def link(endpoint: str, **values) -> str:
    """An absolute link for a message, from configuration and never from the request's Host.

    A mail outlives the request that sent it and a forged ``Host`` header must not choose where a
    reset link points: ``SHOP_BASE_URL``, else ``SHOP_SERVER_NAME``, else (production) the first of
    ``SHOP_TRUSTED_HOSTS`` over https, else the development address.
    """
    base = base_url()
    if base is None:
        hosts = current_app.config.get("TRUSTED_HOSTS") or []
        if current_app.config["SHOP_ENV"] == "production" and hosts:
            base = f"https://{hosts[0]}"
        else:
            base = DEVELOPMENT_BASE_URL
    return base + url_for(endpoint, _external=False, **values)


def send_mail(to: str, subject: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = current_app.config["SHOP_MAIL_FROM"]
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")
    message.set_content(body)
    url = current_app.config["SHOP_MAIL_URL"]
    if url:
        _send_smtp(url, message)
    else:
        _write_to_folder(Path(current_app.config["SHOP_MAIL_DIR"]), message)
    return message


def _send_smtp(url: str, message: EmailMessage) -> None:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("smtp", "smtp+starttls", "smtps"):
        raise MailError(
            f"SHOP_MAIL_URL must start with smtp://, smtp+starttls:// or smtps://, not {scheme}://"
        )
    host = parts.hostname or "localhost"
    port = parts.port or {"smtp": 25, "smtp+starttls": 587, "smtps": 465}[scheme]
    client_class = smtplib.SMTP_SSL if scheme == "smtps" else smtplib.SMTP
    try:
        with client_class(host, port, timeout=SMTP_TIMEOUT_SECONDS) as smtp:
            if scheme == "smtp+starttls":
                smtp.starttls()
            if parts.username:
                smtp.login(unquote(parts.username), unquote(parts.password or ""))
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        raise MailError(f"could not send mail through {host}:{port}: {exc}") from exc


def _write_to_folder(folder: Path, message: EmailMessage) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    path = folder / f"{stamp}-{secrets.token_hex(4)}.eml"
    path.write_bytes(bytes(message))
    log.warning(
        "Mail not sent (SHOP_MAIL_URL is unset); saved to %s\nTo: %s\nSubject: %s\n\n%s",
        path,
        message["To"],
        message["Subject"],
        message.get_content(),
    )


@huey.task(name="deliver-mail", retries=DELIVERY_RETRIES, retry_delay=DELIVERY_RETRY_SECONDS)
def deliver(to: str, subject: str, body: str) -> None:
    """The worker's part of send_later: send, and raise MailError so that Huey tries again."""
    from shop.jobs import task_app

    with task_app().app_context():
        send_mail(to, subject, body)


def send_later(to: str, subject: str, body: str) -> None:
    """End the request's transaction, then queue the message for the worker to send."""
    end_transaction()
    try:
        deliver(to, subject, body)
    except MailError:
        # Immediate mode (no worker): the failure is the caller's to log, never the shopper's.
        log.exception("mail to %s could not be sent", to.split("@")[-1])
