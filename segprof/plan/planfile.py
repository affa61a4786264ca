"""Saved plans (`segprof plan --out FILE`) and the staleness check that guards applying them.

Owns: the file format (the plan's JSON plus the fingerprints of the config and of the live
workspace it was computed from) and refusing a saved plan when either has changed since.
Must never write a secret: the plan holds only redacted values and fingerprints; apply re-derives
the real values from the config, which must be unchanged. A `plan --preview` is kept for display
(sample records' mapped values, secrets scrubbed); apply and the staleness check never read it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from segprof import __version__
from segprof.errors import SegprofError
from segprof.files import write_atomically
from segprof.plan.model import Plan

PLANFILE_KIND = "segprof-plan"


def save_plan(plan: Plan, path: Path) -> None:
    data: dict[str, Any] = {"kind": PLANFILE_KIND, "segprof_version": __version__, **plan.to_json()}
    text = json.dumps(data, indent=2, sort_keys=False, default=str) + "\n"
    write_atomically(path, text, what="the plan")


def load_plan_header(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SegprofError(f"{path}: no such plan file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise SegprofError(f"{path}: not a readable segprof plan file ({err})") from None
    except RecursionError:
        raise SegprofError(f"{path}: not a segprof plan file (nested too deeply to read)") from None
    if not isinstance(data, dict) or data.get("kind") != PLANFILE_KIND:
        raise SegprofError(f"{path}: not a segprof plan file")
    return data


def check_not_stale(saved: dict[str, Any], current: Plan, path: Path) -> None:
    """Refuse a saved plan unless config and live workspace are exactly as when it was made."""
    if saved.get("config_fingerprint") != current.config_fingerprint:
        raise SegprofError(
            f"{path}: the saved plan is stale: the configuration changed since it was made",
            hint="run `segprof plan --out FILE` again and review the new plan",
        )
    if saved.get("live_fingerprint") != current.live_fingerprint:
        raise SegprofError(
            f"{path}: the saved plan is stale: the live workspace changed since it was made",
            hint="run `segprof plan --out FILE` again and review the new plan",
        )
    saved_changes = [(c.get("address"), c.get("action")) for c in saved.get("resource_changes", [])]
    now_changes = [(c.address, c.action.value) for c in current.changes]
    if saved_changes != now_changes:
        raise SegprofError(f"{path}: the saved plan no longer matches what apply would do; plan again")
