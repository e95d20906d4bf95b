"""The settings tree: a TOML file, overridden by `CUSTOS_*` environment variables, then by arguments.

Embedded defaults make a deployment out of nothing: SQLite and footage in one local data folder.
Nested fields are set from the environment with a double underscore, e.g.
`CUSTOS_RECORDER__SEGMENT_S=30` or `CUSTOS_DATABASE_URL=postgresql+psycopg://…`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


class RecorderSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    backend: Literal["batch", "pyav"] = Field(
        "batch", description="Ingest client: 'batch' (our batching RTSP client) or 'pyav' (FFmpeg's demuxer)."
    )
    segment_s: float = Field(60.0, gt=0, le=3600, description="Target segment length; cut at the next keyframe.")
    fragment_ms: int = Field(
        1000, ge=100, le=1000, description="Fragments are written and fsynced at least this often (DESIGN principle 5)."
    )
    read_interval_ms: int = Field(
        100,
        ge=1,
        le=500,
        description="How often the batching client drains its sockets (fewer, larger reads cost less CPU).",
    )
    rtsp_timeout_s: float = Field(10.0, gt=0, description="No data for this long counts as an outage.")
    reconnect_min_s: float = Field(1.0, gt=0, description="First reconnect delay; doubles up to reconnect_max_s.")
    reconnect_max_s: float = Field(30.0, gt=0, description="Longest reconnect delay.")
    min_free_bytes: int = Field(
        256 * 1024 * 1024, ge=0, description="Below this free space the recorder raises a disk alarm."
    )


class StorageSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    backend: Literal["local"] = Field("local", description="Where segments live; S3 Object Lock follows.")
    root: Path | None = Field(None, description="Folder for footage; defaults to DATA_DIR/footage.")


class WebSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = Field("127.0.0.1", description="Address the console listens on.")
    port: int = Field(8080, ge=0, le=65535, description="Port the console listens on (0: any free port).")


class AuthSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    session_ttl_s: int = Field(8 * 3600, gt=0, description="A login lasts this long (one shift), then ends.")
    max_failures: int = Field(
        5, ge=1, description="Failed logins of one account within failure_window_s before it is throttled."
    )
    max_failures_per_address: int = Field(
        20, ge=1, description="Failed logins from one client address within the window."
    )
    failure_window_s: int = Field(15 * 60, gt=0, description="Window over which failed logins are counted.")
    min_password_length: int = Field(10, ge=8, description="Shortest password accepted.")
    argon2_memory_kib: int = Field(65536, ge=1024, description="argon2id memory per hash (RFC 9106: 64 MiB).")
    argon2_time_cost: int = Field(3, ge=1, description="argon2id passes per hash.")


class LedgerSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    key_file: Path | None = Field(
        None,
        description="Ed25519 key that signs tree heads, kept outside the database; default DATA_DIR/keys/ledger.key.",
    )
    witness_file: Path | None = Field(
        None,
        description="Append-only copy of every signed tree head outside the data folder; default DATA_DIR.witness beside it.",
    )
    origin: str | None = Field(None, description="The checkpoint origin line; default custos/<key id>.")
    checkpoint_interval_s: float = Field(60.0, gt=0, description="A new tree head is signed at least this often.")


class PolicySettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    packs: tuple[str, ...] = Field(("CN",), min_length=1, description="Policy packs in force, e.g. ['CN', 'HB'].")
    local_pack: Path | None = Field(None, description="A deployment's own pack (TOML), stacked on top of `packs`.")


class RegistrySettings(BaseModel):
    """The deployment's own thresholds for findings where the texts give no figure (never a pack's figure)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    outage_report_min_minutes: float = Field(
        30.0, ge=0, description="Outages at least this long must be reported to the filing PSB (HB-17.4)."
    )
    outage_report_within_hours: float = Field(
        24.0, gt=0, description="An outage not reported this long after it began is a finding (HB-17.4)."
    )
    inspection_interval_days: int = Field(
        90, gt=0, description="A unit with no safety inspection for this long is a finding (HB-17.1, BJ-12.2)."
    )
    request_max_valid_days: int = Field(30, gt=0, description="The longest an approved authority request stays valid.")
    emergency_valid_hours: float = Field(24.0, gt=0, description="How long an approved emergency request stays valid.")


class HealthSettings(BaseModel):
    """Camera health and tamper checks (HB-17.4, BJ-12.3, HB-18.1, BJ-12.4, CN-23): how often, and what a
    fault does. Per-camera thresholds are the camera's own (`custos.health.analysis.Thresholds`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(True, description="Check every recorded camera's keyframes.")
    interval_s: float = Field(
        10.0, ge=0, le=3600, description="At most one keyframe per camera is checked this often (0: every keyframe)."
    )
    signal_loss_s: float = Field(
        15.0, gt=0, description="No picture for this long raises signal loss (the recorder's outage follows)."
    )
    hold_before_s: int = Field(
        300, ge=0, description="A tamper event's hold starts this long before it (where the packs put one)."
    )
    hold_after_s: int = Field(600, ge=0, description="... and ends this long after it began.")


class MqttSettings(BaseModel):
    """Events and camera status out to MQTT, with Home Assistant discovery (docs/ref/mqtt.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(False, description="Publish events and camera status to an MQTT broker.")
    host: str = Field("127.0.0.1", description="The broker's address.")
    port: int = Field(1883, ge=1, le=65535, description="The broker's port.")
    username: str | None = Field(None, description="Broker account, if it asks for one.")
    password: str | None = Field(None, description="Broker password.")
    topic_prefix: str = Field(
        "custos", pattern=r"^[A-Za-z0-9_\-/]+$", description="First level of every topic custos publishes."
    )
    discovery_prefix: str | None = Field(
        "homeassistant", description="Home Assistant's discovery prefix; None: no discovery messages."
    )
    node_id: str = Field("custos", pattern=r"^[A-Za-z0-9_\-]+$", description="This deployment, in discovery ids.")


class Settings(BaseSettings):
    """Everything a custos process needs to know, validated once at start."""

    model_config = SettingsConfigDict(env_prefix="CUSTOS_", env_nested_delimiter="__", extra="forbid", frozen=True)

    data_dir: Path = Field(Path("custos-data"), description="The deployment's data folder.")
    database_url: str | None = Field(None, description="SQLAlchemy URL; defaults to SQLite in DATA_DIR/custos.db.")
    recorder: RecorderSettings = RecorderSettings()
    storage: StorageSettings = StorageSettings()
    web: WebSettings = WebSettings()
    auth: AuthSettings = AuthSettings()
    ledger: LedgerSettings = LedgerSettings()
    policy: PolicySettings = PolicySettings()
    registry: RegistrySettings = RegistrySettings()
    health: HealthSettings = HealthSettings()
    mqtt: MqttSettings = MqttSettings()

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.recorder.reconnect_max_s < self.recorder.reconnect_min_s:
            raise ValueError(
                f"recorder.reconnect_max_s ({self.recorder.reconnect_max_s}) is below "
                f"recorder.reconnect_min_s ({self.recorder.reconnect_min_s})"
            )
        return self

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'custos.db').resolve()}"

    @property
    def footage_root(self) -> Path:
        return self.storage.root or self.data_dir / "footage"

    @property
    def key_file(self) -> Path:
        return self.ledger.key_file or self.data_dir / "keys" / "ledger.key"

    @property
    def witness_file(self) -> Path:
        """Outside the data folder, so that replacing the folder (database and log together) is detected."""
        if self.ledger.witness_file is not None:
            return self.ledger.witness_file
        data = self.data_dir.resolve()
        return data.parent / f"{data.name}.witness"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if settings_cls.model_config.get("toml_file") is not None:
            sources.append(TomlConfigSettingsSource(settings_cls))
        return tuple(sources)


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Load settings: TOML file < environment < keyword overrides. A missing named file is an error."""
    from custos.errors import CustosError, Kind

    if config_file is not None and not config_file.is_file():
        raise CustosError(Kind.INVALID_ARGUMENT, f"configuration file {config_file} does not exist")
    if config_file is None:
        return Settings(**overrides)

    class FromFile(Settings):
        model_config = SettingsConfigDict(**{**Settings.model_config, "toml_file": config_file})

    return Settings.model_validate(FromFile(**overrides).model_dump())
