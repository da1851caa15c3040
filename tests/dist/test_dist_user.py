"""A user with only the release artefacts (`make dist`): nothing from the checkout.

The artefacts are built once (scripts/dist.sh, into a temporary folder); everything else runs in
a folder outside the repository: a fresh virtualenv with the product's wheel, the Python SDK's
wheel and the simulator's wheel (from the package index for their dependencies), a fresh
PULUMI_HOME with the plugin installed by the wheel's own ``dcs-migration plugin install``, and the
pulumi CLI with its language hosts (`make setup` builds them; a user has their own). PATH holds
those, node, npm and go, never the repo's .venv.

Against one simulator served by the simulator wheel's ``dcs-simulator``, each program runs
``up``, a second ``preview --expect-no-changes`` and ``destroy`` through the real CLI: Python
with the dynamic resource, Python with the plugin-backed resource (the Python SDK) and
customTimeouts, YAML, TypeScript (the npm tarball by ``npm install``; @pulumi/pulumi as
tools/node's lock pins it) and Go (the Go module from
its tarball, by a ``replace``). The credentials are secret stack config; no file the runs wrote
holds the secret key.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from dcs_simulator.admin_client import SimulatorAdmin

from ..plugin.project import yaml_program

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
VENV_PULUMI = REPO / ".venv" / "bin" / "pulumi"
PASSPHRASE = "dist-user-passphrase"
TASKS_PER_PROGRAM = 2


def version() -> str:
    text = (REPO / "provider" / "pulumi_dcs_migration" / "__init__.py").read_text()
    found = re.search(r'^__version__ = "([^"]+)"$', text, re.MULTILINE)
    assert found is not None
    return found.group(1)


def cli_dir() -> Path:
    """Where the pulumi CLI and its language hosts are (the directory .venv/bin/pulumi runs)."""
    found = re.search(r'^exec "(.*)/pulumi" ', VENV_PULUMI.read_text(), re.MULTILINE)
    if found is None:
        raise RuntimeError(f"{VENV_PULUMI} does not name the CLI it runs: run `make setup`")
    return Path(found.group(1))


def node_pin(name: str) -> str:
    """The version of ``name`` in tools/node's lock, so that npm finds it in its cache."""
    lock = json.loads((REPO / "tools" / "node" / "package-lock.json").read_text())
    pinned: str = lock["packages"][f"node_modules/{name}"]["version"]
    return pinned


def run(
    args: list[str], *, cwd: Path, env: dict[str, str], timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise AssertionError(
            f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
        )
    return done


@dataclass
class User:
    """The user's folder: dist/, venv/, home/ (PULUMI_HOME), state/ (the backend), programs."""

    root: Path
    dist: Path
    access_key: str
    secret_key: str
    project_id: str = ""
    endpoint: str = ""
    env: dict[str, str] = field(default_factory=dict)

    @property
    def venv_bin(self) -> Path:
        return self.root / "venv" / "bin"

    def artefact(self, pattern: str) -> Path:
        [found] = self.dist.glob(pattern)
        return found


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`make dist`'s files, built into a temporary folder."""
    out = tmp_path_factory.mktemp("dist")
    run([str(REPO / "scripts" / "dist.sh"), str(out)], cwd=REPO, env=dict(os.environ))
    return out


@pytest.fixture(scope="module")
def user(tmp_path_factory: pytest.TempPathFactory, dist: Path) -> Iterator[User]:
    root = tmp_path_factory.mktemp("user")
    assert REPO not in root.parents
    shutil.copytree(dist, root / "dist")
    u = User(
        root=root,
        dist=root / "dist",
        access_key="DISTUSER" + secrets.token_hex(6).upper(),
        secret_key="distuser-secret-" + secrets.token_hex(16),
    )
    for name in ("home", "state", "programs"):
        (root / name).mkdir()
    # The machine's environment (package index, Go proxy, npm settings) without this checkout's
    # traces: no Pulumi or credential variables, no virtualenv, PATH rebuilt below.
    dropped = ("PULUMI_", "HW_", "HUAWEICLOUD_SDK_", "VIRTUAL_ENV", "PYTHON")
    u.env = {k: v for k, v in os.environ.items() if not k.startswith(dropped)}
    tools = [shutil.which(t) for t in ("node", "npm", "go")]
    assert all(tools), f"node, npm and go are needed on PATH: {tools}"
    path = [str(u.venv_bin), str(cli_dir()), *sorted({str(Path(t).parent) for t in tools if t})]
    assert not any(str(REPO) in p for p in path), path
    u.env.update(
        PATH=":".join([*path, "/usr/bin", "/bin"]),
        PULUMI_HOME=str(root / "home"),
        PULUMI_BACKEND_URL=f"file://{root / 'state'}",
        PULUMI_CONFIG_PASSPHRASE=PASSPHRASE,
        PULUMI_SKIP_UPDATE_CHECK="true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION="true",
        NO_COLOR="1",
    )
    # The virtualenv: the product, the plugin's Python SDK and the simulator, from dist/ only.
    run([sys.executable, "-m", "venv", str(root / "venv")], cwd=root, env=u.env)
    wheels = [
        str(u.artefact(f"pulumi_dcs_migration-{version()}-py3-none-any.whl")),
        str(u.artefact(f"pulumi_dcs_migration_sdk-{version()}-py3-none-any.whl")),
        str(u.artefact(f"dcs_simulator-{version()}-py3-none-any.whl")),
    ]
    pip = [str(u.venv_bin / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    run([*pip, *wheels], cwd=root, env=u.env)
    # The plugin, as the README says: the wheel's own command, into this PULUMI_HOME.
    run([str(u.venv_bin / "dcs-migration"), "plugin", "install"], cwd=root, env=u.env)
    # The simulator, from its wheel, with this user's keys.
    sim = subprocess.Popen(
        [
            str(u.venv_bin / "dcs-simulator"),
            "--port",
            "0",
            "--stop-delay",
            "0.3",
            "--access-key",
            u.access_key,
            "--secret-key",
            u.secret_key,
        ],
        cwd=root,
        env=u.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert sim.stdout is not None
        line = sim.stdout.readline()
        found = re.search(r"listening on (\S+) project=(\S+)", line)
        assert found, f"dcs-simulator printed {line!r}"
        u.endpoint, u.project_id = found.group(1), found.group(2)
        yield u
    finally:
        sim.terminate()
        sim.wait(timeout=60)


@dataclass
class Program:
    user: User
    name: str
    files: dict[str, str]
    namespace: str  # where the credentials go in the stack config

    @property
    def dir(self) -> Path:
        return self.user.root / "programs" / self.name

    def write(self) -> None:
        for name, text in self.files.items():
            (self.dir / name).parent.mkdir(parents=True, exist_ok=True)
            (self.dir / name).write_text(text)

    def pulumi(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run(["pulumi", *args, "--non-interactive"], cwd=self.dir, env=self.user.env)

    def init(self, task_ids: list[str]) -> None:
        u = self.user
        self.pulumi("stack", "init", "dev")
        self.pulumi("config", "set", f"{self.namespace}:endpoint", u.endpoint)
        self.pulumi("config", "set", f"{self.namespace}:projectId", u.project_id)
        self.pulumi("config", "set", "--secret", f"{self.namespace}:accessKey", u.access_key)
        self.pulumi("config", "set", "--secret", f"{self.namespace}:secretKey", u.secret_key)
        pairs = [f"--plaintext=taskIds[{i}]={t}" for i, t in enumerate(task_ids)]
        self.pulumi("config", "set-all", "--path", *pairs)

    def lifecycle(self, admin: SimulatorAdmin) -> None:
        """up, a second preview that must find nothing to do, destroy; the tasks TERMINATED."""
        ids = admin.create_tasks(TASKS_PER_PROGRAM, name_prefix=self.name)
        self.init(ids)
        up = self.pulumi("up", "--yes", "--skip-preview")
        assert "created" in up.stdout, up.stdout
        assert admin.statuses(ids) == ["TERMINATED"] * len(ids)
        outputs = json.loads(self.pulumi("stack", "output", "--json").stdout)
        assert sorted(outputs["terminatedIds"]) == sorted(ids)
        self.pulumi("preview", "--expect-no-changes")
        destroy = self.pulumi("destroy", "--yes", "--skip-preview")
        assert "deleted" in destroy.stdout, destroy.stdout
        assert admin.statuses(ids) == ["TERMINATED"] * len(ids)


PYTHON_DYNAMIC = """\
import pulumi

from pulumi_dcs_migration import MigrationTasksStopped

cutover = MigrationTasksStopped("cutover", task_ids=pulumi.Config().require_object("taskIds"))
pulumi.export("terminatedIds", cutover.terminated_ids)
"""

PYTHON_SDK = """\
import pulumi

import pulumi_dcs_migration_sdk as dcs

cutover = dcs.MigrationTasksStopped(
    "cutover",
    task_ids=pulumi.Config().require_object("taskIds"),
    on_finished="warn",
    opts=pulumi.ResourceOptions(
        custom_timeouts=pulumi.CustomTimeouts(create="10m", update="10m", delete="5m")
    ),
)
pulumi.export("terminatedIds", cutover.terminated_ids)
"""

YAML = yaml_program("10m")  # the plugin tier's program, its customTimeouts 10 minutes

TYPESCRIPT = """\
import * as pulumi from "@pulumi/pulumi";
import * as dcs from "@dcs-migration/pulumi";

const taskIds = new pulumi.Config().requireObject<string[]>("taskIds");
const cutover = new dcs.MigrationTasksStopped(
    "cutover",
    { taskIds, onFinished: "warn" },
    { customTimeouts: { create: "10m", update: "10m" } },
);
export const terminatedIds: pulumi.Output<string[]> = cutover.terminatedIds;
"""

GO_MAIN = """\
package main

import (
\t"github.com/pulumi-dcs-migration/pulumi-dcs-migration/sdk/go/dcsmigration"
\t"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
\t"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"
)

func main() {
\tpulumi.Run(func(ctx *pulumi.Context) error {
\t\tvar taskIds []string
\t\tconfig.RequireObject(ctx, "taskIds", &taskIds)
\t\tcutover, err := dcsmigration.NewMigrationTasksStopped(ctx, "cutover", &dcsmigration.MigrationTasksStoppedArgs{
\t\t\tTaskIds:    pulumi.ToStringArray(taskIds),
\t\t\tOnFinished: pulumi.String("warn"),
\t\t}, pulumi.Timeouts(&pulumi.CustomTimeouts{Create: "10m", Update: "10m"}))
\t\tif err != nil {
\t\t\treturn err
\t\t}
\t\tctx.Export("terminatedIds", cutover.TerminatedIds)
\t\treturn nil
\t})
}
"""

GO_MODULE = "github.com/pulumi-dcs-migration/pulumi-dcs-migration/sdk/go"
# sdk/go's go.mod requires the pulumi Go SDK v3.269.0 (what codegen writes), whose dependency
# pulumi-cloud-sdk/go v1.20260918.0 the Go module proxy refuses here (403); the program asks for
# the SDK of the CLI it runs with, v3.274.1 (Go's minimal version selection takes the higher).
GO_PULUMI_SDK = "github.com/pulumi/pulumi/sdk/v3 v3.274.1"


def python_project(user: User, name: str) -> str:
    return (
        f"name: {name}\n"
        "runtime:\n"
        "  name: python\n"
        "  options:\n"
        "    toolchain: pip\n"
        f"    virtualenv: {user.root / 'venv'}\n"
    )


@pytest.fixture(scope="module")
def admin(user: User) -> Iterator[SimulatorAdmin]:
    with SimulatorAdmin(user.endpoint) as client:
        yield client


def test_python_dynamic_resource_from_the_wheel(user: User, admin: SimulatorAdmin) -> None:
    program = Program(
        user,
        "python-dynamic",
        {"Pulumi.yaml": python_project(user, "python-dynamic"), "__main__.py": PYTHON_DYNAMIC},
        namespace="dcs",
    )
    program.write()
    program.lifecycle(admin)


def test_python_plugin_resource_from_the_sdk_wheel(user: User, admin: SimulatorAdmin) -> None:
    program = Program(
        user,
        "python-sdk",
        {"Pulumi.yaml": python_project(user, "python-sdk"), "__main__.py": PYTHON_SDK},
        namespace="dcs-migration",
    )
    program.write()
    program.lifecycle(admin)


def test_yaml_program_with_the_installed_plugin(user: User, admin: SimulatorAdmin) -> None:
    program = Program(user, "yaml", {"Pulumi.yaml": YAML}, namespace="dcs-migration")
    program.write()
    program.lifecycle(admin)


def test_typescript_program_with_the_npm_tarball(user: User, admin: SimulatorAdmin) -> None:
    tarball = user.artefact(f"dcs-migration-pulumi-{version()}.tgz")
    package = {
        "name": "ts-cutover",
        "private": True,
        "main": "index.ts",
        "dependencies": {
            "@dcs-migration/pulumi": f"file:{tarball}",
            "@pulumi/pulumi": node_pin("@pulumi/pulumi"),
        },
        "devDependencies": {
            "typescript": node_pin("typescript"),
            "@types/node": node_pin("@types/node"),
        },
    }
    tsconfig = {
        "compilerOptions": {
            "strict": True,
            "target": "es2020",
            "module": "commonjs",
            "moduleResolution": "node",
            "esModuleInterop": True,
        },
        "files": ["index.ts"],
    }
    program = Program(
        user,
        "typescript",
        {
            "Pulumi.yaml": "name: ts-cutover\nruntime: nodejs\n",
            "package.json": json.dumps(package, indent=2),
            "tsconfig.json": json.dumps(tsconfig, indent=2),
            "index.ts": TYPESCRIPT,
        },
        namespace="dcs-migration",
    )
    program.write()
    # The tested @pulumi/pulumi tree, as a team's lock would pin it: tools/node's lock (what
    # `make setup` installed from the npm cache); npm adds the tarball to it.
    shutil.copy(REPO / "tools" / "node" / "package-lock.json", program.dir / "package-lock.json")
    npm = ["npm", "install", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error"]
    run(npm, cwd=program.dir, env=user.env)
    installed = program.dir / "node_modules" / "@dcs-migration" / "pulumi"
    assert (installed / "index.js").is_file() and (installed / "index.d.ts").is_file()
    # Its @pulumi/pulumi range admits the version tested (npm's own semver decides).
    meta = json.loads((installed / "package.json").read_text())
    assert meta["version"] == version()
    tested, wanted = node_pin("@pulumi/pulumi"), meta["dependencies"]["@pulumi/pulumi"]
    satisfies = "console.log(require('semver').satisfies(process.argv[1], process.argv[2]))"
    admitted = run(["node", "-e", satisfies, tested, wanted], cwd=program.dir, env=user.env)
    assert admitted.stdout.strip() == "true", f"{wanted} does not admit {tested}"
    # The SDK's types, strictly, as the user's editor and tsc see them.
    run(["npx", "tsc", "--noEmit", "-p", "."], cwd=program.dir, env=user.env)
    program.lifecycle(admin)


def test_go_program_with_the_go_module(user: User, admin: SimulatorAdmin) -> None:
    sdk = user.root / "go-sdk"
    with tarfile.open(user.artefact(f"dcs-migration-sdk-go-{version()}.tar.gz")) as archive:
        archive.extractall(sdk, filter="data")
    go_mod = (
        "module gocutover\n\ngo 1.25\n\n"
        f"require (\n\t{GO_MODULE} v{version()}\n\t{GO_PULUMI_SDK}\n)\n\n"
        f"replace {GO_MODULE} => {sdk / 'go'}\n"
    )
    program = Program(
        user,
        "go",
        {"Pulumi.yaml": "name: go-cutover\nruntime: go\n", "go.mod": go_mod, "main.go": GO_MAIN},
        namespace="dcs-migration",
    )
    program.write()
    run(["go", "mod", "tidy"], cwd=program.dir, env=user.env)
    run(["go", "build", "-o", os.devnull, "."], cwd=program.dir, env=user.env)
    run(["go", "vet", "."], cwd=program.dir, env=user.env)
    program.lifecycle(admin)


def test_no_file_the_runs_wrote_holds_the_secret_key(user: User) -> None:
    """Last in this module: every file under the user's folder (stack configs, state, backups,
    logs, PULUMI_HOME, the programs and their dependencies)."""
    needle = user.secret_key.encode()
    scanned = 0
    for path in user.root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            scanned += 1
            assert needle not in path.read_bytes(), f"the secret key is written in {path}"
    assert scanned > 0
    # ... and the runs did write state for every program.
    assert len(list((user.root / "state").rglob("*.json"))) >= 5
