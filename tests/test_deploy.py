"""Deployment files: `compose.yaml` parses and wires the services the README promises.

Docker is often absent where the tests run, so the file is loaded with PyYAML and checked here
against the few rules Compose would enforce (and a few of our own); `docker compose config`
runs too where the Compose plugin is installed.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.settings import PREFIX, Settings

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "compose.yaml"
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}
# What the bot and the worker read (the shared environment): the database, the send budget
# shared through Redis, and the S3 store for evidence photos.
NEEDS = {
    "postgres": "service_healthy",
    "redis": "service_started",
    "minio": "service_started",
}


def _services() -> dict[str, dict[str, Any]]:
    document = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(document, dict) and isinstance(document.get("services"), dict)
    services: dict[str, dict[str, Any]] = document["services"]
    assert all(isinstance(spec, dict) for spec in services.values())
    return services


def _depends_on(spec: dict[str, Any]) -> dict[str, str]:
    """A service's `depends_on`, short (a list) or long (a mapping) form, as name -> condition."""
    found = spec.get("depends_on") or {}
    if isinstance(found, list):
        return {name: "service_started" for name in found}
    assert isinstance(found, dict), f"depends_on must be a list or a mapping: {found!r}"
    conditions = {}
    for name, options in found.items():
        assert isinstance(options, dict), f"depends_on.{name} must be a mapping: {options!r}"
        assert set(options) <= {"condition", "restart", "required"}, f"depends_on.{name}"
        conditions[name] = options.get("condition", "service_started")
    return conditions


def _environment(spec: dict[str, Any]) -> set[str]:
    found = spec.get("environment") or {}
    if isinstance(found, list):
        return {item.split("=", 1)[0] for item in found}
    assert isinstance(found, dict)
    return set(found)


def test_compose_yaml_parses() -> None:
    assert _services()


def test_every_dependency_is_a_service_and_a_healthy_one_has_a_healthcheck() -> None:
    services = _services()
    for name, spec in services.items():
        for other, condition in _depends_on(spec).items():
            assert other in services, f"{name} depends on {other}, which is not a service"
            assert other != name
            assert condition in CONDITIONS, f"{name}: depends_on.{other}: {condition}"
            if condition == "service_healthy":
                assert "healthcheck" in services[other], f"{other} has no healthcheck"


@pytest.mark.parametrize("name", ["bot", "worker"])
def test_bot_and_worker_build_from_the_dockerfile_and_wait_for_what_they_use(name: str) -> None:
    spec = _services()[name]
    build = spec["build"]
    context, dockerfile = (
        (build, "Dockerfile")
        if isinstance(build, str)
        else (build.get("context", "."), build.get("dockerfile", "Dockerfile"))
    )
    assert (ROOT / context / dockerfile).resolve() == ROOT / "Dockerfile"
    assert "image" not in spec  # built here, not pulled
    assert _depends_on(spec) == NEEDS


def test_the_environment_names_are_settings() -> None:
    """A misspelt HALSARAM_* name would be ignored silently (the settings ignore extras)."""
    known = {PREFIX + field.upper() for field in Settings.model_fields}
    used = {
        variable
        for spec in _services().values()
        for variable in _environment(spec)
        if variable.startswith(PREFIX)
    }
    assert used, "the bot's environment lost its HALSARAM_* variables"
    assert used <= known, f"not settings: {sorted(used - known)}"
    example = ROOT / ".env.example"
    listed = {
        line.split("=", 1)[0].strip()
        for line in example.read_text(encoding="utf-8").splitlines()
        if line.startswith(PREFIX)
    }
    assert listed <= known, f".env.example: not settings: {sorted(listed - known)}"


def _compose_plugin() -> bool:
    if shutil.which("docker") is None:
        return False
    done = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30)
    return done.returncode == 0


@pytest.mark.skipif(not _compose_plugin(), reason="needs Docker with the Compose plugin")
def test_docker_compose_config_accepts_it(tmp_path: Path) -> None:
    # `env_file: .env` must exist; the example stands in for the operator's copy.
    shutil.copy(COMPOSE, tmp_path / "compose.yaml")
    shutil.copy(ROOT / ".env.example", tmp_path / ".env")
    done = subprocess.run(
        ["docker", "compose", "-f", str(tmp_path / "compose.yaml"), "config", "--quiet"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
