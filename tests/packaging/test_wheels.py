"""What a user installs is only the product: the two wheels of this repo, built and installed as
a user would, the product's alone in a clean virtualenv."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
SERVER_PACKAGES = ("starlette", "uvicorn")


def build(source: Path, out: Path) -> Path:
    """``pip wheel`` of one distribution (hatchling from the dev lock, no build isolation)."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    [wheel] = out.glob("*.whl")
    return wheel


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("wheels")
    return {
        "product": build(REPO, root / "product"),
        "simulator": build(REPO / "simulator", root / "simulator"),
    }


def test_the_product_wheel_holds_the_product_alone(wheels: dict[str, Path]) -> None:
    names = zipfile.ZipFile(wheels["product"]).namelist()
    assert any(n.startswith("pulumi_dcs_migration/plugin/") for n in names)
    assert not any("simulator" in n.split("/")[0] for n in names)
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    requires = [
        line
        for line in zipfile.ZipFile(wheels["product"]).read(metadata).decode().splitlines()
        if line.startswith("Requires-Dist:")
    ]
    assert requires and not any(p in line.lower() for line in requires for p in SERVER_PACKAGES)


def test_the_simulator_wheel_depends_on_the_product(wheels: dict[str, Path]) -> None:
    archive = zipfile.ZipFile(wheels["simulator"])
    names = archive.namelist()
    assert any(n.startswith("dcs_simulator/") for n in names)
    assert not any(n.startswith("pulumi_dcs_migration/") for n in names)
    metadata = archive.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "Requires-Dist: pulumi-dcs-migration" in metadata


def test_one_version_number_for_the_wheels_the_schema_and_every_sdk(
    wheels: dict[str, Path],
) -> None:
    """``__version__`` of the product is the release's one number (scripts/dist.sh)."""
    from pulumi_dcs_migration import __version__

    def metadata(wheel: Path) -> str:
        archive = zipfile.ZipFile(wheel)
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        return archive.read(name).decode()

    assert f"\nVersion: {__version__}\n" in metadata(wheels["product"])
    simulator = metadata(wheels["simulator"])
    assert f"\nVersion: {__version__}\n" in simulator
    assert f"Requires-Dist: pulumi-dcs-migration=={__version__}\n" in simulator
    sdk = REPO / "sdk"
    assert json.loads((sdk / "schema.json").read_text())["version"] == __version__
    assert json.loads((sdk / "nodejs" / "package.json").read_text())["version"] == __version__
    assert f'version = "{__version__}"' in (sdk / "python" / "pyproject.toml").read_text()
    plugin = json.loads((sdk / "go" / "dcsmigration" / "pulumi-plugin.json").read_text())
    assert plugin["version"] == __version__


def test_the_product_installs_alone_into_a_clean_virtualenv(
    wheels: dict[str, Path], tmp_path: Path
) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    install = subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            str(wheels["product"]),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    installed = subprocess.run(
        [str(python), "-m", "pip", "list", "--format=freeze", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.lower()
    assert "pulumi-dcs-migration==" in installed
    assert not any(f"{p}==" in installed for p in SERVER_PACKAGES), installed
    assert "dcs-simulator" not in installed
    imported = subprocess.run(
        [
            str(python),
            "-c",
            "import pulumi_dcs_migration.client, pulumi_dcs_migration.resource, "
            "pulumi_dcs_migration.plugin, pulumi_dcs_migration.cli; "
            "import importlib.util as u; print(u.find_spec('dcs_simulator'))",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert imported.returncode == 0 and imported.stdout.strip() == "None", imported.stderr
    help_text = subprocess.run(
        [str(venv / "bin" / "dcs-migration"), "--help"], capture_output=True, text=True, timeout=120
    )
    assert help_text.returncode == 0 and "Exit codes" in help_text.stdout
    assert (venv / "bin" / "pulumi-resource-dcs-migration").exists()
