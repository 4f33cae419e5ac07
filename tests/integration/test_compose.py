"""The compose stack and the application image, checked without a container engine.

No machine that runs the suite can start containers, so these tests hold the deployment files to
the code they deploy: the environment names the settings read, the CLI's real subcommands, the
packages pyproject builds, and the one list of search attributes. The registration script itself
runs against a real dev server.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from importlib import import_module
from pathlib import Path
from typing import Any

import pytest
import yaml
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.common import SearchAttributeIndexedValueType
from temporalio.testing import WorkflowEnvironment

from devstack.temporal_server import FAIRNESS_KEY
from runtime.settings import TEMPORAL_CLIENT_VARIABLES
from starter.cli import build_parser
from tests.conftest import binary
from workflows.search_attributes import ALL

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "aftersales.json"
DOCKERFILE = ROOT / "Dockerfile"
REGISTER_SCRIPT = ROOT / "deploy" / "register_search_attributes.py"

REQUIRED_SERVICES = {"postgresql", "temporal-schema", "temporal", "temporal-namespace", "temporal-ui",
                     "codec-server", "setup", "worker", "worker-previous", "api", "api-proxy",
                     "prometheus", "grafana"}
# Services built from this repository's Dockerfile, i.e. the ones running application code.
APP_SERVICES = {"setup", "worker", "codec-server", "api"}
# Modules that name the environment variables of the app services: the shared settings (the only
# reader), and the parsers of the codec server's and the providers' variable groups.
ENV_READERS = (
    ROOT / "runtime" / "settings.py",
    ROOT / "codec_server" / "config.py",
    ROOT / "activities" / "http_providers.py",
    ROOT / "starter" / "api" / "config.py",
)
SECRET_NAME = re.compile(r"(PASSWORD|PWD|SECRET|TOKEN|KEY|KEYS)$")
# `$${` is compose's escape for a literal `${`, so it is not an interpolation.
INTERPOLATED = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)")
ONLY_A_REFERENCE = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*(:?[-?][^}]*)?\}$")
# A connection URL whose parts may be `${VAR}` references (which urlsplit cannot take apart).
_REF_OR = r"\$\{{[^}}]*\}}|{}"
DSN = re.compile(
    rf"^(?P<scheme>[a-z][a-z0-9+]*)://(?P<user>{_REF_OR.format('[^:@/]*')})"
    rf"(?::(?P<password>{_REF_OR.format('[^@]*')}))?@(?P<host>[^:/@]+)(?::(?P<port>\d+))?"
    rf"/(?P<database>{_REF_OR.format('[^?]*')})$"
)
# What Grafana expands in a provisioning file, from its own environment.
GRAFANA_ENV_REFERENCE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?")


# -- helpers ----------------------------------------------------------------------------------


def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


def services() -> dict[str, dict[str, Any]]:
    return compose()["services"]


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
    return {str(k): ("" if v is None else str(v)) for k, v in env.items()}


def bind_mounts(service: dict[str, Any]) -> dict[str, str]:
    """Each mounted path in the container, with what is mounted there (a host path or a volume)."""
    mounts: dict[str, str] = {}
    for volume in service.get("volumes") or []:
        # The host side may be a `${VAR:-default}` with a colon of its own, so split from the right.
        spec = volume.removesuffix(":ro").removesuffix(":rw")
        source, _, target = spec.rpartition(":")
        mounts[target] = source
    return mounts


def env_names_read_by(path: Path) -> set[str]:
    """The environment names a module reads (`env.get("X")`, `env["X"]`), taken from its source."""
    source = path.read_text(encoding="utf-8")
    return set(re.findall(r"""env(?:\.get\(|\[)\s*["']([A-Z][A-Z0-9_]*)["']""", source))


def app_env_names() -> set[str]:
    # The Temporal client's own variables are read by the SDK's environment configuration.
    return set().union(*(env_names_read_by(path) for path in ENV_READERS)) | TEMPORAL_CLIENT_VARIABLES


def env_example() -> dict[str, str]:
    declared: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        assert sep, f".env.example: not NAME=value: {line!r}"
        declared[name.strip()] = value.strip()
    return declared


def subcommands() -> set[str]:
    parser = build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return set(action.choices)
    raise AssertionError("build_parser() has no subcommands")


def dockerfile_stages() -> list[list[tuple[str, str]]]:
    """Instructions per stage, continuation lines joined and comments dropped."""
    logical: list[str] = []
    pending = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        stripped = raw.strip()
        if stripped.startswith("#") or (not stripped and not pending):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        logical.append(pending + stripped)
        pending = ""
    stages: list[list[tuple[str, str]]] = []
    for line in logical:
        instruction, _, args = line.partition(" ")
        instruction = instruction.upper()
        if instruction == "FROM":
            stages.append([])
        assert stages, f"Dockerfile: {instruction} before FROM"
        stages[-1].append((instruction, args.strip()))
    return stages


def last(stage: list[tuple[str, str]], instruction: str) -> str | None:
    found = [args for name, args in stage if name == instruction]
    return found[-1] if found else None


def exec_form(args: str | None) -> list[str]:
    assert args is not None
    value = yaml.safe_load(args)
    assert isinstance(value, list), f"not exec form (JSON array): {args}"
    return value


def command_words(service: dict[str, Any]) -> list[str]:
    """The service's entrypoint + command as shell words, for finding what it runs."""
    words: list[str] = []
    for key in ("entrypoint", "command"):
        value = service.get(key)
        if isinstance(value, str):
            words += shlex.split(value)
        elif value:
            for part in value:
                words += shlex.split(part)
    return words


# -- the compose file -------------------------------------------------------------------------


def test_compose_file_has_the_production_services() -> None:
    doc = compose()
    missing = REQUIRED_SERVICES - set(doc["services"])
    assert not missing, f"docker-compose.yml lacks services {sorted(missing)}"
    built_here = {name for name, svc in doc["services"].items() if "build" in svc}
    assert built_here == APP_SERVICES
    for name, svc in doc["services"].items():
        for dep in svc.get("depends_on") or {}:
            assert dep in doc["services"], f"{name} depends on unknown service {dep}"


def test_the_source_scan_finds_the_documented_names() -> None:
    # Guards the scan the next test relies on: an empty or partial set would let it pass.
    settings = env_names_read_by(ENV_READERS[0])
    documented = {"AFTERSALES_TASK_QUEUE", "DATABASE_URL", "AFTERSALES_POLICY", "AFTERSALES_HOME"}
    assert documented <= settings, f"runtime/settings.py no longer reads {sorted(documented - settings)}"
    codec = env_names_read_by(ENV_READERS[1])
    assert {"AFTERSALES_CODEC_TOKEN", "AFTERSALES_CODEC_PORT"} <= codec


def test_app_services_use_only_environment_the_code_reads() -> None:
    allowed = app_env_names()
    for name in APP_SERVICES:
        unknown = set(environment(services()[name])) - allowed
        assert not unknown, f"{name} sets {sorted(unknown)}, which the application never reads"


def test_worker_and_setup_reach_temporal_and_the_database_by_service_name() -> None:
    svcs = services()
    for name in ("worker", "setup"):
        env = environment(svcs[name])
        host, _, port = env["TEMPORAL_ADDRESS"].rpartition(":")
        assert host == "temporal" and port == "7233", env["TEMPORAL_ADDRESS"]
        url = DSN.match(env["DATABASE_URL"])
        assert url, f"{name}: DATABASE_URL is not a user:password@host/db URL"
        assert url["scheme"] in {"postgresql", "postgres"}
        assert url["host"] == "postgresql", env["DATABASE_URL"]
        app_db = environment(svcs["postgresql"])
        assert url["database"] == app_db["POSTGRES_DB"]
        assert url["user"] == app_db["POSTGRES_USER"]
        assert url["password"] == app_db["POSTGRES_PASSWORD"]
    worker = environment(svcs["worker"])
    assert {"TEMPORAL_NAMESPACE", "AFTERSALES_TASK_QUEUE"} <= set(worker)
    # The policy path must be where the policy file is mounted, or the worker falls back silently.
    policy = worker["AFTERSALES_POLICY"]
    targets = [v.split(":")[-2] if v.endswith((":ro", ":rw")) else v.split(":")[-1]
               for v in svcs["worker"].get("volumes") or [] if isinstance(v, str)]
    assert policy in targets, f"AFTERSALES_POLICY={policy} is not a mounted path ({targets})"


def test_every_interpolated_variable_is_declared_in_env_example() -> None:
    used = set(INTERPOLATED.findall(COMPOSE_FILE.read_text(encoding="utf-8")))
    declared = set(env_example())
    assert used, "no ${VAR} found: the secrets cannot be coming from the environment"
    assert not used - declared, f"used but not in .env.example: {sorted(used - declared)}"
    assert not declared - used, f"in .env.example but unused: {sorted(declared - used)}"


def test_no_literal_secrets_in_the_compose_file() -> None:
    for name, svc in services().items():
        for key, value in environment(svc).items():
            if SECRET_NAME.search(key):
                assert ONLY_A_REFERENCE.match(value), f"{name}: {key} is a literal, not ${{VAR}}"
            if "://" in value and "@" in value:
                url = DSN.match(value)
                assert url, f"{name}: {key} has credentials in a form this check cannot read"
                assert url["password"] is None or ONLY_A_REFERENCE.match(url["password"]), (
                    f"{name}: {key} embeds a literal password"
                )


def test_env_example_holds_placeholders_not_secrets() -> None:
    for name, value in env_example().items():
        if SECRET_NAME.search(name):
            assert value.startswith("change-me"), f".env.example: {name} must be a change-me placeholder"


def test_worker_scales_out_and_starts_after_setup() -> None:
    worker = services()["worker"]
    replicas = worker["deploy"]["replicas"]
    assert isinstance(replicas, int) or re.fullmatch(r"\$\{WORKER_REPLICAS:-\d+\}", replicas), replicas
    assert "container_name" not in worker, "a fixed container name prevents more than one replica"
    assert "ports" not in worker, "a published port prevents more than one replica"
    assert worker["depends_on"]["setup"]["condition"] == "service_completed_successfully"
    assert worker["depends_on"]["temporal"]["condition"] == "service_healthy"


def test_setup_registers_attributes_from_the_single_source_and_migrates() -> None:
    words = command_words(services()["setup"])
    joined = " ".join(words)
    script = next((w for w in words if w.endswith("register_search_attributes.py")), None)
    assert script is not None, f"setup does not run the registration script: {joined}"
    assert re.search(r"\baftersales migrate\b", joined), f"setup does not migrate: {joined}"
    # The path the job runs must be where the image puts deploy/.
    copies = [args.split() for name, args in dockerfile_stages()[-1] if name == "COPY"]
    assert ["deploy/", "/app/deploy/"] in copies
    assert script == "/app/deploy/register_search_attributes.py"

    tree = ast.parse(REGISTER_SCRIPT.read_text(encoding="utf-8"))
    imports = {(node.module, alias.name) for node in ast.walk(tree)
               if isinstance(node, ast.ImportFrom) for alias in node.names}
    assert ("workflows.search_attributes", "ALL") in imports
    literals = {node.value for node in ast.walk(tree)
                if isinstance(node, ast.Constant) and isinstance(node.value, str)}
    copied = {key.name for key in ALL} & literals
    assert not copied, f"the script hand-lists attributes {sorted(copied)}"


def test_health_checks() -> None:
    svcs = services()
    for name in ("postgresql", "temporal-db"):
        assert "pg_isready" in " ".join(svcs[name]["healthcheck"]["test"]), name
    # The server image has no CLI; the namespace job waits for the namespace itself.
    assert "7233" in svcs["temporal"]["healthcheck"]["test"]
    assert svcs["temporal-ui"]["healthcheck"]["test"]
    assert svcs["codec-server"]["healthcheck"]["test"]


def test_temporal_runs_on_postgresql() -> None:
    svcs = services()
    env = environment(svcs["temporal"])
    assert svcs["temporal"]["image"].startswith("temporalio/server:")
    assert env["DB"] == "postgres12"
    seed = env["POSTGRES_SEEDS"]
    assert svcs[seed]["image"].startswith("postgres:")
    assert int(svcs[seed]["image"].split(":")[1]) >= 16
    assert int(svcs["postgresql"]["image"].split(":")[1]) >= 16
    db_env = environment(svcs[seed])
    assert env["POSTGRES_USER"] == db_env["POSTGRES_USER"]
    assert env["POSTGRES_PWD"] == db_env["POSTGRES_PASSWORD"]
    assert env["DB_PORT"] == "5432"
    assert svcs["temporal"]["depends_on"][seed]["condition"] == "service_healthy"
    assert svcs["temporal"]["depends_on"]["temporal-schema"]["condition"] == "service_completed_successfully"
    schema = environment(svcs["temporal-schema"])
    assert schema["SQL_USER"] == env["POSTGRES_USER"] and schema["SQL_PASSWORD"] == env["POSTGRES_PWD"]
    script = " ".join(command_words(svcs["temporal-schema"]))
    assert "--ep temporal-db" in script and "update-schema" in script


def _tag(image: str) -> tuple[int, ...]:
    return tuple(int(part) for part in image.rpartition(":")[2].split("."))


def test_temporal_and_its_ui_know_worker_deployments() -> None:
    """Cases are pinned to the worker build they started on: the server must be the version the
    dev server runs (which the two-build test exercises), the UI one that shows deployments."""
    svcs = services()
    shown = subprocess.run([binary("temporal"), "--version"], capture_output=True, text=True, check=True).stdout
    dev_server = re.search(r"Server (\d+\.\d+\.\d+)", shown)
    assert dev_server, shown
    assert svcs["temporal"]["image"] == f"temporalio/server:{dev_server[1]}"
    for job in ("temporal-schema", "temporal-namespace"):
        assert svcs[job]["image"] == f"temporalio/admin-tools:{dev_server[1]}", job
    assert _tag(svcs["temporal-ui"]["image"]) >= (2, 38, 0)


def test_setup_makes_its_build_current_after_the_namespace_exists() -> None:
    svcs = services()
    setup = svcs["setup"]
    joined = " ".join(command_words(setup))
    assert re.search(r"\baftersales deployments set-current --allow-no-pollers\b", joined), joined
    assert setup["depends_on"]["temporal-namespace"]["condition"] == "service_completed_successfully"
    namespace = environment(svcs["temporal-namespace"])
    assert namespace["TEMPORAL_ADDRESS"] == "temporal:7233"
    assert "namespace create" in " ".join(command_words(svcs["temporal-namespace"]))
    # The image names its build once, at build time, for every container made from it.
    runs = [args for name, args in dockerfile_stages()[0] if name == "RUN"]
    assert any("runtime.deployment.build --write" in args for args in runs), runs


def test_the_previous_build_runs_as_the_workers_do_and_only_during_a_roll_out() -> None:
    svcs = services()
    previous, worker = svcs["worker-previous"], svcs["worker"]
    assert previous["image"] == "${AFTERSALES_PREVIOUS_IMAGE:-aftersales:previous}"
    assert "build" not in previous, "the previous build is an image already made, never rebuilt here"
    assert previous["profiles"] == ["rollout"]
    assert previous["deploy"]["replicas"] == "${PREVIOUS_WORKER_REPLICAS:-1}"
    given = environment(previous)
    assert given.pop("AFTERSALES_BUILD_ID") == "${PREVIOUS_BUILD_ID:-}"
    assert given == environment(worker)
    assert "AFTERSALES_BUILD_ID" in env_names_read_by(ENV_READERS[0])
    assert previous["volumes"] == worker["volumes"] and command_words(previous) == ["worker"]


def test_ui_reaches_temporal_and_the_codec_server() -> None:
    svcs = services()
    ui = environment(svcs["temporal-ui"])
    assert ui["TEMPORAL_ADDRESS"] == "temporal:7233"
    assert ui["TEMPORAL_CODEC_ENDPOINT"]
    codec = environment(svcs["codec-server"])
    port = codec["AFTERSALES_CODEC_PORT"]
    published = [str(p).split(":")[-1] for p in svcs["codec-server"]["ports"]]
    assert port in published, f"codec server listens on {port} but publishes {published}"
    # Its default bind address is loopback, which a published port cannot reach.
    assert codec["AFTERSALES_CODEC_HOST"] == "0.0.0.0"
    assert codec["AFTERSALES_CODEC_ORIGINS"], "without the UI origin the browser's calls are refused"


# -- the image --------------------------------------------------------------------------------


def test_dockerfile_runs_the_real_cli_as_a_non_root_user() -> None:
    stages = dockerfile_stages()
    for stage in stages:
        assert stage[0][1].split()[0] == "python:3.11-slim", stage[0]
    final = stages[-1]
    assert exec_form(last(final, "ENTRYPOINT")) == ["aftersales"]
    user = last(final, "USER")
    assert user and user.split(":")[0] not in {"root", "0"}
    assert last(final, "HEALTHCHECK")

    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    module, _, func = scripts["aftersales"].partition(":")
    assert callable(getattr(import_module(module), func))

    default = exec_form(last(final, "CMD"))
    assert default == ["worker"]
    assert default[0] in subcommands()


def test_dockerfile_copies_everything_the_package_build_needs() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    wheel = project["tool"]["hatch"]["build"]["targets"]["wheel"]
    needed = {"pyproject.toml", project["project"]["readme"]} | set(wheel["only-include"])
    copied: set[str] = set()
    for name, args in dockerfile_stages()[0]:
        if name == "COPY":
            copied |= {src.rstrip("/") for src in args.split()[:-1]}
    assert not needed - copied, f"the build stage does not copy {sorted(needed - copied)}"


def test_dockerignore_keeps_local_state_and_secrets_out() -> None:
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    assert {".env", ".venv", ".git", ".aftersales"} <= ignored


@pytest.mark.parametrize(
    "service, subcommand",
    [
        ("worker", "worker"),
        ("setup", "migrate"),
        ("setup", "deployments"),
        ("codec-server", "codec-server"),
        ("api", "api"),
    ],
)
def test_compose_runs_real_subcommands(service: str, subcommand: str) -> None:
    words = command_words(services()[service])
    assert subcommand in words, f"{service} does not run {subcommand}: {words}"
    assert subcommand in subcommands(), f"`aftersales {subcommand}` does not exist"


def test_deploy_doc_lists_every_search_attribute_with_its_type() -> None:
    doc = (ROOT / "docs" / "DEPLOY.md").read_text(encoding="utf-8")
    for key in ALL:
        kind = key.indexed_value_type.name.title()
        assert re.search(rf"`{key.name}`\s*\|\s*{kind}\b", doc), f"DEPLOY.md: {key.name} ({kind})"


# -- the registration script against a real server --------------------------------------------


def _run_script(address: str, namespace: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TEMPORAL_ADDRESS": address, "TEMPORAL_NAMESPACE": namespace,
           "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, str(REGISTER_SCRIPT), "--wait", "10"],
        capture_output=True, text=True, env=env, timeout=60, cwd=ROOT,
    )


@pytest.mark.devserver
async def test_register_script_adds_missing_attributes_and_is_harmless_to_rerun() -> None:
    async with await WorkflowEnvironment.start_local(
        dev_server_existing_path=binary("temporal"),
        ui=False,
        dev_server_extra_args=["--namespace", "conflicting"],
    ) as env:
        address = env.client.service_client.config.target_host
        first = await asyncio.to_thread(_run_script, address, "default")
        assert first.returncode == 0, first.stderr
        assert sorted(json.loads(first.stdout)["added"]) == sorted(k.name for k in ALL)

        resp = await env.client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace="default")
        )
        for key in ALL:
            assert resp.custom_attributes[key.name] == key.indexed_value_type, key.name

        again = await asyncio.to_thread(_run_script, address, "default")
        assert again.returncode == 0, again.stderr
        assert json.loads(again.stdout)["added"] == []

        # An attribute under the same name with another type is reported, never "fixed".
        await env.client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(
                namespace="conflicting",
                search_attributes={ALL[0].name: SearchAttributeIndexedValueType.DOUBLE},
            )
        )
        clash = await asyncio.to_thread(_run_script, address, "conflicting")
        assert clash.returncode == 2, clash.stderr
        assert ALL[0].name in clash.stderr and "Traceback" not in clash.stderr


def test_the_api_runs_behind_the_tls_proxy_only() -> None:
    svcs = services()
    api = svcs["api"]
    assert "ports" not in api, "the API is reached through api-proxy, never published in plain HTTP"
    host, _, port = environment(api)["AFTERSALES_API_BIND"].rpartition(":")
    assert host == "0.0.0.0"
    caddyfile = (ROOT / "deploy" / "Caddyfile").read_text(encoding="utf-8")
    assert f"reverse_proxy api:{port}" in caddyfile and "tls " in caddyfile
    proxy = svcs["api-proxy"]
    assert any(v.startswith("./deploy/Caddyfile:") for v in proxy["volumes"])
    assert api["depends_on"]["setup"]["condition"] == "service_completed_successfully"


def test_prometheus_scrapes_the_workers_metrics_port_for_the_dashboards_job() -> None:
    services = compose()["services"]
    port = int(services["worker"]["environment"]["AFTERSALES_METRICS_PORT"])
    mounts = {m.split(":")[1]: m.split(":")[0] for m in services["prometheus"]["volumes"]}
    config = yaml.safe_load((ROOT / mounts["/etc/prometheus/prometheus.yml"]).read_text())
    (job,) = config["scrape_configs"]
    (discovery,) = job["dns_sd_configs"]
    assert discovery["names"] == ["worker"] and discovery["port"] == port
    board = (ROOT / "deploy/grafana/dashboards/aftersales.json").read_text()
    assert f'job=\\"{job["job_name"]}\\"' in board
    grafana = {m.split(":")[1]: m.split(":")[0] for m in services["grafana"]["volumes"]}
    assert (ROOT / grafana["/etc/grafana/provisioning"] / "datasources/prometheus.yml").is_file()
    assert (ROOT / grafana["/var/lib/grafana/dashboards"] / "aftersales.json").is_file()


def test_grafana_reads_the_merchant_tables_from_the_application_database() -> None:
    svcs = services()
    grafana = svcs["grafana"]
    provisioning = ROOT / bind_mounts(grafana)["/etc/grafana/provisioning"]
    (source,) = yaml.safe_load(
        (provisioning / "datasources" / "postgresql.yml").read_text(encoding="utf-8")
    )["datasources"]
    assert source["type"] == "grafana-postgresql-datasource" and source["uid"]
    # The database the workers write, reached as they reach it.
    workers = DSN.match(environment(svcs["worker"])["DATABASE_URL"])
    assert workers
    host, _, port = source["url"].rpartition(":")
    assert (host, port) == (workers["host"], workers["port"]), source["url"]
    # Grafana fills in $NAME from its own environment, which must take the database's values.
    env, app_db = environment(grafana), environment(svcs["postgresql"])

    def expanded(value: str) -> str:
        return GRAFANA_ENV_REFERENCE.sub(lambda m: env[m[1]], value)

    assert expanded(source["user"]) == app_db["POSTGRES_USER"]
    assert expanded(source["jsonData"]["database"]) == app_db["POSTGRES_DB"]
    assert expanded(source["secureJsonData"]["password"]) == app_db["POSTGRES_PASSWORD"]
    assert "password" not in source, "a plain `password` is stored unencrypted"
    assert grafana["depends_on"]["postgresql"]["condition"] == "service_healthy"

    board = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    named = {"type": source["type"], "uid": source["uid"]}
    tables = [p for p in board["panels"] if p.get("datasource") == named]
    assert {p["title"] for p in tables} == {"Worst merchants by breach rate", "Worst merchants by queue age"}
    for panel in tables:
        for target in panel["targets"]:
            assert target["datasource"] == named and target["format"] == "table" and target["rawSql"]


def test_temporal_dispatches_each_merchants_cases_in_turn() -> None:
    """Fairness is off in the server by default; without it one merchant's backlog holds up the
    cases of every merchant queued behind it. The dev server turns on the same key."""
    temporal = services()["temporal"]
    path = environment(temporal)["DYNAMIC_CONFIG_FILE_PATH"]
    mounted = bind_mounts(temporal).get(path)
    assert mounted, f"DYNAMIC_CONFIG_FILE_PATH={path} is not a mounted file"
    config = yaml.safe_load((ROOT / mounted).read_text(encoding="utf-8"))
    assert config[FAIRNESS_KEY] == [{"value": True}], config
