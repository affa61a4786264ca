"""Typed views of the Segment Public API resources segprof reads and writes.

Owns: pydantic models for sources, Reverse ETL models, destinations, destination subscriptions
(mappings), schedules, manual syncs and sync statuses, and the catalog metadata of the Segment
Profiles destination. Parsing is tolerant of what real read-backs contain (unknown keys, `name:
null`, `modelId: ""`, counts as strings, lowercase schedule strategies, `description: " "`,
censored secrets). Must never perform I/O or hold credentials; settings are kept as returned so
callers can see which values are censored.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

#: Catalog id of the Segment Profiles (actions) destination.
SEGMENT_PROFILES_METADATA_ID = "639c2dbb1309fdcad13951b6"

#: The character Segment uses to censor secret settings on read-back.
CENSOR_CHAR = "•"


def is_censored(value: object) -> bool:
    """True when a read-back setting value is censored (contains `•`) and so unknowable."""
    return isinstance(value, str) and CENSOR_CHAR in value


class ApiModel(BaseModel):
    """Base: camelCase on the wire, unknown keys ignored, snake_case in Python."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


def _blank_to_none(value: object) -> object:
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _count(value: object) -> object:
    # Sync counts arrive as strings ("12"); empty means unknown.
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            return int(text)
        except ValueError:
            return int(float(text))
    return value


# --- catalog -----------------------------------------------------------------------------------


class ActionField(ApiModel):
    id: str | None = None
    field_key: str
    label: str | None = None
    type: str | None = None
    description: str | None = None
    required: bool = False
    multiple: bool = False
    dynamic: bool = False
    allow_null: bool = False
    hidden: bool | None = None
    default_value: Any = None
    choices: Any = None


class CatalogAction(ApiModel):
    id: str
    slug: str
    name: str | None = None
    description: str | None = None
    platform: str | None = None
    hidden: bool = False
    default_trigger: str | None = None
    fields: list[ActionField] = Field(default_factory=list)


class DestinationMetadata(ApiModel):
    id: str
    name: str | None = None
    slug: str | None = None
    description: str | None = None
    status: str | None = None
    supported_regions: list[str] | None = None
    actions: list[CatalogAction] = Field(default_factory=list)

    def action_by_slug(self, slug: str) -> CatalogAction | None:
        return next((a for a in self.actions if a.slug == slug), None)

    def action_ids(self) -> dict[str, str]:
        """Action slug → actionId, the lookup subscriptions need."""
        return {a.slug: a.id for a in self.actions}


class MetadataSummary(ApiModel):
    """The catalog entry embedded in a destination: only what identifies it.

    A destination read-back embeds the whole catalog object (every action and field); parsing
    all of it for each destination would dominate reading a workspace, and the catalog is read
    once on its own anyway.
    """

    id: str
    name: str | None = None
    slug: str | None = None


class SourceMetadata(ApiModel):
    id: str
    name: str | None = None
    slug: str | None = None
    description: str | None = None
    categories: list[str] = Field(default_factory=list)
    options: list[dict[str, Any]] = Field(default_factory=list)


# --- sources -------------------------------------------------------------------------------


class Label(ApiModel):
    key: str
    value: str
    description: str | None = None


class Source(ApiModel):
    id: str
    slug: str | None = None
    name: str | None = None
    enabled: bool = True
    workspace_id: str | None = None
    metadata: SourceMetadata | None = None
    # Write keys are secrets; excluded from repr so they never reach logs by accident.
    write_keys: list[str] = Field(default_factory=list, repr=False)
    settings: dict[str, Any] = Field(default_factory=dict)
    labels: list[Label] = Field(default_factory=list)

    @field_validator("settings", mode="before")
    @classmethod
    def _settings_none(cls, value: object) -> object:
        return {} if value is None else value

    @field_validator("write_keys", "labels", mode="before")
    @classmethod
    def _list_none(cls, value: object) -> object:
        return [] if value is None else value

    @property
    def metadata_id(self) -> str | None:
        return self.metadata.id if self.metadata else None


# --- models --------------------------------------------------------------------------------


class ReverseEtlModel(ApiModel):
    id: str
    source_id: str
    name: str | None = None
    # UI-created models read back `" "`; whitespace-only means "no description".
    description: str | None = None
    enabled: bool = True
    query: str = ""
    query_identifier_column: str | None = None

    @field_validator("description", "query_identifier_column", mode="before")
    @classmethod
    def _blank(cls, value: object) -> object:
        return _blank_to_none(value)


# --- destinations --------------------------------------------------------------------------


class Destination(ApiModel):
    id: str
    name: str | None = None
    enabled: bool = False
    source_id: str
    metadata: MetadataSummary | None = None
    settings: dict[str, Any] = Field(default_factory=dict)

    @field_validator("settings", mode="before")
    @classmethod
    def _settings_none(cls, value: object) -> object:
        return {} if value is None else value

    @property
    def metadata_id(self) -> str | None:
        return self.metadata.id if self.metadata else None

    @property
    def is_segment_profiles(self) -> bool:
        return self.metadata_id == SEGMENT_PROFILES_METADATA_ID


# --- subscriptions ---------------------------------------------------------------------------

SCHEDULE_STRATEGIES = ("MANUAL", "PERIODIC", "SPECIFIC_DAYS", "CRON", "DBT_CLOUD")


class Schedule(ApiModel):
    """`reverseETLSchedule`: the strategy (always uppercase here) and its raw config.

    The config is kept as a plain dict keyed as the API sends it: strict unions broke other
    clients when the API returned shapes they did not expect.
    """

    strategy: str
    config: dict[str, Any] | None = None

    @field_validator("strategy", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("config", mode="before")
    @classmethod
    def _empty_config(cls, value: object) -> object:
        return None if value in ({}, "") else value

    def to_api(self) -> dict[str, Any]:
        body: dict[str, Any] = {"strategy": self.strategy}
        if self.config is not None:
            body["config"] = self.config
        return body


class Subscription(ApiModel):
    id: str
    name: str | None = None
    action_id: str | None = None
    action_slug: str | None = None
    destination_id: str | None = None
    model_id: str | None = None
    enabled: bool = False
    trigger: str | None = None
    settings: dict[str, Any] = Field(default_factory=dict)
    reverse_etl_schedule: Schedule | None = Field(default=None, alias="reverseETLSchedule")

    @field_validator("model_id", "action_id", "action_slug", mode="before")
    @classmethod
    def _blank(cls, value: object) -> object:
        # Non-RETL subscriptions read back `modelId: ""`.
        return _blank_to_none(value)

    @field_validator("settings", mode="before")
    @classmethod
    def _settings_none(cls, value: object) -> object:
        return {} if value is None else value

    @field_validator("reverse_etl_schedule", mode="before")
    @classmethod
    def _schedule_empty(cls, value: object) -> object:
        if value in ({}, "") or (isinstance(value, dict) and not value.get("strategy")):
            return None
        return value


# --- syncs -----------------------------------------------------------------------------------


class ManualSync(ApiModel):
    sync_id: str
    started_at: str | None = None

    @field_validator("sync_id", mode="before")
    @classmethod
    def _str(cls, value: object) -> object:
        return str(value) if isinstance(value, int) else value


class ExtractPhase(ApiModel):
    added_count: int | None = None
    updated_count: int | None = None
    deleted_count: int | None = None
    extract_count: int | None = None
    error_code: str | None = None
    started_at: str | None = None
    finished_at: str | None = None

    @field_validator("added_count", "updated_count", "deleted_count", "extract_count", mode="before")
    @classmethod
    def _counts(cls, value: object) -> object:
        return _count(value)

    @field_validator("error_code", "started_at", "finished_at", mode="before")
    @classmethod
    def _blank(cls, value: object) -> object:
        return _blank_to_none(value)


class LoadPhase(ApiModel):
    deliver_success_count: int | None = None
    deliver_failure_count: int | None = None
    error_code: str | None = None
    started_at: str | None = None
    finished_at: str | None = None

    @field_validator("deliver_success_count", "deliver_failure_count", mode="before")
    @classmethod
    def _counts(cls, value: object) -> object:
        return _count(value)

    @field_validator("error_code", "started_at", "finished_at", mode="before")
    @classmethod
    def _blank(cls, value: object) -> object:
        return _blank_to_none(value)


#: Sync states after which nothing more will happen.
FINISHED_SYNC_STATUSES = frozenset({"SUCCESS", "FAIL", "FAILED", "PARTIAL_SUCCESS", "CANCELED", "CANCELLED"})


class SyncStatus(ApiModel):
    sync_id: str
    model_id: str | None = None
    source_id: str | None = None
    sync_status: str | None = None
    duration: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    extract_phase: ExtractPhase | None = None
    load_phase: LoadPhase | None = None
    error: str | None = None
    error_code: str | None = None

    @field_validator("sync_id", mode="before")
    @classmethod
    def _str(cls, value: object) -> object:
        return str(value) if isinstance(value, int) else value

    @field_validator("sync_status", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) and value.strip() else None

    @field_validator("error", "error_code", "finished_at", "duration", mode="before")
    @classmethod
    def _blank(cls, value: object) -> object:
        return _blank_to_none(value)

    @property
    def finished(self) -> bool:
        return self.sync_status in FINISHED_SYNC_STATUSES


class CancelResult(ApiModel):
    model_id: str | None = None
    sync_id: str | None = None
    status: str | None = None
    error_code: str | None = None
    error_message: str | None = None
