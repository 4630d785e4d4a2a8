import Foundation
import Testing
import TestSupport

/// deploy/kubernetes and deploy/systemd: the files parse, carry the fields their tools require, and agree with each
/// other and with lorad.conf. The Kubernetes checker runs on the project's python3 (PyYAML, from .build/venv, which
/// `make test` installs); systemd-analyze is used when the machine has systemd.
@Suite struct ManifestTests {
    static let root = Fixtures.repositoryRoot
    static let deploy = root.appendingPathComponent("deploy")

    static func available(_ arguments: [String]) -> Bool {
        (try? runProduct("/usr/bin/env", arguments))?.status == 0
    }
    static let hasSystemdAnalyze = available(["systemd-analyze", "--version"])

    /// Checks every manifest in deploy/kubernetes; prints one problem per line, nothing when all is well.
    static let kubernetesChecker = #"""
        import os, re, sys, yaml

        directory = sys.argv[1]
        problems = []
        docs = []
        for name in sorted(os.listdir(directory)):
            if not name.endswith((".yaml", ".yml")):
                continue
            try:
                with open(os.path.join(directory, name)) as f:
                    for doc in yaml.safe_load_all(f):
                        if doc is not None:
                            docs.append((name, doc))
            except yaml.YAMLError as e:
                problems.append(f"{name}: not YAML: {e}")

        def get(obj, path):
            for key in path.split("."):
                if not isinstance(obj, dict) or key not in obj:
                    return None
                obj = obj[key]
            return obj

        by_kind = {}
        for name, doc in docs:
            if not isinstance(doc, dict):
                problems.append(f"{name}: a document is not a mapping")
                continue
            for field in ("apiVersion", "kind"):
                if not isinstance(doc.get(field), str):
                    problems.append(f"{name}: no {field}")
            kind = doc.get("kind")
            if kind != "Kustomization" and not isinstance(get(doc, "metadata.name"), str):
                problems.append(f"{name}: {kind} has no metadata.name")
            by_kind.setdefault(kind, []).append((name, doc))

        def named(kind):
            return {get(d, "metadata.name"): d for _, d in by_kind.get(kind, [])}

        configmaps, claims = named("ConfigMap"), named("PersistentVolumeClaim")
        conf = {}
        for cm in configmaps.values():
            text = (cm.get("data") or {}).get("lorad.conf")
            if text is None:
                problems.append(f"ConfigMap {get(cm, 'metadata.name')}: no data.lorad.conf")
                continue
            for line in text.splitlines():
                line = line.split("#", 1)[0].strip()
                if "=" in line:
                    k, v = line.split("=", 1)
                    conf[k.strip()] = v.strip()

        for name, pvc in by_kind.get("PersistentVolumeClaim", []):
            if not get(pvc, "spec.accessModes"):
                problems.append(f"{name}: PersistentVolumeClaim without spec.accessModes")
            if not get(pvc, "spec.resources.requests.storage"):
                problems.append(f"{name}: PersistentVolumeClaim without spec.resources.requests.storage")

        pod_labels = []
        container_ports = set()
        for name, dep in by_kind.get("Deployment", []) + by_kind.get("StatefulSet", []):
            selector = get(dep, "spec.selector.matchLabels") or {}
            labels = get(dep, "spec.template.metadata.labels") or {}
            if not selector:
                problems.append(f"{name}: no spec.selector.matchLabels")
            if any(labels.get(k) != v for k, v in selector.items()):
                problems.append(f"{name}: spec.selector.matchLabels does not match the pod template's labels")
            pod_labels.append(labels)
            pod = get(dep, "spec.template.spec") or {}
            containers = pod.get("containers") or []
            if not containers:
                problems.append(f"{name}: no containers")
            volumes = {v.get("name"): v for v in pod.get("volumes") or []}
            for v in volumes.values():
                cm = get(v, "configMap.name")
                if cm is not None and cm not in configmaps:
                    problems.append(f"{name}: volume {v['name']} names ConfigMap {cm}, which no manifest defines")
                claim = get(v, "persistentVolumeClaim.claimName")
                if claim is not None and claim not in claims:
                    problems.append(f"{name}: volume {v['name']} names claim {claim}, which no manifest defines")
            grace = pod.get("terminationGracePeriodSeconds", 30)
            if "drain-seconds" in conf and grace <= float(conf["drain-seconds"]):
                problems.append(f"{name}: terminationGracePeriodSeconds {grace} is not longer than drain-seconds")
            for c in containers:
                cname = c.get("name")
                if not cname or not c.get("image"):
                    problems.append(f"{name}: a container without name or image")
                for m in c.get("volumeMounts") or []:
                    if m.get("name") not in volumes:
                        problems.append(f"{name}: {cname} mounts {m.get('name')}, which is not a volume")
                for p in c.get("ports") or []:
                    container_ports.add(p.get("containerPort"))
                    if p.get("name"):
                        container_ports.add(p["name"])
                for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                    spec = c.get(probe)
                    if probe != "startupProbe" and spec is None:
                        problems.append(f"{name}: {cname} has no {probe}")
                    if spec is None:
                        continue
                    # The TCP listener wants a bearer token on every path but /health.
                    if "httpGet" in spec and get(spec, "httpGet.path") != "/health" and not get(spec, "httpGet.httpHeaders"):
                        problems.append(f"{name}: {probe} uses httpGet without a token; the TCP listener answers 401")
                    command = " ".join(get(spec, "exec.command") or [])
                    if "socket" in conf and command and conf["socket"] not in command:
                        problems.append(f"{name}: {probe} does not use the socket {conf['socket']} of lorad.conf")
            if "listen-tcp" in conf:
                port = int(conf["listen-tcp"].rsplit(":", 1)[1])
                if port not in container_ports:
                    problems.append(f"{name}: listen-tcp port {port} is not a containerPort")

        for name, svc in by_kind.get("Service", []):
            ports = get(svc, "spec.ports") or []
            if not ports:
                problems.append(f"{name}: Service without spec.ports")
            for p in ports:
                if "port" not in p:
                    problems.append(f"{name}: a Service port without port")
                if p.get("targetPort", p.get("port")) not in container_ports:
                    problems.append(f"{name}: targetPort {p.get('targetPort')} is no container's port")
            selector = get(svc, "spec.selector") or {}
            if not any(all(l.get(k) == v for k, v in selector.items()) for l in pod_labels):
                problems.append(f"{name}: the Service's selector matches no pod template")

        for name, k in by_kind.get("Kustomization", []):
            listed = k.get("resources") or []
            for r in listed:
                if not os.path.exists(os.path.join(directory, r)):
                    problems.append(f"{name}: resource {r} does not exist")
            for other in sorted({n for n, _ in docs} - {name}):
                if other not in listed:
                    problems.append(f"{name}: {other} is not among its resources")

        for kind in ("Deployment", "Service", "ConfigMap", "PersistentVolumeClaim"):
            if kind not in by_kind:
                problems.append(f"no {kind}")
        print("\n".join(problems))
        """#

    @Test func kubernetesManifestsAreComplete() throws {
        if let missing = TestPython.missing("yaml") { Issue.record(Comment(rawValue: missing)); return }
        let r = try runProduct("/usr/bin/env", ["python3", "-c", Self.kubernetesChecker,
                                                Self.deploy.appendingPathComponent("kubernetes").path],
                               environment: TestPython.environment)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "\(r.stdout)")
    }

    /// The checker finds what it should (so an empty answer above means something).
    @Test func kubernetesCheckerFindsProblems() throws {
        if let missing = TestPython.missing("yaml") { Issue.record(Comment(rawValue: missing)); return }
        let dir = try Fixtures.temporaryDirectory("lorad-k8s")
        try """
            apiVersion: apps/v1
            kind: Deployment
            metadata: { name: x }
            spec:
              selector: { matchLabels: { app: x } }
              template:
                metadata: { labels: { app: y } }
                spec:
                  containers:
                    - name: x
                      image: x
                      readinessProbe: { httpGet: { path: /metrics, port: 8080 } }
            """.write(to: dir.appendingPathComponent("d.yaml"), atomically: true, encoding: .utf8)
        let r = try runProduct("/usr/bin/env", ["python3", "-c", Self.kubernetesChecker, dir.path],
                               environment: TestPython.environment)
        for expected in ["does not match the pod template", "no livenessProbe", "httpGet without a token", "no Service"] {
            #expect(r.stdout.contains(expected), "\(r.stdout)")
        }
    }

    /// The units with ExecStart pointed at the built lorad (verify checks that the binary exists).
    static func unitsInTemporaryDirectory() throws -> URL {
        let dir = try Fixtures.temporaryDirectory("lorad-units")
        for name in ["lorad.service", "lorad.socket"] {
            let text = try String(contentsOf: deploy.appendingPathComponent("systemd/\(name)"), encoding: .utf8)
                .replacingOccurrences(of: "/usr/local/bin/lorad", with: Fixtures.builtProduct("lorad").path)
            try text.write(to: dir.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        return dir
    }

    @Test(.enabled(if: hasSystemdAnalyze)) func systemdUnitsVerify() throws {
        let dir = try Self.unitsInTemporaryDirectory()
        let r = try runProduct("/usr/bin/env", ["systemd-analyze", "verify",
                                                dir.appendingPathComponent("lorad.socket").path,
                                                dir.appendingPathComponent("lorad.service").path])
        // verify exits 0 on unknown keys and bad values too, and says so on stderr: any line about our units fails.
        let complaints = (r.stdout + r.stderr).split(separator: "\n").filter { $0.contains("lorad.") }
        #expect(r.status == 0 && complaints.isEmpty, "\(r.stdout)\(r.stderr)")
    }

    /// What the unit, the socket, the sysusers file and lorad.conf must agree on.
    @Test func systemdUnitsAgreeWithTheConfig() throws {
        func read(_ path: String) throws -> String {
            try String(contentsOf: Self.deploy.appendingPathComponent(path), encoding: .utf8)
        }
        func values(_ unit: String, _ key: String) -> [String] {
            unit.split(separator: "\n").filter { $0.hasPrefix(key + "=") }.map { String($0.dropFirst(key.count + 1)) }
        }
        let service = try read("systemd/lorad.service"), socket = try read("systemd/lorad.socket")
        let conf = try read("lorad.conf"), sysusers = try read("systemd/lorad.sysusers")
        func confValue(_ name: String) -> String? {
            conf.split(separator: "\n").first { $0.hasPrefix(name + " =") }
                .map { $0.split(separator: "=", maxSplits: 1)[1].trimmingCharacters(in: .whitespaces) }
        }
        #expect(values(service, "Type") == ["notify"])
        #expect(values(service, "ExecStart").first?.hasSuffix("lorad serve --config /etc/lorad/lorad.conf") == true)
        #expect(values(service, "User") == ["lorad"] && values(socket, "SocketUser") == ["lorad"])
        #expect(sysusers.contains("\nu lorad "))
        #expect(values(socket, "ListenStream").first == confValue("socket"))
        #expect(confValue("data-dir") == "/var/lib/" + (values(service, "StateDirectory").first ?? "?"))
        #expect(values(service, "ReadWritePaths").contains(confValue("data-dir") ?? "?"))
        #expect(values(service, "MemoryDenyWriteExecute") == ["yes"])
        #expect(values(service, "SystemCallFilter").contains("@system-service"))
        let drain = Double(conf.split(separator: "\n").first { $0.contains("drain-seconds =") }?
            .split(separator: "=").last?.trimmingCharacters(in: .whitespaces) ?? "") ?? 30
        let stop = Double(values(service, "TimeoutStopSec").first ?? "") ?? 0
        #expect(stop > drain, "TimeoutStopSec must outlast drain-seconds")
    }
}
