import Foundation
import Testing
import TestSupport

/// deploy/kubernetes/gateway: lorad replicas behind the Gateway API Inference Extension. Every resource validates
/// against its schema (built-in kinds with kubernetes-validate, the extension's kinds against the CRDs committed in
/// deploy/kubernetes/gateway/crds, both strict), and the pieces agree (check_gateway_manifests.py says what).
@Suite struct GatewayManifestTests {
    static let root = Fixtures.repositoryRoot
    static let gateway = root.appendingPathComponent("deploy/kubernetes/gateway")
    static let checker = root.appendingPathComponent("Tests/DeployTests/check_gateway_manifests.py").path

    static func check(_ directory: URL) throws -> CommandResult {
        try runProduct("/usr/bin/env", ["python3", checker, directory.path, root.path], environment: TestPython.environment)
    }

    @Test func gatewayManifestsValidate() throws {
        if let missing = TestPython.missing("kubernetes_validate") { Issue.record(Comment(rawValue: missing)); return }
        let r = try Self.check(Self.gateway)
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
    }

    /// The checker catches what it should, so a clean run above means something: a field of an older CRD version,
    /// a misspelt probe, a wrong type, a pool that selects nothing, a picker reading a metric lorad does not write.
    @Test func checkerFindsBrokenManifests() throws {
        if let missing = TestPython.missing("kubernetes_validate") { Issue.record(Comment(rawValue: missing)); return }
        let dir = try Fixtures.temporaryDirectory("lorad-gateway")
        let copy = dir.appendingPathComponent("gateway")
        try FileManager.default.copyItem(at: Self.gateway, to: copy)
        func edit(_ file: String, _ from: String, _ to: String) throws {
            let url = copy.appendingPathComponent(file)
            let text = try String(contentsOf: url, encoding: .utf8)
            #expect(text.contains(from), "\(file) no longer contains \(from)")
            try text.replacingOccurrences(of: from, with: to).write(to: url, atomically: true, encoding: .utf8)
        }
        try edit("inferencepool.yaml", "  targetPorts:", "  targetPortNumber: 8000\n  targetPorts:")
        try edit("inferencepool.yaml", "app.kubernetes.io/name: lorad-replica", "app.kubernetes.io/name: lorad")
        try edit("lorad-replicas.yaml", "readinessProbe:", "readinesProbe:")
        try edit("inferenceobjectives.yaml", "priority: 10", "priority: high")
        try edit("epp.yaml", "kvUsageSpec: lorad_pool_kv_usage_ratio", "kvUsageSpec: lorad_kv_cache_usage")
        let r = try Self.check(copy)
        #expect(r.status == 1)
        for expected in ["'targetPortNumber' was unexpected", "'readinesProbe' was unexpected",
                         "spec.priority: 'high' is not of type 'integer'", "does not select the lorad-replica pods",
                         "kvUsageSpec 'lorad_kv_cache_usage' is not a metric lorad writes"] {
            #expect(r.stdout.contains(expected), "\(r.stdout)")
        }
    }
}
