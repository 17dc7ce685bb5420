"""Settings declared once, the way datasets are: a `Settings` model per source and sink, beside its client,
each field a `setting(...)` holding its variable, default, bounds, secret flag and a one-line doc.

Everything else is derived from the models: reading `AVAX_*` variables (parsed to the field's type, checked,
refused naming the variable), the Dagster resources' fields (orchestration/configured.py), and the settings
page of the docs (avax_assets/docs.py). No Dagster here.
"""

from __future__ import annotations

import re
import types
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Optional, Union, get_args, get_origin
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from avax_assets.core.errors import SettingError
from avax_assets.core.http import remember_secret

HOME = ".avax-assets"  # local state: lake, chDB, Dagster storage, spools (AVAX_HOME moves it)
HOME_VARIABLE = "AVAX_HOME"
PREFLIGHT_S = 10.0  # how long the check before extraction waits for each sink (Kafka, S3, ClickHouse)


def setting(default: Any, variable: str, doc: str, *, secret: bool = False, gt: float | None = None,
            ge: float | None = None, le: float | None = None) -> Any:
    """A field of a Settings model: its variable, default, bounds, secret flag and one-line doc (with its unit)."""
    return Field(default, description=doc, gt=gt, ge=ge, le=le,
                 json_schema_extra={"variable": variable, "secret": secret})


# --- value rules beyond the type (a ValueError says what is wrong; for a secret it must not repeat the value)

def _http_url(text: str | None) -> str | None:
    if text is not None:
        parts = urlsplit(text)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL with a host")
    return text


def _websocket_url(text: str | None) -> str | None:
    if text is not None:
        parts = urlsplit(text)
        if parts.scheme not in ("ws", "wss") or not parts.hostname:
            raise ValueError("must be a ws:// or wss:// URL with a host")
    return text


def _brokers(text: str) -> str:
    for server in text.split(","):
        host, _, port = server.strip().rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"must be host:port[,host:port…], not {text!r}")
    return text


HttpUrl = Annotated[str, AfterValidator(_http_url)]
WebSocketUrl = Annotated[str, AfterValidator(_websocket_url)]
Brokers = Annotated[str, AfterValidator(_brokers)]


def rule(check: Callable[[str], Any]) -> AfterValidator:
    """A value rule from a function raising ValueError (e.g. a ClickHouse identifier, a lake root)."""
    def checked(value):
        if value is not None:
            check(value)
        return value
    return AfterValidator(checked)


# --- the models ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Variable:
    """One setting as the environment and the docs see it."""

    name: str
    model: type[Settings]
    field: str
    kind: str
    default: Any
    doc: str
    secret: bool
    bounds: str


class Settings(BaseModel):
    """A source's or sink's settings. Built from `AVAX_*` variables by `from_environ`, or from keywords."""

    # a NaN or an infinity is no setting: NaN compares false with every bound (a deadline of nan is no deadline)
    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True, allow_inf_nan=False)
    _scope: str | None = PrivateAttr(default=None)

    @classmethod
    def variables(cls, scope: str | None = None) -> Iterator[Variable]:
        """The model's variables; with a `scope` (one of several instances, e.g. a chain's name), each is
        AVAX_<SCOPE>_…: AVAX_RPC_URL of scope `fuji` is AVAX_FUJI_RPC_URL."""
        for name, info in cls.model_fields.items():
            extra = info.json_schema_extra or {}
            yield Variable(scoped(extra["variable"], scope), cls, name, _kind(info.annotation), info.default,
                           info.description or "", bool(extra.get("secret")), _bounds(info.metadata))

    @classmethod
    def given(cls, environ: Mapping[str, str], scope: str | None = None) -> dict[str, Any]:
        """field → value of every variable of this model set in `environ`, parsed and checked."""
        values = {}
        for variable in cls.variables(scope):
            text = environ.get(variable.name)
            if text not in (None, ""):
                values[variable.field] = parse(variable, text, cls.model_fields[variable.field].annotation)
        try:
            cls.checked(values)
        except SettingError as exc:
            if not scope:
                raise
            raise SettingError(scoped(str(exc), scope)) from None  # the message names the scoped variable
        return values

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], scope: str | None = None, **fixed: Any) -> Settings:
        return cls.checked({**cls.given(environ, scope), **fixed}).scoped_to(scope)

    @property
    def scope(self) -> str | None:
        """Which of several instances these settings are (their variables are AVAX_<SCOPE>_…), if any."""
        return self._scope

    def scoped_to(self, scope: str | None) -> Settings:
        copy = self.model_copy()
        copy._scope = scope
        return copy

    def variable(self, field: str) -> str:
        """The variable that sets `field` of these settings (scoped when they are)."""
        return next(v.name for v in type(self).variables(self._scope) if v.field == field)

    @classmethod
    def checked(cls, values: Mapping[str, Any]) -> Settings:
        return cls(**values)

    def __init__(self, **values: Any) -> None:
        """A value that does not fit is a SettingError naming its variable (a secret's value is not repeated)."""
        try:
            super().__init__(**values)
        except ValidationError as exc:
            _remember_secrets(type(self), values)
            error = exc.errors()[0]
            field = str(error["loc"][0]) if error["loc"] else ""
            info = type(self).model_fields.get(field)
            variable = (info.json_schema_extra or {}).get("variable", field) if info else field
            raise SettingError(f"{variable} {_reason(error, values.get(field), info)}") from None
        _remember_secrets(type(self), values)


def scoped(variable: str, scope: str | None) -> str:
    if not scope:
        return variable
    if not re.fullmatch(r"[a-z][a-z0-9_]*", scope):
        raise SettingError(f"a settings scope is a lower-case name (letters, digits, underscores), not {scope!r}")
    return variable.replace("AVAX_", f"AVAX_{scope.upper()}_", 1)


def _remember_secrets(model: type[Settings], values: Mapping[str, Any]) -> None:
    for variable in model.variables():
        value = values.get(variable.field)
        if variable.secret and isinstance(value, str):
            remember_secret(value)


def _reason(error: dict, value: Any, info: Any) -> str:
    secret = bool(info and (info.json_schema_extra or {}).get("secret"))
    shown = "" if secret else f", not {value!r}"
    kind, context = error["type"], error.get("ctx", {})
    if kind == "value_error":
        return str(context["error"])
    if kind == "greater_than":
        return f"must be {'positive' if context['gt'] == 0 else 'more than %g' % context['gt']}{shown}"
    if kind == "greater_than_equal":
        return f"must be {'zero or more' if context['ge'] == 0 else 'at least %g' % context['ge']}{shown}"
    if kind == "finite_number":
        return f"must be a finite number{shown}"
    if kind == "less_than_equal":
        return f"must be at most {context['le']:g}{shown}"
    return f"does not fit: {error['msg']}"


def _plain(annotation: Any) -> Any:
    """Optional[X] → X; Annotated[X, …] → X."""
    if get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    if get_origin(annotation) in (Union, types.UnionType):
        annotation = next(t for t in get_args(annotation) if t is not type(None))
    if get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return annotation


def _kind(annotation: Any) -> str:
    kind = _plain(annotation)
    if isinstance(kind, type) and issubclass(kind, Enum):
        return "one of " + ", ".join(str(m.value) for m in kind)
    if get_origin(kind) is dict:
        return "name=value,…"
    if get_origin(kind) is list:
        return "comma-separated list"
    return {int: "integer", float: "number", bool: "true or false", str: "text"}.get(kind, str(kind))


def _bounds(metadata: list) -> str:
    parts = []
    for item in metadata:
        for name, sign in (("gt", ">"), ("ge", "≥"), ("le", "≤")):
            if getattr(item, name, None) is not None:
                parts.append(f"{sign} {getattr(item, name):g}")
    return ", ".join(parts)


def parse(variable: Variable, text: str, annotation: Any) -> Any:
    """The variable's text as its field's type; SettingError naming the variable when it does not fit."""
    kind = _plain(annotation)
    try:
        if isinstance(kind, type) and issubclass(kind, Enum):
            return kind(text)
        if kind is bool:
            if text.lower() not in ("true", "false", "1", "0"):
                raise ValueError(text)
            return text.lower() in ("true", "1")
        if kind in (int, float):
            return kind(text)
        if get_origin(kind) is dict:  # `a=1,b=2`
            return dict(item.split("=", 1) for item in text.split(",") if "=" in item)
        if get_origin(kind) is list:
            return [item.strip() for item in text.split(",") if item.strip()]
        return text
    except ValueError:
        if isinstance(kind, type) and issubclass(kind, Enum):
            expected = f"one of {', '.join(str(m.value) for m in kind)}"
        else:
            expected = {int: "an integer", float: "a number", bool: "true or false"}.get(kind, str(kind))
        shown = "" if variable.secret else f", not {text!r}"
        raise SettingError(f"{variable.name} must be {expected}{shown}") from None


ENV_FILE = "local.env"  # under AVAX_HOME: the local stack writes the variables that point at it there


class HomeSettings(Settings):
    """Where local state goes when its own setting is unset, and the file of settings read beneath the
    process environment."""

    home: str = setting(HOME, HOME_VARIABLE, "The directory of local state: lake/, spool/, chdb/ and Dagster's "
                        "storage (relative to the working directory).")
    env_file: Optional[str] = setting(None, "AVAX_ENV_FILE", f"A file of NAME=value lines read beneath the process "
                                      f"environment; unset: {ENV_FILE} under AVAX_HOME (the local stack writes "
                                      "it, so commands find it without exports); empty: none.")


def home(environ: Mapping[str, str]) -> str:
    return HomeSettings.from_environ(environ).home


def env_file(environ: Mapping[str, str]) -> str:
    """The env file's path ('' when AVAX_ENV_FILE is set empty: none)."""
    path = environ.get("AVAX_ENV_FILE")
    return str(Path(environ.get(HOME_VARIABLE) or HOME) / ENV_FILE) if path is None else path


def environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The variables settings are read from: `environ` over the env file's (a variable set in the process
    always wins)."""
    path = env_file(environ)
    return {**read_env_file(Path(path)), **environ} if path else dict(environ)


def read_env_file(path: Path) -> dict[str, str]:
    """NAME=value lines (an `export ` prefix, blank lines and # comments allowed); none when the file is absent."""
    if not path.is_file():
        return {}
    found = {}
    for line in path.read_text().splitlines():
        line = line.strip().removeprefix("export ").strip()
        if line and not line.startswith("#") and "=" in line:
            name, value = line.split("=", 1)
            found[name.strip()] = value.strip().strip("'\"")
    return found
