"""Checks deploy/kubernetes/gateway: every resource the kustomization lists validates against its schema, and the
resources agree with each other and with lorad. Prints one problem per line; exit status 1 when there is any.

  python3 check_gateway_manifests.py DIR [REPO_ROOT]

Schemas: built-in kinds with kubernetes-validate (strict: unknown fields are errors); the extension's kinds
(InferencePool, InferenceObjective) with the openAPIV3Schema of the CRDs committed in DIR/crds, made strict the same
way (an object schema with properties and no additionalProperties accepts nothing else). CEL rules
(x-kubernetes-validations) are not evaluated. HTTPRoute (Gateway API, installed by the gateway) is checked by hand.
"""
import copy
import os
import re
import sys

import jsonschema
import kubernetes_validate
import yaml

KUBERNETES_VERSION = "1.37.0"

directory = sys.argv[1]
repo = sys.argv[2] if len(sys.argv) > 2 else None
problems = []


def load_all(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def get(obj, path, default=None):
    for key in path.split("."):
        if not isinstance(obj, dict) or key not in obj:
            return default
        obj = obj[key]
    return obj


def strict(schema):
    schema = copy.deepcopy(schema)

    def walk(s):
        if not isinstance(s, dict):
            return
        if "properties" in s and "additionalProperties" not in s and not s.get("x-kubernetes-preserve-unknown-fields"):
            s["additionalProperties"] = False
        for p in s.get("properties", {}).values():
            walk(p)
        for key in ("items", "additionalProperties"):
            walk(s.get(key))
        for key in ("allOf", "anyOf", "oneOf"):
            for sub in s.get(key, []):
                walk(sub)

    walk(schema)
    return schema


# The extension's CRDs: (apiVersion, kind) -> schema of each served version.
crd_schemas = {}
crd_dir = os.path.join(directory, "crds")
for name in sorted(os.listdir(crd_dir)):
    for crd in load_all(os.path.join(crd_dir, name)):
        group, kind = get(crd, "spec.group"), get(crd, "spec.names.kind")
        for version in get(crd, "spec.versions", []):
            if version.get("served"):
                crd_schemas[(f"{group}/{version['name']}", kind)] = get(version, "schema.openAPIV3Schema")
for needed in (("inference.networking.k8s.io/v1", "InferencePool"),
               ("inference.networking.x-k8s.io/v1alpha2", "InferenceObjective")):
    if needed not in crd_schemas:
        problems.append(f"crds/: no CRD schema for {needed[1]} {needed[0]}")

kustomization = load_all(os.path.join(directory, "kustomization.yaml"))[0]
docs = []
for resource in kustomization.get("resources", []):
    path = os.path.join(directory, resource)
    if not os.path.exists(path):
        problems.append(f"kustomization.yaml lists {resource}, which does not exist")
        continue
    docs += [(resource, d) for d in load_all(path)]
listed = set(kustomization.get("resources", []))
for name in os.listdir(directory):
    if name.endswith(".yaml") and name != "kustomization.yaml" and name not in listed:
        problems.append(f"{name} is not listed in kustomization.yaml")

by_kind = {}
for source, doc in docs:
    api, kind, name = doc.get("apiVersion"), doc.get("kind"), get(doc, "metadata.name")
    where = f"{source}: {kind} {name}"
    by_kind.setdefault(kind, []).append(doc)
    if (api, kind) in crd_schemas:
        validator = jsonschema.Draft7Validator(strict(crd_schemas[(api, kind)]))
        for error in validator.iter_errors(doc):
            problems.append(f"{where}: {'.'.join(str(p) for p in error.absolute_path)}: {error.message}")
    elif api.startswith("gateway.networking.k8s.io/"):
        if kind != "HTTPRoute" or api != "gateway.networking.k8s.io/v1":
            problems.append(f"{where}: unexpected Gateway API resource {kind} {api}")
    else:
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as e:
            problems.append(f"{where}: {'.'.join(str(p) for p in e.absolute_path)}: {e.message}")
        except kubernetes_validate.SchemaNotFoundError:
            problems.append(f"{where}: no schema for {kind} {api} in Kubernetes {KUBERNETES_VERSION}")


def one(kind, label=None):
    found = [d for d in by_kind.get(kind, []) if label is None or get(d, "metadata.name") == label]
    if len(found) != 1:
        problems.append(f"expected one {kind}{' ' + label if label else ''}, found {len(found)}")
        return {}
    return found[0]


def args_of(container):
    out = {}
    args = container.get("args", [])
    for i, a in enumerate(args):
        if a.startswith("--"):
            if "=" in a:
                k, v = a[2:].split("=", 1)
            else:
                k, v = a[2:], args[i + 1] if i + 1 < len(args) and not args[i + 1].startswith("--") else ""
            out.setdefault(k, []).append(v)
    return out


pool = one("InferencePool")
replicas = one("Deployment", "lorad-replica")
epp = one("Deployment", "lorad-epp")
pod_labels = get(replicas, "spec.template.metadata.labels", {})
lorad = next((c for c in get(replicas, "spec.template.spec.containers", []) if c.get("name") == "lorad"), {})
lorad_args = args_of(lorad)
ports = {p.get("name"): p.get("containerPort") for p in lorad.get("ports", [])}

# Replicas: several, ready on /ready of the metrics listener, which lorad is told to open.
if (get(replicas, "spec.replicas") or 1) < 2:
    problems.append("lorad-replica: spec.replicas must be at least 2")
metrics_port = ports.get("metrics")
listen_metrics = (lorad_args.get("listen-metrics") or [""])[0]
if not listen_metrics.endswith(f":{metrics_port}"):
    problems.append(f"lorad-replica: --listen-metrics {listen_metrics!r} is not the metrics port {metrics_port}")
if get(lorad, "readinessProbe.httpGet.path") != "/ready" or get(lorad, "readinessProbe.httpGet.port") not in ("metrics", metrics_port):
    problems.append("lorad-replica: the readiness probe must be GET /ready on the metrics port")
for flag in ("tenants-file", "adapters-file", "max-loras", "listen-tcp"):
    if flag not in lorad_args:
        problems.append(f"lorad-replica: lorad is not given --{flag}")
mounts = {m.get("mountPath"): m.get("name") for m in lorad.get("volumeMounts", [])}
volumes = {v.get("name"): v for v in get(replicas, "spec.template.spec.volumes", [])}
for flag, kind, key in (("tenants-file", "secret", "secretName"), ("adapters-file", "configMap", "name")):
    path = (lorad_args.get(flag) or [""])[0]
    volume = volumes.get(mounts.get(os.path.dirname(path)), {})
    source = get(volume, f"{kind}.{key}")
    target = one("Secret" if kind == "secret" else "ConfigMap", source) if source else {}
    content = (target.get("stringData") or target.get("data") or {}).get(os.path.basename(path))
    if content is None:
        problems.append(f"lorad-replica: --{flag} {path} is not a key of a {kind} mounted at {os.path.dirname(path)}")
    elif flag == "tenants-file":
        for line in content.splitlines():
            line = line.split("#", 1)[0].strip()
            if line and not re.fullmatch(r"tenant [a-z0-9][a-z0-9._-]*( [a-z_]+=\S+)*|token [a-z0-9][a-z0-9._-]* sha256:[0-9a-f]{16}:[0-9a-f]{32}:[0-9a-f]{64}", line):
                problems.append(f"tenants file: not a tenants-file line: {line!r}")
    else:
        root = (lorad_args.get("adapter-root") or [""])[0]
        for line in content.splitlines():
            line = line.split("#", 1)[0].strip()
            words = line.split()
            if line and (len(words) < 3 or words[0] != "adapter" or not words[2].startswith(root + "/")):
                problems.append(f"adapters file: not an adapter line under --adapter-root {root}: {line!r}")

# The pool selects the replicas' pods, on the API port, and names the picker's service and port.
selector = get(pool, "spec.selector.matchLabels", {})
if not selector or any(pod_labels.get(k) != v for k, v in selector.items()):
    problems.append(f"InferencePool selector {selector} does not select the lorad-replica pods {pod_labels}")
listen_tcp = (lorad_args.get("listen-tcp") or [""])[0]
for target in get(pool, "spec.targetPorts", []):
    if target.get("number") != ports.get("http") or not listen_tcp.endswith(f":{target.get('number')}"):
        problems.append(f"InferencePool targetPort {target.get('number')} is not lorad's API port ({listen_tcp})")
picker = get(pool, "spec.endpointPickerRef", {})
service = one("Service", picker.get("name"))
if picker.get("port", {}).get("number") not in [p.get("port") for p in get(service, "spec.ports", [])]:
    problems.append(f"InferencePool endpointPickerRef port {picker.get('port')} is not a port of Service {picker.get('name')}")
if get(service, "spec.selector", {}) != get(epp, "spec.selector.matchLabels"):
    problems.append("the picker's Service does not select the picker's pods")
for objective in by_kind.get("InferenceObjective", []):
    if get(objective, "spec.poolRef.name") != get(pool, "metadata.name"):
        problems.append(f"InferenceObjective {get(objective, 'metadata.name')} refers to another pool")
for route in by_kind.get("HTTPRoute", []):
    refs = [b for r in get(route, "spec.rules", []) for b in r.get("backendRefs", [])]
    if not refs or any(b.get("kind") != "InferencePool" or b.get("name") != get(pool, "metadata.name") for b in refs):
        problems.append("the HTTPRoute must send its traffic to the InferencePool")

# The picker: scrapes the metrics port, reads lorad's names for pods of lorad's engine label, scores LoRA affinity.
epp_container = (get(epp, "spec.template.spec.containers") or [{}])[0]
epp_args = args_of(epp_container)
if (epp_args.get("pool-name") or [""])[0] != get(pool, "metadata.name"):
    problems.append("the picker's --pool-name is not the InferencePool's name")
if (epp_args.get("model-server-metrics-port") or [""])[0] != str(metrics_port):
    problems.append(f"the picker's --model-server-metrics-port is not lorad's metrics port {metrics_port}")
config_file = (epp_args.get("config-file") or [""])[0]
epp_configmap = one("ConfigMap", "lorad-epp-config")
config_text = (epp_configmap.get("data") or {}).get(os.path.basename(config_file))
if config_text is None:
    problems.append(f"the picker's --config-file {config_file} is not in ConfigMap lorad-epp-config")
else:
    config = yaml.safe_load(config_text)
    plugins = {p.get("type"): p for p in config.get("plugins", [])}
    if "lora-affinity-scorer" not in plugins:
        problems.append("the picker's config has no lora-affinity-scorer")
    referenced = {r.get("pluginRef") for prof in config.get("schedulingProfiles", []) for r in prof.get("plugins", [])}
    for name in referenced - set(plugins):
        problems.append(f"the picker's profiles refer to {name}, which no plugin defines")
    engines = get(plugins.get("core-metrics-extractor", {}), "parameters.engineConfigs", [])
    engine = next((e for e in engines if e.get("name") == pod_labels.get("inference.networking.k8s.io/engine-type")), None)
    if engine is None:
        problems.append("no engineConfigs entry of the picker matches the pods' engine-type label")
    elif repo:
        with open(os.path.join(repo, "Sources/Server/Metrics.swift")) as f:
            text = f.read()
        with open(os.path.join(repo, "Sources/Server/ServingMetrics.swift")) as f:
            text += f.read()
        for key in ("queuedRequestsSpec", "runningRequestsSpec", "kvUsageSpec", "loraSpec"):
            if f'"{engine.get(key)}"' not in text:
                problems.append(f"the picker's {key} {engine.get(key)!r} is not a metric lorad writes")

for p in problems:
    print(p)
sys.exit(1 if problems else 0)
