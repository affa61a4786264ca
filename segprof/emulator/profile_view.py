"""Reading and rendering one emulator profile for `segprof profiles show`.

Owns: fetching `/emulator/v1/profiles/{id}` from the project's embedded workspace (in-process) or a
served emulator (`--url`), and the text rendering. Must never create a data folder while reading
and never print the token.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx

from segprof.emulator import project_data_dir
from segprof.emulator.app import create_app
from segprof.errors import SegprofError

if TYPE_CHECKING:
    from rich.console import Console

RECENT_EVENTS = 10


def fetch_profile(
    profile_id: str, *, project_dir: Path, url: str | None, token: str | None, kind: str | None
) -> dict[str, Any]:
    if kind not in (None, "user", "group"):
        raise SegprofError(f"--kind must be user or group, not {kind!r}")
    path = f"/emulator/v1/profiles/{quote(profile_id, safe='')}"
    params = {"kind": kind} if kind else {}
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if url:
        where = url
        try:
            response = httpx.get(url.rstrip("/") + path, params=params, headers=headers, timeout=30)
        except httpx.HTTPError as err:
            raise SegprofError(f"cannot reach the emulator at {url}: {type(err).__name__}") from None
    else:
        data_dir = project_data_dir(project_dir)
        where = str(data_dir)
        if not (data_dir / "emulator.sqlite3").exists():
            raise SegprofError(
                f"no embedded workspace data in {data_dir}",
                hint="run a sync against the local backend first, or pass --url of a served emulator",
            )
        app = create_app(data_dir, token=None)

        async def _get() -> httpx.Response:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://emulator") as client:
                return await client.get(path, params=params)

        response = asyncio.run(_get())
    if response.status_code == 404:
        raise SegprofError(f"no profile {profile_id!r} in the emulator at {where}")
    if response.status_code == 401:
        raise SegprofError(
            f"the emulator at {where} refused the token", hint="pass --token or SEGPROF_EMULATOR_TOKEN"
        )
    try:
        body = response.json()
        return body["data"]["profile"]
    except (json.JSONDecodeError, KeyError, TypeError):
        raise SegprofError(
            f"unexpected answer from the emulator at {where} (HTTP {response.status_code})"
        ) from None


def render_profile(console: Console, profile: dict[str, Any]) -> None:
    from rich.markup import escape
    from rich.table import Table

    kind = profile.get("kind", "user")
    console.print(f"[bold]{kind} {escape(str(profile.get('id')))}[/]")
    if profile.get("anonymousIds"):
        console.print(f"anonymous ids: {escape(', '.join(profile['anonymousIds']))}")
    console.print(f"first seen: {profile.get('firstSeenAt')}   last seen: {profile.get('lastSeenAt')}")
    traits = Table("trait", "value", title="traits", title_justify="left")
    for key, value in sorted(profile.get("traits", {}).items()):
        traits.add_row(escape(str(key)), escape(json.dumps(value, ensure_ascii=False)))
    console.print(traits if profile.get("traits") else "traits: (none)")
    if kind == "group":
        console.print(f"members: {escape(', '.join(profile.get('members', [])) or '(none)')}")
        return
    console.print(f"groups: {escape(', '.join(profile.get('groups', [])) or '(none)')}")
    subscriptions = profile.get("subscriptions") or []
    if subscriptions:
        table = Table("channel", "key", "status", "groups", title="subscriptions", title_justify="left")
        for sub in subscriptions:
            groups = ", ".join(f"{g['name']}={g.get('status')}" for g in sub.get("groups", []))
            table.add_row(sub["type"], escape(str(sub["key"])), str(sub.get("status")), escape(groups))
        console.print(table)
    events = profile.get("events") or []
    console.print(f"events: {len(events)}")
    for event in events[-RECENT_EVENTS:]:
        props = json.dumps(event.get("properties") or {}, ensure_ascii=False)
        console.print(f"  {event.get('timestamp')}  {escape(str(event.get('event')))}  {escape(props)}")
