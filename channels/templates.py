"""Notification e-mail texts in Finnish, Swedish and English.

Pure functions, no I/O: `render_email` turns a `Rendered` notification into a
subject, a plain-text body and an HTML alternative. By default the mail only
says that something new is waiting and links to it — the message body stays in
Reppu (data minimisation; many guardians read mail on shared devices). With
`full_text=True`, which a tenant has to allow, `notification.text` is included.
A daily digest (kind "digest") lists the unread subjects it was given.

Everything interpolated into HTML is escaped; links must be http(s), so a
`javascript:` URL can never end up in an href.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from channels.base import Rendered

Language = Literal["fi", "sv", "en"]


@dataclass(frozen=True, slots=True)
class _Texts:
    subject: str  # with a {title} placeholder
    new_item: str
    #: a daily digest (kind "digest"): its own subject and first line
    digest_subject: str
    digest_intro: str
    open_link: str
    unsubscribe: str


_TEXTS: dict[Language, _Texts] = {
    "fi": _Texts(
        subject="Uusi viesti Reppussa: {title}",
        new_item="Sinulle on uusi viesti Reppussa.",
        digest_subject="Reppu: {title}",
        digest_intro="Lukemattomat viestisi Reppussa:",
        open_link="Avaa viesti:",
        unsubscribe="Etkö halua näitä ilmoituksia sähköpostiin? Peru tilaus:",
    ),
    "sv": _Texts(
        subject="Nytt meddelande i Reppu: {title}",
        new_item="Du har ett nytt meddelande i Reppu.",
        digest_subject="Reppu: {title}",
        digest_intro="Dina olästa meddelanden i Reppu:",
        open_link="Öppna meddelandet:",
        unsubscribe="Vill du inte få dessa aviseringar per e-post? Avsluta prenumerationen:",
    ),
    "en": _Texts(
        subject="New message in Reppu: {title}",
        new_item="You have a new message in Reppu.",
        digest_subject="Reppu: {title}",
        digest_intro="Your unread messages in Reppu:",
        open_link="Open it:",
        unsubscribe="Don't want these notifications by email? Unsubscribe:",
    ),
}


@dataclass(frozen=True, slots=True)
class EmailContent:
    #: may still contain control characters from the title; the e-mail
    #: adapter sanitises it for the header
    subject: str
    text: str
    html: str


def _check_link(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise ValueError(f"e-mail links must be absolute http(s) URLs, got {url!r}")
    return url


def _html_paragraphs(text: str) -> str:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "<br>\n".join(html.escape(line) for line in lines)


def render_email(
    notification: Rendered, language: Language, *, unsubscribe_url: str, full_text: bool = False
) -> EmailContent:
    """The subject and both bodies for one notification in `language`."""
    texts = _TEXTS[language]
    link = _check_link(notification.url)
    unsubscribe = _check_link(unsubscribe_url)
    digest = notification.kind == "digest"
    subject = (texts.digest_subject if digest else texts.subject).format(title=notification.title)
    intro = texts.digest_intro if digest else texts.new_item

    plain = [intro, ""]
    rich = [f"<p>{html.escape(intro)}</p>"]
    if digest:
        # the list of unread subjects (subjects are what notification mails show anyway)
        plain += [notification.text, ""]
        rich.append(f"<p>{_html_paragraphs(notification.text)}</p>")
    elif full_text:
        plain += [notification.title, ""]
        rich.append(f"<p><strong>{html.escape(notification.title)}</strong></p>")
        if notification.text:
            plain += [notification.text, ""]
            rich.append(f"<p>{_html_paragraphs(notification.text)}</p>")
    plain += [texts.open_link, link, "", "-- ", texts.unsubscribe, unsubscribe, ""]
    href = html.escape(link, quote=True)
    rich.append(f'<p>{html.escape(texts.open_link)} <a href="{href}">{html.escape(link)}</a></p>')
    unsub_href = html.escape(unsubscribe, quote=True)
    rich.append(
        f'<p style="font-size:small">{html.escape(texts.unsubscribe)} '
        f'<a href="{unsub_href}">{html.escape(unsubscribe)}</a></p>'
    )
    body = "\n".join(rich)
    page = (
        f'<!DOCTYPE html>\n<html lang="{language}">\n<head><meta charset="utf-8">'
        f"<title>{html.escape(subject)}</title></head>\n<body>\n{body}\n</body>\n</html>\n"
    )
    return EmailContent(subject=subject, text="\n".join(plain), html=page)
