"""Dagster resources made from Settings models (core/config.py): a resource's fields are its model's fields
(type, default, doc), so a setting is declared once, beside its client, and Dagster shows it with its doc.

    class ChainRpcResource(settings_resource(RpcSettings, "rpc")):
        def reader(self) -> ChainReader: ...   # built from self.settings(), the model itself

`build_resources` configures resources from the `AVAX_*` variables when the code location loads: values
parsed and checked by the model (refused naming the variable), secrets handed to Dagster as `EnvVar`s,
resolved only at run time and never stored in config, metadata or logs.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
import types
from pathlib import Path
from typing import Any, ClassVar, Optional, Union, get_args, get_origin

import dagster as dg
import pydantic

from enum import Enum

from avax_assets.core.config import (ENV_FILE, HomeSettings, Settings, Variable, env_file, environment, home,
                                     setting)
from avax_assets.core.errors import SettingError
from avax_assets.orchestration.partitions import PartitionSettings

class SettingsResource(dg.ConfigurableResource):
    """A resource whose fields are a Settings model's. `key` is its resource key in every Definitions; a
    `per_chain` kind has one resource per configured chain (`chain_key`), its variables scoped by the chain's
    name, and a `chain` field naming it."""

    key: ClassVar[str]
    model: ClassVar[type[Settings]]
    per_chain: ClassVar[bool] = False

    def settings(self) -> Settings:
        """The model of this resource's values (secrets read from the environment where still EnvVars)."""
        return self.model.checked({name: _resolved(getattr(self, name)) for name in self.model.model_fields})

    @classmethod
    def key_of(cls, chain: str | None) -> str:
        """Its resource key for a chain (`chain_key`)."""
        return chain_key(cls, chain)


class SettingsIOManager(dg.ConfigurableIOManager):
    """An IO manager whose settings fields are a Settings model's (its other fields are resources)."""

    key: ClassVar[str]
    model: ClassVar[type[Settings]]

    def settings(self) -> Settings:
        return self.model.checked({name: _resolved(getattr(self, name)) for name in self.model.model_fields})


def _resolved(value: Any) -> Any:
    return value.get_value() if isinstance(value, dg.EnvVar) else value


def _config_type(annotation: Any) -> Any:
    """The field's type as Dagster's config knows it: value rules (Annotated) are the model's to check."""
    if get_origin(annotation) in (Union, types.UnionType) and type(None) in get_args(annotation):
        inner = next(t for t in get_args(annotation) if t is not type(None))
        return Optional[_config_type(inner)]
    if hasattr(annotation, "__metadata__"):  # Annotated[X, …]
        return get_args(annotation)[0]
    return annotation


def settings_resource(model: type[Settings], key: str, base: type = SettingsResource) -> type:
    """A resource (or IO manager) base class with the model's fields, keyed `key`."""
    fields = {name: (_config_type(info.annotation), pydantic.Field(info.default, description=info.description))
              for name, info in model.model_fields.items()}
    made = pydantic.create_model(f"{model.__name__}Fields", __base__=base, **fields)
    made.model, made.key = model, key
    made.__doc__ = model.__doc__
    return made


def chain_key(kind: type, chain: str | None) -> str:
    """The resource key of a kind for a chain (None: the home chain, or a kind that is not per chain)."""
    return f"{kind.key}_{chain}" if chain and getattr(kind, "per_chain", False) else kind.key


def configured(kind: type, environ: Mapping[str, str], chain: str | None = None, **others: Any) -> Any:
    """One resource from the environment: given variables parsed and checked (naming the variable), local paths
    left unset placed under AVAX_HOME, secrets as EnvVars. For a chain: its AVAX_<CHAIN>_… variables."""
    model: type[Settings] = kind.model
    given = model.given(environ, chain)
    placed = model.checked(given)
    if hasattr(placed, "under"):
        placed = placed.under(home(environ))
    secret = {v.field: v for v in model.variables(chain) if v.secret}
    values = {name: getattr(placed, name) for name in model.model_fields
              if name in given or getattr(placed, name) != model.model_fields[name].default}
    values.update({name: dg.EnvVar(secret[name].name) for name in given if name in secret})
    return kind(**values, **others, **({"chain": chain} if chain else {}))


def variables(kinds: Iterable[type]) -> list[Variable]:
    """Every variable of these resources' models, in declaration order."""
    return [variable for kind in kinds for variable in kind.model.variables()]


class Executor(str, Enum):
    multiprocess = "multiprocess"  # Dagster's default: a process per step, steps in parallel
    in_process = "in_process"  # one process per run: a local run starts in seconds instead of minutes


class ExecutorSettings(Settings):
    executor: Executor = setting(Executor.multiprocess, "AVAX_DAGSTER_EXECUTOR", "How a run executes its steps: "
                                 "multiprocess (a process per step) or in_process (one process per run).")
    lean_memory: bool = setting(True, "AVAX_LEAN_MEMORY", "Steps hand freed memory back to the system at once "
                                "(glibc: two arenas, a 1 MiB mmap threshold; Arrow's pool): measured on a mainnet "
                                "day, with the engine's free-after at 500 ms, 240 MB lower peak in the same CPU "
                                "time (benchmarks/README.md).")


def lean_memory(environ: Mapping[str, str] | None = None) -> bool:
    return ExecutorSettings.from_environ(_environ(environ)).lean_memory


EXECUTORS = {Executor.multiprocess: dg.multiprocess_executor, Executor.in_process: dg.in_process_executor}
# Settings that are not a resource's: read when the code location loads
LOCATION_SETTINGS: tuple[type[Settings], ...] = (HomeSettings, ExecutorSettings, PartitionSettings)


def executor(environ: Mapping[str, str] | None = None) -> dg.ExecutorDefinition:
    return EXECUTORS[ExecutorSettings.from_environ(_environ(environ)).executor]


def partition_settings(environ: Mapping[str, str] | None = None, scope: str | None = None) -> PartitionSettings:
    return PartitionSettings.from_environ(_environ(environ), scope)


def build_resources(kinds: Iterable[type], environ: Mapping[str, str] | None = None,
                    chains: Iterable[str] = (), derived: Mapping[str, Mapping[str, Any]] | None = None
                    ) -> dict[str, Any]:
    """The resources of these kinds, configured from the environment (os.environ and its env file unless given),
    per-chain kinds once more for each of the other `chains`. A kind with a field typed as another kind's resource
    (the lake IO manager's Kafka) gets that resource. `derived`: per resource key, values for fields their variable
    leaves unset that follow from other settings (the configured chains)."""
    chains = tuple(chains)
    if environ is None:
        _export_secrets_of_the_env_file(kinds, chains)
    environ, built = _environ(environ), {}
    for kind in sorted(kinds, key=lambda k: any(_resource_fields(k))):
        needs = {name: built[other.key] for name, other in _resource_fields(kind)}
        given = kind.model.given(environ)
        needs |= {name: value for name, value in (derived or {}).get(kind.key, {}).items() if name not in given}
        built[kind.key] = configured(kind, environ, **needs)
        for chain in chains if getattr(kind, "per_chain", False) else ():
            built[chain_key(kind, chain)] = configured(kind, environ, chain, **needs)
    return built


def _export_secrets_of_the_env_file(kinds: Iterable[type], chains: tuple[str, ...]) -> None:
    """A secret set only in the env file (local.env) goes into the process environment, beneath it: resources
    hold secrets as EnvVars, which Dagster resolves from the process environment when a run starts."""
    from_file = environment(os.environ)
    scoped = [v for kind in kinds if getattr(kind, "per_chain", False) for chain in chains
              for v in kind.model.variables(chain)]
    for variable in [*variables(kinds), *scoped]:
        if variable.secret and variable.name in from_file:
            os.environ.setdefault(variable.name, from_file[variable.name])


def _resource_fields(kind: type) -> Iterator[tuple[str, type]]:
    for name, info in kind.model_fields.items():
        if isinstance(info.annotation, type) and issubclass(info.annotation, SettingsResource):
            yield name, info.annotation


def home_directory() -> str:
    """AVAX_HOME as the process (or its env file) sets it."""
    return home(_environ(None))


def no_local_stack_hint() -> str:
    """What to add to "the sinks cannot be reached" when no local stack has written its env file and nothing
    points the sinks elsewhere: how to start one (a fresh clone before the demo)."""
    path = env_file(os.environ)
    if (path and Path(path).is_file()) or any(name in os.environ for name in SINK_ADDRESSES):
        return ""
    return (f"; no local stack is running here (no {path or ENV_FILE}): bash deployments/local/services.sh up "
            "starts one (or point the settings named above at your servers)")


# the variables that point the sinks at servers (the local stack's env file sets them)
SINK_ADDRESSES = ("AVAX_KAFKA_BOOTSTRAP_SERVERS", "AVAX_S3_ENDPOINT_URL")


def ensure_dagster_home() -> str:
    """DAGSTER_HOME for the commands that use the instance: the process's, else the env file's, else this
    directory when it holds a dagster.yaml (the project's instance). Set in the process environment."""
    found = environment(os.environ).get("DAGSTER_HOME") or (os.getcwd() if os.path.exists("dagster.yaml") else None)
    if not found:
        raise SettingError("no Dagster instance: run from the project's directory (its dagster.yaml), or set "
                           "DAGSTER_HOME to the directory holding the instance's dagster.yaml")
    os.environ["DAGSTER_HOME"] = os.path.abspath(found)
    return os.environ["DAGSTER_HOME"]


def environ(given: Mapping[str, str] | None = None) -> Mapping[str, str]:
    """The settings' environment: the process's over the env file, unless one is given."""
    return _environ(given)


def _environ(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    """The process environment over the env file (core/config.py `environment`) unless `environ` is given."""
    return environment(os.environ) if environ is None else environ

