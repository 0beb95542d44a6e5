"""The runtime image (deploy/Dockerfile) is slim: built in two stages, it installs only the runtime
dependencies (the generated deploy/requirements-runtime.txt, never requirements.lock with its test and
lint tools), copies only the code the services run, and runs as an unprivileged user. No Docker engine
here: the Dockerfile is read, and the image's file set is imported on a path holding only what the
image would hold."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from importlib.metadata import distribution
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from deploy.runtime_requirements import closure, runtime_requirements
from tests.infra import REPO

pytestmark = pytest.mark.unit

DOCKERFILE = REPO / "deploy" / "Dockerfile"
RUNTIME = REPO / "deploy" / "requirements-runtime.txt"
ENTRY_POINTS = ("services.ingest.__main__", "services.health.__main__", "services.renewals.__main__",
                "services.expansion.__main__", "shared.migrations.__main__", "shared.replay", "cli.main")


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


def stages() -> list[Stage]:
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    found: list[Stage] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, args = line.partition(" ")
        if keyword.upper() == "FROM":
            words = args.split()
            found.append(Stage(words[0], words[2] if len(words) == 3 and words[1].upper() == "AS" else None))
        else:
            found[-1].instructions.append((keyword.upper(), args.strip()))
    return found


def runtime_names() -> set[str]:
    lines = [line for line in RUNTIME.read_text().splitlines() if line and not line.startswith("#")]
    return {canonicalize_name(line.split("==")[0]) for line in lines}


def test_the_runtime_requirements_are_the_closure_of_the_project_dependencies_pinned_as_locked() -> None:
    assert RUNTIME.read_text() == runtime_requirements(), \
        "regenerate: .venv/bin/python -m deploy.runtime_requirements > deploy/requirements-runtime.txt"


def test_no_dev_or_test_tool_is_in_the_runtime_requirements() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    tools = {canonicalize_name(Requirement(r).name) for r in project["optional-dependencies"]["dev"]}
    needed = closure(project["dependencies"])
    # A library of the dev list that the services need as well is fine; the tools themselves are not.
    assert tools & runtime_names() == tools & needed
    for tool in ("pytest", "mypy", "ruff", "playwright", "schemathesis", "hypothesis", "testcontainers",
                 "kubernetes-validate", "check-jsonschema", "promql-parser"):
        assert tool not in runtime_names(), tool


def test_two_stages_and_the_runtime_one_installs_nothing_and_runs_unprivileged() -> None:
    build, runtime = stages()
    assert build.base == runtime.base and build.name and runtime.name
    installs = [run for stage in (build, runtime) for run in stage.all("RUN") if "pip install" in run]
    assert installs and all("requirements-runtime.txt" in run and "--no-deps" in run for run in installs)
    assert "requirements.lock" not in DOCKERFILE.read_text() and "[dev]" not in DOCKERFILE.read_text()
    assert not [run for run in runtime.all("RUN") if "pip" in run], "the runtime stage installs nothing"
    (user,) = runtime.all("USER")
    assert user.split(":")[0] not in {"root", "0"}
    assert runtime.instructions.index(("USER", user)) > max(
        i for i, (kw, _) in enumerate(runtime.instructions) if kw in {"RUN", "COPY"}), "USER comes last"
    (cmd,) = runtime.all("CMD")
    assert cmd.startswith("["), "exec form: python is PID 1 and gets SIGTERM"


def _image_tree(tmp: Path) -> Path:
    """The runtime stage's /app: exactly the files its COPY instructions take from the repository."""
    app = tmp / "app"
    for copy in stages()[-1].all("COPY"):
        words = shlex.split(copy)
        if any(w.startswith("--from") for w in words):
            continue
        *sources, target = words
        destination = app / target
        for source in sources:
            src = REPO / source
            dest = destination / src.name if target.endswith("/") else destination
            dest.parent.mkdir(parents=True, exist_ok=True)
            if src.is_dir():
                subprocess.run(["cp", "-r", str(src), str(dest)], check=True)
            else:
                subprocess.run(["cp", str(src), str(dest)], check=True)
    return app


def _runtime_site(tmp: Path) -> Path:
    """A site-packages holding only the runtime requirements' installed files (links to this venv's)."""
    site = tmp / "site"
    site.mkdir()
    for name in runtime_names():
        dist = distribution(name)
        for top in {Path(str(f)).parts[0] for f in dist.files or [] if not str(f).startswith("..")}:
            source = Path(str(dist.locate_file(top)))
            if source.exists() and not (site / top).exists():
                (site / top).symlink_to(source)
    return site


def test_every_entry_point_imports_from_the_image_s_files_and_runtime_packages_alone(tmp_path: Path) -> None:
    app, site = _image_tree(tmp_path), _runtime_site(tmp_path)
    assert not (app / "tests").exists() and not (app / "bench").exists()
    assert (app / "deploy" / "catalogue.yaml").is_file()
    assert list((app / "services" / "health" / "migrations").glob("0001_*.py"))
    script = "import importlib, sys\nfor m in sys.argv[1:]:\n    importlib.import_module(m)\n"
    # -S: no site-packages (and no editable install of the repository); only the image's two paths.
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": f"{app}{os.pathsep}{site}"}
    result = subprocess.run([sys.executable, "-S", "-c", script, *ENTRY_POINTS], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
