"""Issue 8, the cluster profile, checked offline (there is no Kubernetes cluster and no Docker engine here):

- deploy/cluster/dagster.yaml loads through Dagster's own instance-config validation, its queue section through
  QueuedRunCoordinator's schema, and its run launcher section through K8sRunLauncher's; the launcher is then built
  from that config (pointed at an unreachable API server, which building never contacts) and renders the
  Kubernetes Job of a run, whose pod spec is checked;
- deploy/cluster/values.yaml (Helm, dagster/dagster chart) parses, has what the chart needs, and agrees with the
  instance yaml on the queue limits, the launcher and the secrets;
- the Dockerfile is checked statically: Debian with Python 3.11, the fonts and HarfBuzz from apt, the pinned
  requirements.lock, the code-server command. It is not built here (deploy/README.md says so).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml
from dagster import DagsterRun, QueuedRunCoordinator
from dagster._config import process_config
from dagster._core.instance.config import dagster_instance_config
from dagster._core.instance.ref import InstanceRef
from dagster._serdes.config_class import class_from_code_pointer

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CLUSTER = PROJECT_ROOT / "deploy" / "cluster"
TEAM = PROJECT_ROOT / "deploy" / "team"
DOCKERFILE = PROJECT_ROOT / "Dockerfile"

#: What the pods get from the ConfigMaps and Secrets the chart (or the operator) creates; made up, never contacted.
CLUSTER_ENV = {
    "DAGSTER_PG_HOST": "postgres.invalid", "DAGSTER_PG_PORT": "5432", "DAGSTER_PG_USER": "dagster",
    "DAGSTER_PG_PASSWORD": "not-a-password", "DAGSTER_PG_DB": "dagster", "DAGSTER_HOME": "/opt/dagster/dagster_home",
    "DAGSTER_K8S_JOB_NAMESPACE": "strategy-report", "DAGSTER_K8S_INSTANCE_CONFIG_MAP": "dagster-instance",
    "DAGSTER_K8S_PG_PASSWORD_SECRET": "dagster-postgresql-secret",
    "DAGSTER_K8S_PIPELINE_RUN_ENV_CONFIGMAP": "dagster-pipeline-env",
}
PARTITION_LIMIT = [{"key": "dagster/partition", "value": {"applyLimitPerUniqueValue": True}, "limit": 1}]
#: The keys the chart's K8sRunLauncherConfig model accepts (it forbids others); from the chart's values schema.
CHART_K8S_LAUNCHER_KEYS = {
    "image", "imagePullPolicy", "jobNamespace", "loadInclusterConfig", "kubeconfigFile", "envConfigMaps",
    "envSecrets", "envVars", "volumeMounts", "volumes", "labels", "failPodOnRunFailure", "resources",
    "schedulerName", "securityContext", "runK8sConfig",
}


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.fixture
def cluster_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for key, value in CLUSTER_ENV.items():
        monkeypatch.setenv(key, value)
    return CLUSTER_ENV


@pytest.fixture
def cluster_home(tmp_path: Path, cluster_env) -> Path:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(CLUSTER / "dagster.yaml", home / "dagster.yaml")
    return home


def test_cluster_instance_passes_dagsters_instance_config_validation(cluster_home: Path) -> None:
    config, custom_class = dagster_instance_config(str(cluster_home))  # raises DagsterInvalidConfigError if not
    assert custom_class is None
    assert set(config["storage"]) == {"postgres"}
    assert config["storage"]["postgres"]["postgres_db"]["scheme"] == "postgresql+psycopg2"
    assert (config["run_coordinator"]["module"], config["run_coordinator"]["class"]) == ("dagster",
                                                                                         "QueuedRunCoordinator")
    assert (config["run_launcher"]["module"], config["run_launcher"]["class"]) == ("dagster_k8s", "K8sRunLauncher")
    assert config["run_monitoring"]["enabled"] is True

    # The instance reference every process builds from the file (no connection is made until storage is used).
    ref = InstanceRef.from_dir(str(cluster_home))
    assert ref.storage_data.class_name == "DagsterPostgresStorage"
    assert ref.run_launcher_data.class_name == "K8sRunLauncher"
    coordinator = ref.run_coordinator_data.rehydrate(QueuedRunCoordinator)
    assert coordinator.get_run_queue_config().max_concurrent_runs == 2
    assert coordinator.get_run_queue_config().tag_concurrency_limits == PARTITION_LIMIT


def test_postgres_connection_settings_resolve_from_the_environment(cluster_env) -> None:
    from dagster_postgres.utils import pg_config, pg_url_from_config

    section = load(CLUSTER / "dagster.yaml")["storage"]["postgres"]
    resolved = process_config(pg_config(), section)
    assert resolved.success, resolved.errors
    url = pg_url_from_config(resolved.value)
    assert url == "postgresql+psycopg2://dagster:not-a-password@postgres.invalid:5432/dagster"


def test_team_and_cluster_profiles_share_the_storage_settings_and_the_partition_limit() -> None:
    team, cluster = load(TEAM / "dagster.yaml"), load(CLUSTER / "dagster.yaml")
    assert team["storage"] == cluster["storage"]
    for profile in (team, cluster):
        assert profile["run_coordinator"]["config"]["tag_concurrency_limits"] == PARTITION_LIMIT


def test_k8s_run_launcher_section_validates_and_renders_a_run_job_offline(cluster_env, tmp_path: Path) -> None:
    from dagster_k8s import K8sRunLauncher
    from dagster_k8s.job import construct_dagster_k8s_job

    section = load(CLUSTER / "dagster.yaml")["run_launcher"]
    assert class_from_code_pointer(section["module"], section["class"]) is K8sRunLauncher
    processed = process_config(K8sRunLauncher.config_type(), section["config"])
    assert processed.success, processed.errors
    value = dict(processed.value)
    assert value["load_incluster_config"] is True  # in the cluster, the pod's service account
    assert value["instance_config_map"] == "dagster-instance" and value["job_namespace"] == "strategy-report"

    # Build the launcher from the validated config, with a kubeconfig instead of the in-cluster account; building
    # it parses the kubeconfig and makes API clients but never contacts the (unreachable) server.
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "offline",
        "clusters": [{"name": "offline", "cluster": {"server": "https://127.0.0.1:9"}}],
        "contexts": [{"name": "offline", "context": {"cluster": "offline", "user": "offline"}}],
        "users": [{"name": "offline", "user": {"token": "not-a-token"}}],
    }), encoding="utf-8")
    launcher = K8sRunLauncher.from_config_value(None, {**value, "load_incluster_config": False,
                                                       "kubeconfig_file": str(kubeconfig)})

    # The Job the launcher would create for a run of one edition, through its own container-context code.
    run = DagsterRun(job_name="build_xiaomi_ecosystem", run_id="0f0f0f0f-0000-4000-8000-000000000001",
                     tags={"dagster/partition": "xiaomi-ecosystem-2025h1"})
    context = launcher.get_container_context_for_run(run)
    job = construct_dagster_k8s_job(
        job_config=context.get_k8s_job_config(job_image="strategy-report:test", run_launcher=launcher),
        args=["dagster", "api", "execute_run", "{}"], job_name="dagster-run-0f0f0f0f",
        pod_name="dagster-run-0f0f0f0f", component="run_worker", user_defined_k8s_config=context.run_k8s_config,
        labels={"dagster/job": "build_xiaomi_ecosystem"},
    ).to_dict()
    assert context.namespace == "strategy-report"
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert pod["service_account_name"] == "strategy-report-runs"
    assert container["image"] == "strategy-report:test"
    assert container["resources"]["requests"] == {"cpu": "1", "memory": "1Gi"}
    env_from = [(e["config_map_ref"] or {}).get("name") or (e["secret_ref"] or {}).get("name")
                for e in container["env_from"]]
    assert env_from == ["dagster-pipeline-env", "strategy-report-archive"]
    env = {e["name"]: e for e in container["env"]}
    assert env["DAGSTER_HOME"]["value"] == "/opt/dagster/dagster_home"
    assert env["DAGSTER_PG_PASSWORD"]["value_from"]["secret_key_ref"]["name"] == "dagster-postgresql-secret"
    assert job["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/part-of"] == "strategy-report"


def test_helm_values_have_what_the_chart_needs_and_agree_with_the_instance() -> None:
    values, instance = load(CLUSTER / "values.yaml"), load(CLUSTER / "dagster.yaml")

    (deployment,) = values["dagster-user-deployments"]["deployments"]
    assert values["dagster-user-deployments"]["enabled"] is True
    assert {"name", "image", "port", "codeServerArgs"} <= set(deployment)
    assert {"repository", "tag", "pullPolicy"} <= set(deployment["image"])
    assert deployment["port"] == 4000 and deployment["codeServerArgs"] == ["-m", "pipeline.definitions"]

    postgres = values["postgresql"]
    assert {"enabled", "postgresqlHost", "postgresqlUsername", "postgresqlDatabase", "service"} <= set(postgres)
    assert postgres["postgresqlScheme"] == instance["storage"]["postgres"]["postgres_db"]["scheme"]
    assert values["generatePostgresqlPasswordSecret"] is False and values["global"]["postgresqlSecretName"]

    launcher = values["runLauncher"]
    assert launcher["type"] == "K8sRunLauncher"
    k8s = launcher["config"]["k8sRunLauncher"]
    assert set(k8s) <= CHART_K8S_LAUNCHER_KEYS, set(k8s) - CHART_K8S_LAUNCHER_KEYS
    assert [s["name"] for s in k8s["envSecrets"]] == instance["run_launcher"]["config"]["env_secrets"]
    assert k8s["resources"] == instance["run_launcher"]["config"]["resources"]

    coordinator = values["dagsterDaemon"]["runCoordinator"]
    assert coordinator["enabled"] is True and coordinator["type"] == "QueuedRunCoordinator"
    queued = coordinator["config"]["queuedRunCoordinator"]
    # What the chart renders into the instance: the same settings, snake_cased; valid for Dagster and identical
    # to deploy/cluster/dagster.yaml's.
    rendered = {"max_concurrent_runs": queued["maxConcurrentRuns"],
                "tag_concurrency_limits": queued["tagConcurrencyLimits"],
                "dequeue_interval_seconds": queued["dequeueIntervalSeconds"]}
    assert process_config(QueuedRunCoordinator.config_type(), rendered).success
    assert rendered == instance["run_coordinator"]["config"]
    assert queued["tagConcurrencyLimits"] == PARTITION_LIMIT


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def test_dockerfile_builds_the_code_server_image_from_the_lock_file_with_the_pdf_packages() -> None:
    steps = dockerfile_instructions()
    (base,) = [args for op, args in steps if op == "FROM"]
    assert re.fullmatch(r"python:3\.11(\.\d+)?-(slim-)?bookworm", base), f"Debian with Python 3.11, got {base}"

    runs = " ".join(args for op, args in steps if op == "RUN")
    installed = re.search(r"apt-get install ([^&]*)", runs)
    assert installed, "Debian packages are installed with apt-get"
    assert {"fonts-noto-cjk", "libharfbuzz-subset0"} <= set(installed.group(1).split())
    assert "pip install -r requirements.lock" in runs
    assert any(op == "COPY" and "requirements.lock" in args.split() for op, args in steps)
    assert "pip install --no-deps --no-build-isolation -e ." in runs  # as the Makefile installs the project

    (cmd,) = [args for op, args in steps if op == "CMD"]
    assert json.loads(cmd) == ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", "4000",
                               "-m", "pipeline.definitions"]


def test_docker_context_holds_what_the_image_copies_and_leaves_out_the_rest() -> None:
    ignored = {line.strip() for line in (PROJECT_ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    assert {".git", ".venv", ".dagster_home", "reports", "tests"} <= ignored
    for op, args in dockerfile_instructions():
        if op == "COPY":
            *sources, _ = args.split()
            for source in sources:
                assert (PROJECT_ROOT / source).exists(), source
                assert source.rstrip("/") not in ignored, f"{source} is copied but excluded by .dockerignore"


def test_the_image_gets_the_dagster_integrations_the_profiles_load() -> None:
    """The image installs requirements.lock only, so the integrations the instance files name must be pinned there,
    at the release that matches dagster's."""
    pins = dict(line.split("==", 1) for line in (PROJECT_ROOT / "requirements.lock").read_text().splitlines()
                if "==" in line)
    dagster_minor = pins["dagster"].split(".")[1]
    for package in ("dagster-postgres", "dagster-k8s"):
        assert package in pins, f"{package} is missing from requirements.lock (add it to requirements.in, make lock)"
        assert pins[package] == f"0.{int(dagster_minor) + 16}.{pins['dagster'].split('.')[2]}", pins[package]
