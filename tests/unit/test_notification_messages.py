"""Messages outside the app: escaping per format, portal-only links, the digest's window, backoff, redaction."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime

from services.delivery import digest_window, redact_url, retry_delay, url_hint
from services.notification_messages import (
    NoteView,
    absolute_link,
    render_digest,
    render_immediate,
    slack_payload,
    teams_payload,
)

PORTAL = "https://dmt.example.com"


def _note(n: int, kind: str = "critical_flags", title: str = "T", link: str | None = "/compliance", **kw) -> NoteView:
    when = kw.pop("created_at", datetime(2026, 3, 2, 8, n, tzinfo=UTC))
    return NoteView(id=n, kind=kind, severity=kw.pop("severity", "info"), title=title, body=kw.pop("body", ""),
                    link=link, created_at=when)  # fmt: skip


def test_links_point_only_at_the_portals_own_pages() -> None:
    assert absolute_link(PORTAL + "/", "/compliance") == "https://dmt.example.com/compliance"
    assert absolute_link(PORTAL, "https://evil.example/x") is None
    assert absolute_link(PORTAL, "//evil.example/x") is None
    assert absolute_link(PORTAL, None) is None


def test_immediate_email_escapes_html_and_keeps_text_readable() -> None:
    message = render_immediate(_note(1, title="<script>x</script> & co", body="line one\nline <b>two</b>"), PORTAL)
    assert message.subject == "[DMT-SLDP] <script>x</script> & co"
    assert "<script>" not in message.html and "&lt;script&gt;" in message.html and "&lt;b&gt;two" in message.html
    assert "line <b>two</b>" in message.text and "https://dmt.example.com/compliance" in message.text
    assert "https://dmt.example.com/notifications" in message.text  # where to change it


def test_digest_groups_by_kind_newest_first_and_takes_the_worst_severity() -> None:
    notes = [
        _note(1, "sprint_ending", "Sprint 4 ends", severity="info"),
        _note(2, "critical_flags", "3 flags", severity="critical"),
        _note(3, "sprint_ending", "Sprint 5 ends", severity="info"),
    ]
    message = render_digest(notes, date(2026, 3, 3), PORTAL)
    assert message.subject == "[DMT-SLDP] Your daily digest for 2026-03-03: 3 notifications"
    assert message.severity == "critical"
    text = message.text
    assert text.index("Sprints ending soon (2)") < text.index("Sprint 5 ends") < text.index("Sprint 4 ends")
    assert "New critical DMT flags (1)" in text


def test_chat_payloads() -> None:
    slack = slack_payload("<!channel> 3 flags", "a & b", "https://dmt.example.com/compliance", "critical")
    assert slack["text"] == "&lt;!channel&gt; 3 flags"  # no @channel, no link injection
    assert slack["blocks"][0]["text"]["text"] == "*&lt;!channel&gt; 3 flags*\na &amp; b"
    assert "<https://dmt.example.com/compliance|Open in DMT-SLDP>" in str(slack["blocks"][1])
    teams = teams_payload("3 flags", "", None, "high")
    card = teams["attachments"][0]
    assert teams["type"] == "message" and card["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert card["content"]["type"] == "AdaptiveCard" and "actions" not in card["content"]


def test_digest_window_is_the_24_hours_before_the_last_send_time() -> None:
    day, start, end = digest_window(datetime(2026, 3, 3, 9, 30, tzinfo=UTC), hour=7)
    assert (day, start, end) == (
        date(2026, 3, 3),
        datetime(2026, 3, 2, 7, tzinfo=UTC),
        datetime(2026, 3, 3, 7, tzinfo=UTC),
    )
    day, _, end = digest_window(datetime(2026, 3, 3, 6, 59, tzinfo=UTC), hour=7)
    assert day == date(2026, 3, 2) and end == datetime(2026, 3, 2, 7, tzinfo=UTC)


def test_retry_delay_doubles_with_jitter_caps_and_honours_retry_after() -> None:
    rng = random.Random(7)
    delays = [retry_delay(n, rng=rng) for n in (1, 2, 3, 4)]
    for n, value in enumerate(delays, start=1):
        ceiling = min(3600.0, 30.0 * 2 ** (n - 1))
        assert ceiling / 2 <= value <= ceiling
    assert retry_delay(20, rng=rng) <= 3600.0
    assert retry_delay(1, retry_after=300, rng=rng) >= 300


def test_webhook_secrets_are_redacted_from_errors_and_hints() -> None:
    url = "https://hooks.slack.com/services/T000/B000/XXXXsecretXXXX"
    message = f"{url} was not found (404): check the base URL"
    assert "XXXXsecretXXXX" not in redact_url(message, url)
    assert "hooks.slack.com" in redact_url(message, url)
    teams = "https://x.logic.azure.com/workflows/1/triggers/manual/paths/invoke?api-version=1&sig=abcSIG"
    assert "abcSIG" not in redact_url(f"answered 401 to {teams}", teams)
    assert url_hint(url) == "https://hooks.slack.com/…XXXX"
