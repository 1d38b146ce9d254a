"""Static checks of the service definitions: they parse, and the hardening is really there.

systemd units are parsed by deploy_support.parse_unit_file; compose and Kubernetes files with
PyYAML (anchors and merge keys resolved, as Docker and kubectl resolve them).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from deploy_support import DEPLOY, REPO, parse_unit_file

UNITS = {
    "appliance.service": "serve",
    "appliance-worker.service": "worker",
}
HOME = "/var/lib/appliance"
K8S = DEPLOY / "k8s"

# Directive -> value every unit must end up with (last assignment wins in systemd).
REQUIRED = {
    "User": "appliance",
    "Group": "appliance",
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ReadWritePaths": HOME,
    "NoExecPaths": HOME,
    "StateDirectory": "appliance",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "ProtectHome": "yes",
    "CapabilityBoundingSet": "",
    "AmbientCapabilities": "",
    "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
    "IPAddressDeny": "any",
    "IPAddressAllow": "localhost",
    "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes",
    "ProtectKernelLogs": "yes",
    "ProtectControlGroups": "yes",
    "ProtectClock": "yes",
    "ProtectHostname": "yes",
    "LockPersonality": "yes",
    "RestrictNamespaces": "yes",
    "RestrictRealtime": "yes",
    "RestrictSUIDSGID": "yes",
    "SystemCallArchitectures": "native",
    "UMask": "0077",
    "LimitCORE": "0",
    "MemorySwapMax": "0",
}


def _service(name: str) -> dict[str, list[str]]:
    return parse_unit_file(DEPLOY / "systemd" / name)["Service"]


def _environment(service: dict[str, list[str]]) -> dict[str, str]:
    pairs = " ".join(service.get("Environment", [])).split()
    return dict(pair.partition("=")[::2] for pair in pairs)


@pytest.mark.parametrize("unit", UNITS)
@pytest.mark.parametrize(("directive", "value"), REQUIRED.items())
def test_unit_hardening(unit: str, directive: str, value: str) -> None:
    service = _service(unit)
    assert directive in service, f"{unit}: {directive}= missing"
    assert service[directive][-1] == value, f"{unit}: {directive}={service[directive][-1]!r}"


@pytest.mark.parametrize("unit", UNITS)
def test_unit_syscall_filter_and_wx_decision(unit: str) -> None:
    service = _service(unit)
    assert service["SystemCallFilter"][0] == "@system-service"
    assert "~@privileged @resources" in service["SystemCallFilter"]
    # An explicit decision either way; test_unit_sandbox.py checks it against torch.
    assert service["MemoryDenyWriteExecute"][-1] in ("yes", "no")


@pytest.mark.parametrize(("unit", "verb"), UNITS.items())
def test_unit_runs_the_appliance_offline(unit: str, verb: str) -> None:
    service = _service(unit)
    command = service["ExecStart"][-1].split()
    assert command[:2] == ["/opt/appliance/venv/bin/appliance", verb]
    if verb == "serve":  # plain HTTP, so loopback only
        assert command[command.index("--host") + 1] == "127.0.0.1"
        assert "--allow-insecure-bind" not in command
    env = _environment(service)
    assert env["APPLIANCE_HOME"] == HOME
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
        assert env[name] == "1"
    assert env["TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS"] == ""


def test_worker_has_no_network_at_all() -> None:
    assert _service("appliance-worker.service")["PrivateNetwork"] == ["yes"]


def test_drop_in_examples_parse_and_stay_narrow() -> None:
    subnet = parse_unit_file(DEPLOY / "systemd/appliance.service.d/admin-subnet.conf.example")
    allow = subnet["Service"]["IPAddressAllow"]
    assert len(allow) == 1 and re.fullmatch(r"[0-9.]+/\d+", allow[0]), allow
    assert "IPAddressDeny" not in subnet["Service"]  # the unit's deny-any stays
    serve = subnet["Service"]["ExecStart"][-1].split()
    assert serve[serve.index("--tls-key") + 1] == "%d/tls-key"  # from LoadCredential=
    assert "--allow-insecure-bind" not in serve
    assert len(subnet["Service"]["LoadCredential"]) == 2
    opa = parse_unit_file(DEPLOY / "systemd/appliance-worker.service.d/opa-backend.conf.example")
    assert opa["Service"]["PrivateNetwork"] == ["no"]
    assert "IPAddressAllow" not in opa["Service"]  # still loopback only
    secret = parse_unit_file(DEPLOY / "systemd/appliance.service.d/passphrase.conf.example")
    assert secret["Service"]["LoadCredentialEncrypted"]
    assert "APPLIANCE_PASSPHRASE=" not in " ".join(secret["Service"].get("Environment", []))


def test_sysusers_declares_a_system_user_without_login() -> None:
    line = (DEPLOY / "systemd/appliance.sysusers").read_text().splitlines()[-1].split()
    assert line[:3] == ["u", "appliance", "-"]
    assert line[-2:] == [HOME, "/usr/sbin/nologin"]


# --- containers -----------------------------------------------------------------------------

def _compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


@pytest.mark.parametrize("name", ["appliance", "opa", "console"])
def test_compose_service_hardening(name: str) -> None:
    service = _compose()["services"][name]
    assert service["read_only"] is True
    assert service["cap_drop"] == ["ALL"]
    assert "no-new-privileges:true" in service["security_opt"]
    assert not str(service["user"]).startswith(("0", "root"))
    assert "privileged" not in service and "network_mode" not in service


def test_compose_appliance_and_opa_have_no_route_out() -> None:
    compose = _compose()
    for name in ("appliance", "opa"):
        service = compose["services"][name]
        assert "ports" not in service, f"{name} publishes a port"
        for network in service["networks"]:
            assert compose["networks"][network].get("internal") is True, (name, network)
    console = compose["services"]["console"]
    assert console["profiles"] == ["console"]  # off unless asked for
    assert all(p.startswith("127.0.0.1:") for p in console["ports"])


def test_compose_appliance_uses_opa() -> None:
    compose = _compose()
    appliance, opa = compose["services"]["appliance"], compose["services"]["opa"]
    assert appliance["environment"]["APPLIANCE_POLICY_BACKEND"] == "opa"
    assert appliance["environment"]["APPLIANCE_OPA_URL"] == "http://opa:8181"
    assert opa["image"].startswith("openpolicyagent/opa:")
    assert "--skip-version-check" in opa["command"]
    source, target, mode = opa["volumes"][0].split(":")
    assert (DEPLOY / source).resolve() == REPO / "policies" and mode == "ro"
    assert target in opa["command"]
    assert any(t.startswith("/tmp:") and "noexec" in t for t in appliance["tmpfs"])
    command = appliance["command"]
    assert command[command.index("--tls-key") + 1] == "/run/secrets/tls-key"
    assert "--allow-insecure-bind" not in command
    assert set(appliance["secrets"]) == set(compose["secrets"]) == {"tls-cert", "tls-key"}
    assert appliance["volumes"] == ["appliance-home:/var/lib/appliance"]
    assert appliance["memswap_limit"] == appliance["mem_limit"]  # no swap
    assert appliance["ulimits"]["core"] == 0


def _dockerfile_final_stage() -> list[str]:
    text = (DEPLOY / "Dockerfile").read_text()
    lines = [line.strip() for line in text.replace("\\\n", " ").splitlines()]
    instructions = [line for line in lines if line and not line.startswith("#")]
    last_from = max(i for i, line in enumerate(instructions) if line.startswith("FROM "))
    return instructions[last_from:]


def test_dockerfile_runs_unprivileged_with_home_on_a_volume() -> None:
    final = _dockerfile_final_stage()
    users = [line.split()[1] for line in final if line.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("0", "root")
    assert 'VOLUME ["/var/lib/appliance"]' in final
    env = " ".join(line for line in final if line.startswith("ENV "))
    for setting in ("HF_HUB_OFFLINE=1", "TRANSFORMERS_OFFLINE=1", "PYTHONDONTWRITEBYTECODE=1",
                    "APPLIANCE_HOME=/var/lib/appliance"):
        assert setting in env


def test_dockerfile_installs_the_bundle_without_network() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    assert re.search(r"RUN --network=none .*install-offline\.sh", text, re.S)
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
    assert ignore[[line.startswith("#") for line in ignore].index(False)] == "*"


def test_torch_pin_is_the_same_everywhere() -> None:
    pins = {
        "Makefile": re.findall(r"torch==[\d.]+", (REPO / "Makefile").read_text()),
        "pyproject.toml": re.findall(r"torch==[\d.]+", (REPO / "pyproject.toml").read_text()),
        "offline-bundle.sh": re.findall(r'TORCH_PIN="(torch==[\d.]+)"',
                                        (DEPLOY / "offline-bundle.sh").read_text()),
    }
    assert {pin for found in pins.values() for pin in found} == {"torch==2.13.0"}, pins


# --- Kubernetes -----------------------------------------------------------------------------

def _k8s() -> dict[str, list[dict[str, Any]]]:
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(K8S.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            by_kind.setdefault(doc["kind"], []).append(doc)
    return by_kind


def _pod() -> dict[str, Any]:
    (deployment,) = _k8s()["Deployment"]
    return deployment["spec"]["template"]["spec"]


def _containers() -> list[dict[str, Any]]:
    pod = _pod()
    return pod.get("initContainers", []) + pod["containers"]


def test_kustomization_lists_every_manifest() -> None:
    (kustomization,) = _k8s()["Kustomization"]
    files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == files


def test_pod_security() -> None:
    pod = _pod()
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    assert pod["automountServiceAccountToken"] is False
    assert not any(pod.get(k) for k in ("hostNetwork", "hostPID", "hostIPC"))
    (namespace,) = _k8s()["Namespace"]
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


@pytest.mark.parametrize("index", range(5))
def test_every_container_is_locked_down(index: int) -> None:
    containers = _containers()
    assert len(containers) == 5  # 3 init + appliance, opa
    context = containers[index]["securityContext"]
    assert context["allowPrivilegeEscalation"] is False, containers[index]["name"]
    assert context["readOnlyRootFilesystem"] is True
    assert context["capabilities"]["drop"] == ["ALL"]
    assert context["seccompProfile"]["type"] == "RuntimeDefault"
    assert context.get("privileged", False) is False
    assert context.get("runAsUser", 1) != 0


def test_master_key_passphrase_comes_from_the_secret() -> None:
    (secret,) = [s for s in _k8s()["Secret"] if s["metadata"]["name"] == "appliance-master-key"]
    for container in _containers():
        if container["name"] not in ("init-home", "appliance"):
            continue
        env = {e["name"]: e for e in container["env"]}
        assert env["APPLIANCE_KEY_SOURCE"]["value"] == "passphrase"
        ref = env["APPLIANCE_PASSPHRASE"]["valueFrom"]["secretKeyRef"]
        assert ref["name"] == secret["metadata"]["name"]
        assert ref["key"] in secret["stringData"]
        assert "value" not in env["APPLIANCE_PASSPHRASE"]
        assert env["APPLIANCE_POLICY_BACKEND"]["value"] == "opa"
        assert env["APPLIANCE_OPA_URL"]["value"] == "http://127.0.0.1:8181"


def test_opa_sidecar_listens_on_the_pod_loopback_only() -> None:
    (opa,) = [c for c in _pod()["containers"] if c["name"] == "opa"]
    assert opa["image"].startswith("openpolicyagent/opa:")
    assert "--addr=127.0.0.1:8181" in opa["args"]
    assert "--skip-version-check" in opa["args"]
    assert "ports" not in opa
    assert all(m.get("readOnly") for m in opa["volumeMounts"])


def test_home_is_the_persistent_volume_claim() -> None:
    (pvc,) = _k8s()["PersistentVolumeClaim"]
    volumes = {v["name"]: v for v in _pod()["volumes"]}
    assert volumes["home"]["persistentVolumeClaim"]["claimName"] == pvc["metadata"]["name"]
    assert volumes["tmp"]["emptyDir"]["medium"] == "Memory"


def test_network_policy_denies_all_egress_and_admits_only_the_service_port() -> None:
    policies = _k8s()["NetworkPolicy"]
    default = [p for p in policies if p["spec"]["podSelector"] == {}]
    assert default and set(default[0]["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    assert default[0]["spec"]["egress"] == [] and default[0]["spec"]["ingress"] == []
    for policy in policies:  # policies add up: any egress rule anywhere would open a path
        assert not policy["spec"].get("egress"), policy["metadata"]["name"]
    (service,) = _k8s()["Service"]
    service_ports = {p["port"] for p in service["spec"]["ports"]}
    container_ports = {p["containerPort"] for c in _pod()["containers"] for p in c.get("ports", [])}
    for policy in policies:
        for rule in policy["spec"].get("ingress", []):
            ports = {p["port"] for p in rule["ports"]}
            assert ports == service_ports == container_ports == {8443}


def test_kubectl_renders_the_same_hardening() -> None:
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl not installed")
    rendered = subprocess.run(["kubectl", "kustomize", str(K8S)], capture_output=True,
                              text=True, timeout=60, check=True).stdout
    docs = [d for d in yaml.safe_load_all(rendered) if d]
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    for container in pod["initContainers"] + pod["containers"]:
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert {d["metadata"]["namespace"] for d in docs if d["kind"] != "Namespace"} == {"appliance"}


def test_every_deploy_yaml_parses() -> None:
    paths = [*DEPLOY.rglob("*.yaml")]
    assert len(paths) >= 9
    for path in paths:
        assert list(yaml.safe_load_all(Path(path).read_text())), path


def test_pod_serves_tls_with_a_private_key_copy() -> None:
    (appliance,) = [c for c in _pod()["containers"] if c["name"] == "appliance"]
    args = appliance["args"]
    assert "--allow-insecure-bind" not in args
    key = args[args.index("--tls-key") + 1]
    (tls,) = [c for c in _pod()["initContainers"] if c["name"] == "tls"]
    assert f"install -m 0600 /tls-secret/tls.key {key}" in tls["command"][-1]
    volumes = {v["name"]: v for v in _pod()["volumes"]}
    secret_names = {s["metadata"]["name"] for s in _k8s()["Secret"]}
    assert volumes["tls-secret"]["secret"]["secretName"] in secret_names


def test_scripts_pass_shellcheck() -> None:
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck not installed (apt-get install shellcheck)")
    scripts = sorted(str(p) for p in DEPLOY.glob("*.sh"))
    result = subprocess.run(["shellcheck", *scripts], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout
