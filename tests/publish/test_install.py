"""The plugins install and run as published, outside this repository.

One build per test module: every wheel and sdist (`uv build`), checked with `twine check --strict`, served
from a local folder (`--find-links`, with the normal index for third-party packages: our
`ml-connector-*` names are on no index, so they can only come from the folder). Then, as a user would:

- each plugin ALONE in a brand-new venv, from exactly the `pip_url` of its `meltano-plugin.yml`:
  `--version`, `python -m <package> --version`, `--about --format=json`, and `--discover` against the
  emulators for the taps;
- a brand-new `meltano init` project: `meltano add --from-ref <package>/meltano-plugin.yml` for all five,
  `meltano install`, `meltano config test` for the taps, and `meltano run` of the three flows against
  the emulators, with the rows compared to the sources.

The folder is named to pip and uv through their own environment variables (PIP_FIND_LINKS,
UV_FIND_LINKS), as a user would point Meltano at a private index.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import tarfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from acumatica_emulator import AcumaticaEmulator
from acumatica_emulator import EmulatorConfig as AcumaticaConfig
from databricks_emulator import DatabricksEmulator
from databricks_emulator import EmulatorConfig as DatabricksConfig
from deltalake import DeltaTable
from intacct_emulator import EmulatorConfig as IntacctConfig
from intacct_emulator import IntacctEmulator
from looker_emulator import EmulatorConfig as LookerConfig
from looker_emulator import LookerEmulator

from tests.support.acumatica_target import PREFIX, expected_journals, posted_journals, query_rows
from tests.support.plugins import PLUGINS, ROOT, clean_env, definition, distribution, sandbox_config

pytestmark = [pytest.mark.publish, pytest.mark.e2e, pytest.mark.timeout(900)]

BIN = Path(sys.executable).parent
UV = str(ROOT / ".tools" / "bin" / "uv") if (ROOT / ".tools" / "bin" / "uv").exists() else str(BIN / "uv")
VERSION = "0.1.0"

#: Every distribution a plugin needs: the five plugins and the two libraries they share.
LIBRARIES = ("packages/acumatica-client", "packages/run-audit")
PACKAGES = (*sorted(PLUGINS), *LIBRARIES, "packages/mlc-secrets")

#: Stream each tap must discover, and the streams its `meltano run` selects (kept small: the flow,
#: not the volume, is under test here).
DISCOVERED = {"tap-acumatica": "vendors", "tap-sage-intacct": "vendors", "tap-looker": "overhead_allocation"}


def run(argv: list[str], **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=900, check=False, **kwargs)
    assert done.returncode == 0, f"{' '.join(map(str, argv))}:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    return done


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    """Every wheel and sdist, built once for the module."""
    out = tmp_path_factory.mktemp("dist")
    names = [distribution(p) for p in PACKAGES]
    builds = [
        subprocess.Popen(
            [UV, "build", "--quiet", "--package", name, "--out-dir", str(out)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in names
    ]
    for name, build in zip(names, builds, strict=True):
        _, err = build.communicate(timeout=600)
        assert build.returncode == 0, f"uv build --package {name}: {err[-3000:]}"
    # Same name and version as the last build: uv must not install an older build of ours from its cache.
    run([UV, "cache", "clean", *names])
    return out


def index_env(dist: Path) -> dict[str, str]:
    """A clean environment whose pip and uv also look in ``dist`` (as well as any folder already set)."""
    env = clean_env()
    for var in ("PIP_FIND_LINKS", "UV_FIND_LINKS"):
        # pip takes a space-separated list: keep the folders the machine's pip already uses.
        env[var] = " ".join(filter(None, [str(dist), env.get(var, "")]))
    return env


def artifact(dist: Path, name: str, suffix: str) -> Path:
    (path,) = dist.glob(f"{name.replace('-', '_')}-{VERSION}{suffix}")
    return path


def test_every_artifact_passes_twine_check_strict_and_carries_the_license(dist):
    license_text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in license_text and "Version 2.0" in license_text
    artifacts = sorted(dist.glob("*.whl")) + sorted(dist.glob("*.tar.gz"))
    assert len(artifacts) == 2 * len(PACKAGES), [a.name for a in artifacts]
    run([str(BIN / "twine"), "check", "--strict", *map(str, artifacts)])
    for package in PACKAGES:
        name = distribution(package)
        assert (ROOT / package / "LICENSE").read_text() == license_text, f"{package}/LICENSE differs"
        wheel, sdist = artifact(dist, name, "-py3-none-any.whl"), artifact(dist, name, ".tar.gz")
        with zipfile.ZipFile(wheel) as whl:
            files = whl.namelist()
            prefix = f"{name.replace('-', '_')}-{VERSION}.dist-info/"
            assert whl.read(f"{prefix}licenses/LICENSE").decode() == license_text, wheel.name
            metadata = whl.read(f"{prefix}METADATA").decode()
        assert "License-Expression: Apache-2.0" in metadata
        assert "Classifier: Programming Language :: Python :: 3.11" in metadata
        assert "Project-URL: Repository, " in metadata and "Author: " in metadata
        # Libraries are ranges: exact versions belong in uv.lock, not in what users install.
        requirements = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
        assert not [r for r in requirements if "==" in r.split(";")[0]], requirements
        if package in PLUGINS:
            assert f"{package.replace('-', '_')}/__main__.py" in files, f"{wheel.name}: no __main__"
        with tarfile.open(sdist) as tar:
            assert f"{name.replace('-', '_')}-{VERSION}/LICENSE" in tar.getnames(), sdist.name
        print(f"{wheel.name} {wheel.stat().st_size} B, {sdist.name} {sdist.stat().st_size} B")


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> Iterator[dict]:
    """The three source emulators and a Databricks emulator, for the module."""
    data = tmp_path_factory.mktemp("dbx")
    with (
        AcumaticaEmulator(AcumaticaConfig(port=0)) as acumatica,
        IntacctEmulator(IntacctConfig(port=0)) as intacct,
        LookerEmulator(LookerConfig(port=0)) as looker,
        DatabricksEmulator(DatabricksConfig(port=0, data_dir=str(data))) as databricks,
    ):
        yield {"acumatica": acumatica, "intacct": intacct, "looker": looker, "databricks": databricks}


def plugin_config(plugin: str, sources: dict, **overrides) -> dict:
    """The sandbox environment's config of ``plugin``, pointed at this module's emulators."""
    urls = {
        "tap-acumatica": {"base_url": sources["acumatica"].base_url},
        "target-acumatica": {"base_url": sources["acumatica"].base_url},
        "tap-sage-intacct": {"endpoint_url": sources["intacct"].endpoint_url},
        "tap-looker": {"base_url": sources["looker"].base_url},
        "target-databricks": {"host": sources["databricks"].base_url, "catalog": "workspace"},
    }
    return {**sandbox_config(plugin), **urls[plugin], **overrides}


@pytest.mark.parametrize("plugin", sorted(PLUGINS))
def test_plugin_installs_alone_from_its_pip_url_and_answers(plugin, dist, sources, tmp_path):
    spec = definition(plugin)
    venv = tmp_path / "venv"
    env = index_env(dist)
    run([UV, "venv", "--quiet", "--python", sys.executable, str(venv)], env=env)
    started = time.monotonic()
    python = str(venv / "bin" / "python")
    run([UV, "pip", "install", "--quiet", "--python", python, *shlex.split(spec["pip_url"])], env=env)
    print(f"{plugin}: installed alone in {time.monotonic() - started:.1f} s")

    installed = {
        d["name"]: d
        for d in json.loads(run([UV, "pip", "list", "--format=json", "--python", python], env=env).stdout)
    }
    ours = {name for name in installed if name.startswith("ml-connector-")}
    needs = {distribution(plugin), distribution("packages/run-audit")} | (
        {distribution("packages/acumatica-client")} if "acumatica" in plugin else set()
    )
    assert ours == needs, f"{plugin} alone installed {sorted(ours)}"
    assert all(
        installed[name]["version"] == VERSION and "editable_project_location" not in installed[name]
        for name in ours
    ), installed

    executable = str(venv / "bin" / spec["executable"])
    assert run([executable, "--version"], env=env).stdout.startswith(f"{plugin} v{VERSION},")
    module = plugin.replace("-", "_")
    assert run([python, "-m", module, "--version"], env=env).stdout.startswith(f"{plugin} v{VERSION},")
    about = json.loads(run([executable, "--about", "--format=json"], env=env).stdout)
    assert (about["name"], about["version"]) == (plugin, VERSION)
    assert sorted(about["capabilities"]) == sorted(spec["capabilities"])
    assert list(about["settings"]["properties"]) == [s["name"] for s in spec["settings"]]

    if plugin in DISCOVERED:
        config = tmp_path / "config.json"
        config.write_text(json.dumps(plugin_config(plugin, sources)))
        catalog = json.loads(run([executable, "--config", str(config), "--discover"], env=env).stdout)
        streams = {s["tap_stream_id"]: s for s in catalog["streams"]}
        assert DISCOVERED[plugin] in streams, sorted(streams)
        assert all(s["schema"].get("properties") for s in streams.values())


def setting_env(plugin: str, config: dict) -> dict[str, str]:
    """``config`` as the environment variables Meltano reads a plugin's settings from."""
    prefix = plugin.upper().replace("-", "_")
    return {
        f"{prefix}_{name.upper()}": value if isinstance(value, str) else json.dumps(value)
        for name, value in config.items()
    }


def delta_rows(databricks, schema: str, table: str) -> list[dict]:
    return DeltaTable(databricks.table_path("workspace", schema, table)).to_pyarrow_table().to_pylist()


def test_new_meltano_project_adds_installs_tests_and_runs_each_plugin(dist, sources, tmp_path):
    env = index_env(dist)
    meltano = str(BIN / "meltano")
    run([meltano, "init", "project", "--no-usage-stats"], cwd=tmp_path, env=env)
    project = tmp_path / "project"
    for plugin in sorted(PLUGINS):
        run(
            [
                meltano,
                "add",
                "--plugin-type",
                PLUGINS[plugin].rstrip("s"),
                plugin,
                "--from-ref",
                str(ROOT / plugin / "meltano-plugin.yml"),
                "--no-install",
            ],
            cwd=project,
            env=env,
        )
    added = yaml.safe_load((project / "meltano.yml").read_text())["plugins"]
    assert {p["name"]: p["pip_url"] for kind in added.values() for p in kind} == {
        p: definition(p)["pip_url"] for p in PLUGINS
    }
    started = time.monotonic()
    run([meltano, "install"], cwd=project, env=env)
    print(f"meltano install of the five plugins: {time.monotonic() - started:.1f} s")

    audit_dir = tmp_path / "acumatica-audit"
    configs = {
        "tap-acumatica": plugin_config("tap-acumatica", sources),
        "tap-sage-intacct": plugin_config("tap-sage-intacct", sources),
        "tap-looker": plugin_config("tap-looker", sources),
        "target-acumatica": plugin_config("target-acumatica", sources, audit_dir=str(audit_dir)),
    }
    settings = {k: v for plugin, config in configs.items() for k, v in setting_env(plugin, config).items()}
    settings |= {
        "TAP_ACUMATICA__SELECT": json.dumps(["vendors.*", "gl_accounts.*"]),
        "TAP_SAGE_INTACCT__SELECT": json.dumps(["vendors.*"]),
    }
    for tap in DISCOVERED:
        run([meltano, "config", "test", tap], cwd=project, env=env | settings)

    def into_databricks(tap: str, schema: str) -> None:
        target = setting_env("target-databricks", plugin_config("target-databricks", sources, schema=schema))
        run([meltano, "run", tap, "target-databricks"], cwd=project, env=env | settings | target)

    acumatica, intacct = sources["acumatica"], sources["intacct"]
    into_databricks("tap-acumatica", "acumatica")
    for table, entity, key in (("vendors", "Vendor", "VendorID"), ("gl_accounts", "Account", "AccountCD")):
        landed = sorted(r[key] for r in delta_rows(sources["databricks"], "acumatica", table))
        assert landed == sorted(r[key] for r in acumatica.store.records(entity, "24.200.001")), table

    into_databricks("tap-sage-intacct", "intacct")
    landed = sorted(int(r["RECORDNO"]) for r in delta_rows(sources["databricks"], "intacct", "vendors"))
    assert landed == sorted(int(r["RECORDNO"]) for r in intacct.store.records("VENDOR"))

    run([meltano, "run", "tap-looker", "target-acumatica"], cwd=project, env=env | settings)
    expected = expected_journals(query_rows(sources["looker"]))
    assert sorted(posted_journals(acumatica, PREFIX)) == sorted(expected)
