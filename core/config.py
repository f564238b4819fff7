"""Settings of the suite, read from the environment with embedded defaults.

Every setting is listed in docs/configuration.md with its default; keep the two in step.
"""
from __future__ import annotations

import dataclasses
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from .keyfile import create_once


class ConfigError(ValueError):
    """A setting has a value the suite cannot use."""


def _env_int(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None


def _env_float(env: dict[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if value < 0:
        raise ConfigError(f"{name} may not be negative")
    return value


def web_origin(url: str) -> str | None:
    """``scheme://host[:port]`` of an http(s) URL (what a browser sends as its Origin), or None."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}"


@dataclass(frozen=True)
class Config:
    data_dir: Path = Path("var")
    database_url: str = ""
    # A PostgreSQL streaming replica for dashboards and exports (empty: they read the primary).
    database_replica_url: str = field(default="", repr=False)
    host: str = "127.0.0.1"
    port: int = 8080
    # Secrets are read from files under data_dir (created on first start) so they never
    # appear in process listings or logs.
    secret_key: bytes = field(default=b"", repr=False)
    tls_cert: Path | None = None
    tls_key: Path | None = None
    session_idle_seconds: int = 30 * 60
    session_absolute_seconds: int = 12 * 3600
    login_account_failures: int = 10
    login_address_failures: int = 50
    login_window_seconds: int = 15 * 60
    argon2_memory_kib: int = 19 * 1024
    argon2_time_cost: int = 2
    argon2_parallelism: int = 1
    password_min_length: int = 8
    password_max_age_days: int = 0
    max_json_body: int = 1024 * 1024
    workflow_path: Path | None = None
    rules_path: Path | None = None
    demo_password: str = field(default="", repr=False)
    # The credit archive: blob store URL (empty: a folder in data_dir), the Ed25519 key that
    # signs credit-file indexes (empty: made on first start in data_dir), the upload limit.
    archive_url: str = ""
    archive_key: str = field(default="", repr=False)
    archive_upload_max_bytes: int = 200 * 1024 * 1024
    # Seconds between anchors of the audit chain head in the archive store (0: off).
    audit_anchor_interval: float = 3600.0
    # Requests one process works on at once; more are answered 503 at once (0: no bound).
    max_concurrent_requests: int = 64
    # The fingerprint service: its URL when run apart (empty: in this process), the master key
    # wrapping the templates' data keys (empty: made on first start in data_dir), whether raw
    # images are kept, the match threshold, fingers to enroll, and operator step-up.
    biometrics_url: str = ""
    biometric_key: str = field(default="", repr=False)
    keep_fingerprint_images: bool = False
    fingerprint_threshold: float = 40.0
    fingerprint_min_fingers: int = 2
    fingerprint_min_minutiae: int = 12
    fingerprint_min_area_mm2: float = 40.0
    # Template/matcher mode of this deployment: "exact" (SourceAFIS 3.18.1, the reference) or
    # "accurate" (biometrics.accurate). New enrollments are made in it; templates of the other
    # mode stay usable until the person re-enrolls (docs/fingerprint-accuracy.md).
    fingerprint_mode: str = "exact"
    # The 1:N search (identify, the duplicate search at enrollment): the Ray cluster holding its
    # shards (empty: the shards run in this process) and how many shards each gallery has.
    ray_address: str = ""
    identify_shards: int = 1
    # Background work (post-loan scheduler, outbox worker, deadline warnings): seconds between
    # rounds; 0 turns it off, e.g. for a second web process or a test that drives it by hand.
    scheduler_interval: float = 30.0
    outbox_interval: float = 2.0
    sms_gateway: str = field(default="log", repr=False)
    step_up: str = "required"
    step_up_seconds: int = 180
    # A committee meeting's composite video runs in a child process with this much address
    # space, and is tried this many times before it is reported failed.
    composite_memory_mb: int = 1536
    composite_attempts: int = 3
    # Several committee nodes (docs/deploy.md): where the room page's browser opens its Socket.IO
    # signaling (the committee nodes' balancer; empty: the page's own origin, the committee
    # server in the web process), and, on a committee node, the origins of the suite's pages
    # allowed to connect to it from another origin (the node's own URL is always allowed).
    committee_url: str = ""
    committee_origins: tuple[str, ...] = ()

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{(self.data_dir / 'loans.sqlite3').resolve()}"

    @property
    def effective_archive_url(self) -> str:
        return self.archive_url or f"local:{(self.data_dir / 'archive').resolve()}"

    def replace(self, **changes) -> "Config":
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides) -> "Config":
        env = dict(os.environ if env is None else env)
        data_dir = Path(overrides.pop("data_dir", None) or env.get("LOANCTL_DATA", "var"))
        tls_cert = env.get("LOANCTL_TLS_CERT") or None
        tls_key = env.get("LOANCTL_TLS_KEY") or None
        if bool(tls_cert) != bool(tls_key):
            raise ConfigError("LOANCTL_TLS_CERT and LOANCTL_TLS_KEY must be set together")
        values = dict(
            data_dir=data_dir,
            database_url=env.get("LOANCTL_DATABASE_URL", ""),
            database_replica_url=env.get("LOANCTL_DATABASE_REPLICA_URL", ""),
            host=env.get("LOANCTL_HOST", "127.0.0.1"),
            port=_env_int(env, "LOANCTL_PORT", 8080),
            tls_cert=Path(tls_cert) if tls_cert else None,
            tls_key=Path(tls_key) if tls_key else None,
            session_idle_seconds=_env_int(env, "LOANCTL_SESSION_IDLE_SECONDS", 30 * 60),
            session_absolute_seconds=_env_int(env, "LOANCTL_SESSION_ABSOLUTE_SECONDS", 12 * 3600),
            login_account_failures=_env_int(env, "LOANCTL_LOGIN_ACCOUNT_FAILURES", 10),
            login_address_failures=_env_int(env, "LOANCTL_LOGIN_ADDRESS_FAILURES", 50),
            login_window_seconds=_env_int(env, "LOANCTL_LOGIN_WINDOW_SECONDS", 15 * 60),
            argon2_memory_kib=_env_int(env, "LOANCTL_ARGON2_MEMORY_KIB", 19 * 1024),
            argon2_time_cost=_env_int(env, "LOANCTL_ARGON2_TIME_COST", 2),
            password_min_length=_env_int(env, "LOANCTL_PASSWORD_MIN_LENGTH", 8),
            password_max_age_days=_env_int(env, "LOANCTL_PASSWORD_MAX_AGE_DAYS", 0),
            max_json_body=_env_int(env, "LOANCTL_MAX_JSON_BODY", 1024 * 1024),
            workflow_path=Path(env["LOANCTL_WORKFLOW"]) if env.get("LOANCTL_WORKFLOW") else None,
            rules_path=Path(env["LOANCTL_RULES"]) if env.get("LOANCTL_RULES") else None,
            demo_password=env.get("LOANCTL_DEMO_PASSWORD", ""),
            # LOANCTL_ARCHIVE_STORE is the name `loanctl archive verify` reads; both are accepted.
            archive_url=env.get("LOANCTL_ARCHIVE") or env.get("LOANCTL_ARCHIVE_STORE", ""),
            archive_key=env.get("LOANCTL_ARCHIVE_KEY", ""),
            archive_upload_max_bytes=_env_int(env, "LOANCTL_ARCHIVE_UPLOAD_MAX_BYTES", 200 * 1024 * 1024),
            audit_anchor_interval=_env_float(env, "LOANCTL_AUDIT_ANCHOR_INTERVAL", 3600.0),
            max_concurrent_requests=_env_int(env, "LOANCTL_MAX_CONCURRENT_REQUESTS", 64),
            biometrics_url=env.get("LOANCTL_BIOMETRICS_URL", "").rstrip("/"),
            biometric_key=env.get("LOANCTL_BIOMETRIC_KEY", ""),
            keep_fingerprint_images=env.get("LOANCTL_KEEP_FINGERPRINT_IMAGES", "0") == "1",
            fingerprint_threshold=_env_float(env, "LOANCTL_FINGERPRINT_THRESHOLD", 40.0),
            fingerprint_min_fingers=_env_int(env, "LOANCTL_FINGERPRINT_MIN_FINGERS", 2),
            fingerprint_min_minutiae=_env_int(env, "LOANCTL_FINGERPRINT_MIN_MINUTIAE", 12),
            fingerprint_min_area_mm2=_env_float(env, "LOANCTL_FINGERPRINT_MIN_AREA_MM2", 40.0),
            fingerprint_mode=env.get("LOANCTL_FINGERPRINT_MODE", "exact").strip().lower(),
            ray_address=env.get("LOANCTL_RAY_ADDRESS", "").strip(),
            identify_shards=_env_int(env, "LOANCTL_IDENTIFY_SHARDS", 1),
            scheduler_interval=_env_float(env, "LOANCTL_SCHEDULER_INTERVAL", 30.0),
            outbox_interval=_env_float(env, "LOANCTL_OUTBOX_INTERVAL", 2.0),
            sms_gateway=env.get("LOANCTL_SMS_GATEWAY", "log"),
            step_up=env.get("LOANCTL_STEP_UP", "required"),
            step_up_seconds=_env_int(env, "LOANCTL_STEP_UP_SECONDS", 180),
            composite_memory_mb=_env_int(env, "LOANCTL_COMPOSITE_MEMORY_MB", 1536),
            composite_attempts=_env_int(env, "LOANCTL_COMPOSITE_ATTEMPTS", 3),
            committee_url=env.get("LOANCTL_COMMITTEE_URL", "").strip().rstrip("/"),
            committee_origins=tuple(o.strip().rstrip("/") for o in env.get("LOANCTL_COMMITTEE_ORIGINS", "").split(",")
                                    if o.strip()),
        )
        values.update({k: v for k, v in overrides.items() if v is not None})
        config = cls(**values)
        if config.session_idle_seconds <= 0 or config.session_absolute_seconds < config.session_idle_seconds:
            raise ConfigError("session timeouts must be positive and absolute >= idle")
        if config.database_replica_url and not config.database_replica_url.startswith("postgresql"):
            raise ConfigError("LOANCTL_DATABASE_REPLICA_URL must be a postgresql+asyncpg:// URL of a streaming replica")
        if config.archive_upload_max_bytes <= 0:
            raise ConfigError("LOANCTL_ARCHIVE_UPLOAD_MAX_BYTES must be positive")
        if config.max_concurrent_requests < 0:
            raise ConfigError("LOANCTL_MAX_CONCURRENT_REQUESTS may not be negative (0: no bound)")
        if config.step_up not in ("required", "off"):
            raise ConfigError(f"LOANCTL_STEP_UP must be 'required' or 'off', got {config.step_up!r}")
        if not 10 <= config.step_up_seconds <= 900:
            raise ConfigError("LOANCTL_STEP_UP_SECONDS must be 10..900 (a step-up expires within minutes)")
        if config.fingerprint_threshold <= 0 or not 1 <= config.fingerprint_min_fingers <= 10:
            raise ConfigError("LOANCTL_FINGERPRINT_THRESHOLD must be positive and "
                              "LOANCTL_FINGERPRINT_MIN_FINGERS 1..10")
        if config.fingerprint_mode not in ("exact", "accurate"):
            raise ConfigError(f"LOANCTL_FINGERPRINT_MODE must be 'exact' or 'accurate', got {config.fingerprint_mode!r}")
        if not 1 <= config.identify_shards <= 256:
            raise ConfigError(f"LOANCTL_IDENTIFY_SHARDS must be 1..256, got {config.identify_shards}")
        if config.composite_memory_mb < 256 or not 1 <= config.composite_attempts <= 10:
            raise ConfigError("LOANCTL_COMPOSITE_MEMORY_MB must be at least 256 and "
                              "LOANCTL_COMPOSITE_ATTEMPTS 1..10")
        for name, url in [("LOANCTL_COMMITTEE_URL", config.committee_url)] if config.committee_url else []:
            if web_origin(url) is None:
                raise ConfigError(f"{name} must be an http(s)://host[:port] URL, got {url!r}")
        for origin in config.committee_origins:
            if origin == "*" or web_origin(origin) != origin:
                raise ConfigError("LOANCTL_COMMITTEE_ORIGINS must list origins (http(s)://host[:port], "
                                  f"comma-separated; not '*'), got {origin!r}")
        if config.password_min_length < 8:
            raise ConfigError("LOANCTL_PASSWORD_MIN_LENGTH may not be below 8")
        return config

    def with_secrets(self) -> "Config":
        """Create the data folder and the secret key on first start, then load them."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key_file = self.data_dir / "secret.key"
        create_once(key_file, secrets.token_hex(32))  # nodes sharing the folder may start at once
        key = bytes.fromhex(key_file.read_text().strip())
        if len(key) < 32:
            raise ConfigError(f"{key_file} must hold at least 32 bytes of hex")
        return self.replace(secret_key=key)
