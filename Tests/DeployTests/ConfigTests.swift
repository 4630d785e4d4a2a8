import Foundation
import Testing
import TestSupport

/// deploy/lorad.conf and the Kubernetes ConfigMap's lorad.conf against `lorad serve`: every option is there, both
/// files start a daemon, and `--config` reads the format the files promise.
@Suite struct ConfigTests {
    static let root = Fixtures.repositoryRoot
    static let deployConf = root.appendingPathComponent("deploy/lorad.conf")

    /// The options `lorad serve --help` lists (without --config itself).
    static func serveOptions() throws -> [String] {
        let help = try runProduct("lorad", ["serve", "--help"])
        #expect(help.status == 0)
        return help.stdout.split(separator: "\n").compactMap { line -> String? in
            guard line.hasPrefix("  --"), let name = line.dropFirst(4).split(separator: " ").first else { return nil }
            return name == "config" ? nil : String(name)
        }
    }

    /// Option names in a config file, set (`name = value`) or shown commented out (`# name = value`).
    static func namesIn(_ conf: String, includingComments: Bool) -> [String] {
        conf.split(separator: "\n").compactMap { raw -> String? in
            var line = Substring(raw)
            if includingComments, line.hasPrefix("# ") { line = line.dropFirst(2) }
            guard let eq = line.firstIndex(of: "="), !line.hasPrefix("#") else { return nil }
            let name = line[..<eq].trimmingCharacters(in: .whitespaces)
            return name.range(of: "^[a-z][a-z-]*$", options: .regularExpression) == nil ? nil : name
        }
    }

    /// The lorad.conf the Kubernetes ConfigMap holds (the block under `lorad.conf: |`).
    static func configMapConf() throws -> String {
        let yaml = try String(contentsOf: root.appendingPathComponent("deploy/kubernetes/configmap.yaml"), encoding: .utf8)
        var lines: [String] = []
        var inside = false
        for line in yaml.components(separatedBy: "\n") {
            if line.trimmingCharacters(in: .whitespaces) == "lorad.conf: |" { inside = true; continue }
            if inside {
                if line.hasPrefix("    ") { lines.append(String(line.dropFirst(4))) } else if !line.isEmpty { break }
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    @Test func deployConfNamesEveryServeOption() throws {
        let options = try Self.serveOptions()
        #expect(options.count >= 14)
        let conf = try String(contentsOf: Self.deployConf, encoding: .utf8)
        let named = Self.namesIn(conf, includingComments: true)
        for option in options {
            #expect(named.contains(option), "deploy/lorad.conf does not mention \(option) (as `name = value` or `# name = value`)")
        }
        for name in Set(named) {
            #expect(options.contains(name), "deploy/lorad.conf names \(name), which `lorad serve --help` does not list")
        }
        for name in Self.namesIn(try Self.configMapConf(), includingComments: true) {
            #expect(options.contains(name), "the ConfigMap's lorad.conf names \(name), which `lorad serve --help` does not list")
        }
    }

    /// Each file as it is, with only the socket, data dir, threads and TCP port overridden on the command line
    /// (the command line wins): the daemon starts and answers.
    @Test(arguments: ["deploy/lorad.conf", "deploy/kubernetes/configmap.yaml"])
    func configFileStartsTheDaemon(_ file: String) throws {
        let text = file.hasSuffix(".yaml") ? try Self.configMapConf()
            : try String(contentsOf: Self.root.appendingPathComponent(file), encoding: .utf8)
        let copy = try Fixtures.temporaryDirectory("lorad-conf").appendingPathComponent("lorad.conf")
        try text.write(to: copy, atomically: true, encoding: .utf8)
        let daemon = try TestDaemon(model: "demo", extraArguments: ["--config", copy.path, "--listen-tcp", "127.0.0.1:0"])
        defer { daemon.stop() }
        let health = try daemon.client.request("GET", "/health")
        #expect(health.status == 200)
        #expect(daemon.stop() == 0, "\(daemon.log)")
    }

    /// CRLF line ends, a byte-order mark, a tab between name and value, quotes and comments: the daemon starts
    /// (a value read wrongly, such as `"1"` with its quotes, stops it) and enforces the file's max-body-bytes.
    @Test func configFormatIsReadAsDocumented() throws {
        let conf = "\u{FEFF}# a comment\r\n\r\nmax-body-bytes\t1K   # trailing comment\r\ndrain-seconds = \"1\"\r\n"
        let file = try Fixtures.temporaryDirectory("lorad-conf").appendingPathComponent("crlf.conf")
        try conf.write(to: file, atomically: true, encoding: .utf8)
        let daemon = try TestDaemon(model: "demo", extraArguments: ["--config", file.path])
        defer { daemon.stop() }
        let big = try daemon.client.request("POST", "/tokenize", body: Array(repeating: UInt8(ascii: " "), count: 2048),
                                            headers: ["Content-Type": "application/json"])
        #expect(big.status == 413)
        #expect(big.text.contains("1024 bytes"))
    }

    @Test func commandLineWinsOverTheFile() throws {
        let file = try Fixtures.temporaryDirectory("lorad-conf").appendingPathComponent("small.conf")
        try "max-body-bytes = 1K\n".write(to: file, atomically: true, encoding: .utf8)
        let daemon = try TestDaemon(model: "demo", extraArguments: ["--config", file.path, "--max-body-bytes", "64K"])
        defer { daemon.stop() }
        let body = try daemon.client.request("POST", "/tokenize", json: ["prompt": String(repeating: "a ", count: 1024)])
        #expect(body.status == 200)
    }

    @Test(arguments: [
        ("model = demo\nthreads = 2\nmodle = demo\n", "bad.conf:3: unknown option \"modle\""),
        ("threads =\n", "bad.conf:1: option \"threads\" needs a value"),
        ("socket = \"\"\n", "bad.conf:1: option \"socket\" needs a value"),
        ("config = other.conf\n", "bad.conf:1: unknown option \"config\""),
    ])
    func configErrorsNameTheLine(_ conf: String, _ message: String) throws {
        let file = try Fixtures.temporaryDirectory("lorad-conf").appendingPathComponent("bad.conf")
        try conf.write(to: file, atomically: true, encoding: .utf8)
        let r = try runProduct("lorad", ["serve", "--config", file.path, "--socket", "/tmp/lorad-never-\(getpid()).sock"])
        #expect(r.status == 1)
        #expect(r.stderr.contains(message), "\(r.stderr)")
    }
}
