"""The pydantic models of the segprof configuration language (docs/config-language.md).

Owns the typed shape of a project: workspace, sources (one class per warehouse type), models,
destinations and mappings, each resource knowing its address and where its keys and values sit
in the user's files. Must never print a secret: every credential is a `SecretStr`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    StrictBool,
    StrictStr,
    StringConstraints,
    field_validator,
)
from pydantic_core import PydanticCustomError

from segprof.config.fields import ACTIONS, Fields
from segprof.config.schedule import Schedule
from segprof.config.sqltext import SqlText
from segprof.config.yamltree import YNode, node_at
from segprof.errors import Location

NAME_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
SOURCE_TYPES = ("duckdb", "postgres", "snowflake", "bigquery", "redshift", "databricks", "azure")
Region = Literal["north_america", "europe"]
Trigger = Literal["new", "updated", "deleted"]


class _Strict(BaseModel):
    # defer_build: a class's validator is built on first use, so a command pays at start-up only
    # for the kinds of resource and source its project has (about 30 ms less for a sync)
    model_config = ConfigDict(
        extra="forbid", populate_by_name=True, hide_input_in_errors=True, defer_build=True
    )


class Resource(_Strict):
    """A named resource; knows its address and the positions of its key and values."""

    KIND: ClassVar[str] = ""

    _name: str = PrivateAttr("")
    _location: Location | None = PrivateAttr(None)
    _node: Any = PrivateAttr(None)

    @property
    def resource_name(self) -> str:
        return self._name

    @property
    def address(self) -> str:
        return f"{self.KIND}.{self._name}"

    @property
    def key_location(self) -> Location | None:
        """Where the resource's key (its name) is written."""
        return self._location

    def field_location(self, *path: str | int, key: bool = False) -> Location | None:
        """Where a value (or with `key=True`, its key) is written, e.g. `("fields", "traits", "email")`."""
        node: YNode | None = self._node
        found, key_loc = node_at(node, tuple(path))
        if key and key_loc is not None:
            return key_loc
        if found is None or (path and found is node):
            return self._location
        return found.loc

    def field_node(self, *path: str | int) -> YNode | None:
        """The positioned YAML node of a value (None when it is not written)."""
        found, _ = node_at(self._node, tuple(path))
        return None if found is self._node and path else found

    def attach(self, name: str, location: Location | None, node: Any) -> None:
        self._name = name
        self._location = location
        self._node = node


# --- sources ----------------------------------------------------------------------------------


class SourceBase(Resource):
    KIND: ClassVar[str] = "source"

    segment_source_id: StrictStr | None = None
    prevent_destroy: StrictBool = False


class DuckDBSource(SourceBase):
    type: Literal["duckdb"]
    path: StrictStr = Field(description='DuckDB file relative to segprof.yaml (":memory:" allowed)')
    memory_limit: StrictStr | None = Field(
        None, description="DuckDB's memory budget for segprof's connection, e.g. 2GB (default 512MB)"
    )
    temp_directory: StrictStr | None = Field(
        None,
        description="Where DuckDB spills past its memory budget, relative to segprof.yaml (default: beside the file)",
    )


class PostgresSource(SourceBase):
    type: Literal["postgres"]
    host: StrictStr
    port: int = 5432
    database: StrictStr
    user: StrictStr
    password: SecretStr | None = None
    db_schema: StrictStr | None = Field(None, alias="schema")


class RedshiftSource(SourceBase):
    type: Literal["redshift"]
    host: StrictStr
    port: int = 5439
    database: StrictStr
    user: StrictStr
    password: SecretStr | None = None
    db_schema: StrictStr | None = Field(None, alias="schema")
    sslmode: Literal["disable", "require", "verify-ca", "verify-full"] = "require"


class SnowflakeSource(SourceBase):
    type: Literal["snowflake"]
    account: StrictStr
    database: StrictStr | None = None
    warehouse: StrictStr | None = None
    user: StrictStr
    password: SecretStr | None = None
    role: StrictStr | None = None
    db_schema: StrictStr | None = Field(None, alias="schema")
    # A private endpoint (PrivateLink) or a local stand-in; by default the account's own host.
    host: StrictStr | None = None
    port: int | None = None
    protocol: Literal["https", "http"] | None = None


class BigQuerySource(SourceBase):
    type: Literal["bigquery"]
    project: StrictStr
    dataset: StrictStr | None = None
    location: StrictStr | None = None
    credentials_file: StrictStr | None = None


class DatabricksSource(SourceBase):
    type: Literal["databricks"]
    host: StrictStr | None = None
    # One of: a SQL warehouse (`http_path`, through databricks-sql-connector), a cluster reached
    # with Databricks Connect (`cluster_id`), or any Spark Connect endpoint (`connect_url`, sc://…);
    # the last two run segprof's SQL on the cluster through Spark Connect.
    http_path: StrictStr | None = None
    cluster_id: StrictStr | None = None
    connect_url: StrictStr | None = Field(None, pattern=r"^sc://[^;]+$")
    token: SecretStr | None = None
    catalog: StrictStr | None = None
    db_schema: StrictStr | None = Field(None, alias="schema")


class AzureSource(SourceBase):
    type: Literal["azure"]
    host: StrictStr
    port: int = 1433
    database: StrictStr
    user: StrictStr
    password: SecretStr | None = None
    db_schema: StrictStr | None = Field(None, alias="schema")


SOURCE_CLASSES: dict[str, type[SourceBase]] = {
    "duckdb": DuckDBSource,
    "postgres": PostgresSource,
    "snowflake": SnowflakeSource,
    "bigquery": BigQuerySource,
    "redshift": RedshiftSource,
    "databricks": DatabricksSource,
    "azure": AzureSource,
}

Source = Annotated[
    DuckDBSource
    | PostgresSource
    | SnowflakeSource
    | BigQuerySource
    | RedshiftSource
    | DatabricksSource
    | AzureSource,
    Field(discriminator="type"),
]


# --- models, destinations, mappings -------------------------------------------------------------


class Model(Resource):
    """A SQL query with its unique identifier column (Segment's Reverse ETL model)."""

    KIND: ClassVar[str] = "model"
    # a SQL model names its identifier; a dbt model may leave it to the dbt project's tests
    model_config = ConfigDict(
        **_Strict.model_config,
        json_schema_extra={"anyOf": [{"required": ["identifier"]}, {"required": ["dbt"]}]},
    )

    source: StrictStr | None = None
    # required unless `dbt` names a model whose manifest proves one column unique
    identifier: StrictStr | None = None
    query: StrictStr | None = None
    query_file: StrictStr | None = None
    dbt: StrictStr | None = Field(
        None,
        description="A dbt model (`name` or `package.name`) to select from instead of SQL; "
        "read from the dbt manifest (see `dbt:` in segprof.yaml)",
    )
    description: StrictStr | None = None
    enabled: StrictBool = True
    name: StrictStr | None = None
    moved_from: StrictStr | None = None
    prevent_destroy: StrictBool = False

    _sql: SqlText | None = PrivateAttr(None)
    _source_name: str | None = PrivateAttr(None)
    _dbt: Any = PrivateAttr(None)  # segprof.config.dbt_models.DbtLink, once the manifest is read

    @property
    def dbt_link(self) -> Any:
        """What the dbt manifest says of the model `dbt:` names (None for a SQL model)."""
        return self._dbt

    @property
    def sql(self) -> SqlText | None:
        """The SQL text and where it starts (inline scalar or `query_file`), once loaded."""
        return self._sql

    @property
    def source_name(self) -> str | None:
        """The source this model reads, resolved (the only source when `source:` is omitted)."""
        return self._source_name or self.source

    @property
    def display_name(self) -> str:
        return self.name or self._name


class Destination(Resource):
    """A Segment Profiles destination instance."""

    KIND: ClassVar[str] = "destination"

    type: Literal["segment_profiles"] = "segment_profiles"
    source: StrictStr | None = None
    region: Region = "north_america"
    write_key: SecretStr | None = None
    tracking_url: StrictStr | None = None
    enabled: StrictBool = True
    name: StrictStr | None = None
    moved_from: StrictStr | None = None
    prevent_destroy: StrictBool = False

    _source_name: str | None = PrivateAttr(None)

    @property
    def source_name(self) -> str | None:
        return self._source_name or self.source

    @property
    def display_name(self) -> str:
        return self.name or self._name


class Mapping(Resource):
    """Model → Segment Profiles action: which record changes, which fields, which schedule."""

    KIND: ClassVar[str] = "mapping"

    model: StrictStr
    destination: StrictStr
    action: Literal[ACTIONS]  # type: ignore[valid-type]
    on: list[Trigger] = Field(default_factory=lambda: ["new", "updated"], min_length=1)
    schedule: Schedule = "manual"
    enabled: StrictBool = True
    # synced by `segprof sync --self-hosted`: the workspace's copy must stay disabled (plan warns)
    self_hosted: StrictBool = Field(
        False,
        description="Synced by `segprof sync --self-hosted`; the workspace's copy must be disabled",
    )
    sync_nulls: StrictBool = True
    name: StrictStr | None = None
    moved_from: StrictStr | None = None
    prevent_destroy: StrictBool = False
    fields: Fields = Field(default_factory=Fields)
    raw_settings: dict[str, Any] = Field(default_factory=dict)

    @field_validator("on", mode="before")
    @classmethod
    def _non_empty(cls, value: Any) -> Any:
        if value is None or value == []:
            raise PydanticCustomError("trigger.empty", "`on` must list at least one of new, updated, deleted")
        if isinstance(value, str):
            return [value]
        return value

    @property
    def display_name(self) -> str:
        return self.name or self._name


class Workspace(_Strict):
    """Which workspace segprof manages: the embedded local one, or Segment's Public API."""

    backend: Literal["local", "segment"] = "local"
    token: SecretStr | None = None
    region: Region = "north_america"
    api_url: StrictStr | None = None


STATE_KEY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$"


class StateSettings(_Strict):
    """Where state lives: a file under `.segprof/` (default), or the warehouse of one source."""

    backend: Literal["local", "warehouse"] = Field(
        "local",
        description="local: .segprof/state.json; warehouse: a table in the managed schema __segprof, "
        "shared by every checkout (CI runs)",
    )
    source: StrictStr | None = Field(
        None,
        description="Which source's warehouse holds the state (default: the only source; "
        "required when the project has several)",
    )
    key: Annotated[str, StringConstraints(pattern=STATE_KEY_PATTERN)] = Field(
        "default",
        description="Names this project's state in the warehouse, so several projects or "
        "environments can share one",
    )


class DbtSettings(_Strict):
    """Where the dbt project and the artifacts dbt writes are, for models written `{dbt: name}`."""

    project_dir: StrictStr = Field(
        ".", description="The dbt project (the folder of dbt_project.yml), relative to segprof.yaml"
    )
    manifest: StrictStr | None = Field(
        None, description="dbt's manifest.json (default: <project_dir>/target/manifest.json)"
    )
    catalog: StrictStr | None = Field(
        None,
        description="dbt's catalog.json (default: beside the manifest); used when present and "
        "written after the manifest",
    )
    state: StrictStr | None = Field(
        None,
        description="Production's manifest.json (or its folder), as dbt's --state: `plan` lists the "
        "mappings whose dbt models changed against it",
    )


class DestinationOverride(_Strict):
    """What an environment may change of a destination."""

    write_key: SecretStr | None = None
    region: Region | None = None
    enabled: StrictBool | None = None


class Environment(_Strict):
    """One deployment of the project (`--env NAME` or SEGPROF_ENV): overrides of segprof.yaml."""

    workspace: dict[str, Any] | None = Field(
        None, description="Workspace keys to override (backend, token, region, api_url)"
    )
    state: dict[str, Any] | None = Field(
        None, description="State keys to override; `key` defaults to the environment's name"
    )
    sources: dict[Name, dict[str, Any]] = Field(
        default_factory=dict,
        description="Per source: connection keys to override (database, schema, path, host, …; not type)",
    )
    destinations: dict[Name, DestinationOverride] = Field(default_factory=dict)
    name_suffix: StrictStr | None = Field(
        None,
        description="Appended to every resource's name in the workspace (default: ` [NAME]`), so that "
        "environments sharing a workspace never take over each other's resources",
    )


class Project(_Strict):
    """A whole project: `segprof.yaml` plus every other YAML file below it."""

    version: Literal[1]
    workspace: Workspace = Field(default_factory=Workspace)
    state: StateSettings = Field(default_factory=StateSettings)
    dbt: DbtSettings | None = None
    environments: dict[Name, Environment] = Field(default_factory=dict)
    sources: dict[Name, Source] = Field(default_factory=dict)
    models: dict[Name, Model] = Field(default_factory=dict)
    destinations: dict[Name, Destination] = Field(default_factory=dict)
    mappings: dict[Name, Mapping] = Field(default_factory=dict)

    _root: Path | None = PrivateAttr(None)
    _files: list[str] = PrivateAttr(default_factory=list)
    _workspace_node: Any = PrivateAttr(None)
    _state_node: Any = PrivateAttr(None)
    _dbt_node: Any = PrivateAttr(None)
    _environment: str | None = PrivateAttr(None)  # the one selected, if any
    _name_suffix: str = PrivateAttr("")
    _declared: dict[str, set[str]] = PrivateAttr(default_factory=dict)

    def declared(self, kind: str) -> set[str]:
        """Every name declared under `kind` (e.g. "models"), including ones that failed to validate."""
        table: dict[str, Any] = getattr(self, kind)
        return self._declared.get(kind, set(table))

    def workspace_location(self, *path: str, key: bool = False) -> Location | None:
        """Where a workspace value (or its key) is written in segprof.yaml."""
        found, key_loc = node_at(self._workspace_node, tuple(path))
        if key:
            return key_loc
        return found.loc if found is not None else key_loc

    def state_location(self, *path: str, key: bool = False) -> Location | None:
        """Where a `state:` value (or its key) is written in segprof.yaml."""
        found, key_loc = node_at(self._state_node, tuple(path))
        if key:
            return key_loc
        return found.loc if found is not None else key_loc

    def dbt_location(self, *path: str) -> Location | None:
        """Where the `dbt:` block (or one of its values) is written in segprof.yaml."""
        found, key_loc = node_at(self._dbt_node, tuple(path))
        return found.loc if found is not None else key_loc

    @property
    def environment(self) -> str | None:
        """The environment this project was loaded for (`--env NAME` / SEGPROF_ENV), or None."""
        return self._environment

    @property
    def name_suffix(self) -> str:
        """Appended to every resource's workspace name in the selected environment ("" without one)."""
        return self._name_suffix

    @property
    def root(self) -> Path | None:
        """The project folder (the one holding segprof.yaml)."""
        return self._root

    @property
    def files(self) -> list[str]:
        """The YAML files read, relative to the project folder."""
        return list(self._files)

    def resources(self) -> list[Resource]:
        """Every resource, sources first, then models, destinations, mappings."""
        return [
            *self.sources.values(),
            *self.models.values(),
            *self.destinations.values(),
            *self.mappings.values(),
        ]

    def by_address(self, address: str) -> Resource | None:
        kind, _, name = address.partition(".")
        table = {
            "source": self.sources,
            "model": self.models,
            "destination": self.destinations,
            "mapping": self.mappings,
        }.get(kind)
        return table.get(name) if table is not None else None
