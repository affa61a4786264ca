"""Notifications of failed or partial sync runs to a Slack-compatible incoming webhook.

Owns the message text (one line per run that did not succeed) and the POST `{"text": …}`. Must
never include a secret (summaries hold none) nor fail the sync: a notification that cannot be
delivered is reported back as a warning.
"""

from __future__ import annotations

from collections.abc import Sequence

from segprof.sync.spec import RunSummary

QUIET = ("success", "dry_run", "rebaselined")


def notification_text(summaries: Sequence[RunSummary]) -> str | None:
    """The webhook text for the runs that failed, were partial or cancelled; None when all went well."""
    bad = [s for s in summaries if s.status not in QUIET]
    if not bad:
        return None
    lines = [f"segprof sync: {len(bad)} of {len(summaries)} mapping run(s) need attention"]
    for s in bad:
        line = (
            f"• {s.address or s.mapping_id}: {s.status} (run {s.run_id or '-'}; "
            f"{s.delivered} delivered, {s.failed} failed)"
        )
        if s.errors:
            line += f" — {s.errors[0][:300]}"
        lines.append(line)
    return "\n".join(lines)


def notify(url: str, summaries: Sequence[RunSummary], timeout: float = 10.0) -> str | None:
    """Post the notification if any run needs attention; returns a warning when it could not be sent."""
    import httpx

    text = notification_text(summaries)
    if text is None:
        return None
    try:
        response = httpx.post(url, json={"text": text}, timeout=timeout, trust_env=False)
    except httpx.HTTPError as err:
        return f"could not send the notification: {type(err).__name__}"
    if response.status_code >= 300:
        return f"the notification webhook answered HTTP {response.status_code}"
    return None
