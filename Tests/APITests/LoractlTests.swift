import Foundation
import Testing
import TestSupport

/// The built `loractl` against a real daemon: every command's table and --json output, exit codes, streaming,
/// Ctrl-C.
@Suite(.serialized) struct LoractlTests {
    static let daemon: TestDaemon = {
        do { return try APIFixture.makeDaemon(["--register-adapters", APIFixture.adapterRoot.path]) } catch {
            fatalError("\(error)")
        }
    }()

    func loractl(_ args: [String], stdin: String? = nil, token: String? = nil) throws -> CommandResult {
        var env = ["LORAD_SOCKET": Self.daemon.socketPath]
        if let token { env["LORAD_TOKEN"] = token }
        return try runProduct("loractl", args, stdin: stdin, environment: env)
    }

    func json(_ r: CommandResult) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], "\(r.stdout)")
    }

    @Test func statusShowsTheDaemon() throws {
        let table = try loractl(["status"])
        #expect(table.status == 0, "\(table.stderr)")
        #expect(table.stdout.contains("status") && table.stdout.contains("ok"))
        #expect(table.stdout.contains(APIFixture.modelId))
        let j = try json(try loractl(["--json", "status"]))
        #expect(j["status"] as? String == "ok")
        #expect(j["model"] as? String == APIFixture.modelId)
        #expect(j["adapters"] as? Int == 4)
        #expect(j["running"] as? Int == 0)
    }

    @Test func adaptersCommands() throws {
        let list = try loractl(["adapters", "list"])
        #expect(list.status == 0)
        let lines = list.stdout.split(separator: "\n")
        #expect(lines.first?.hasPrefix("NAME") == true)
        #expect(lines.count == 5)
        // Columns line up: each row has its RANK where the header has it.
        let rankColumn = lines[0].range(of: "RANK")!.lowerBound.utf16Offset(in: lines[0])
        for l in lines.dropFirst() { #expect(l.count > rankColumn && l[l.index(l.startIndex, offsetBy: rankColumn)] != " ") }
        #expect(list.stdout.contains("KiB"))
        let listed = try json(try loractl(["adapters", "list", "--json"]))
        #expect((listed["data"] as? [[String: Any]])?.count == 4)

        let path = APIFixture.adapterRoot.appendingPathComponent("a1-r8-qv").path
        let add = try loractl(["adapters", "add", "mine", path, "--description", "my copy"])
        #expect(add.status == 0, "\(add.stderr)")
        #expect(add.stdout.contains("registered mine (rank 8"))
        let dup = try loractl(["adapters", "add", "mine", path])
        #expect(dup.status == 1)
        #expect(dup.stderr.contains("mine") && dup.stderr.contains("409"))
        let show = try loractl(["adapters", "show", "mine"])
        #expect(show.stdout.contains("my copy") && show.stdout.contains("q_proj,v_proj"))
        #expect(try json(try loractl(["--json", "adapters", "show", "mine"]))["rank"] as? Int == 8)
        #expect(try loractl(["adapters", "load", "mine"]).stdout.contains("mine: resident"))
        #expect(try loractl(["adapters", "pin", "mine"]).stdout.contains("pinned"))
        #expect(try json(try loractl(["adapters", "unpin", "mine", "--json"]))["pinned"] as? Bool == false)
        #expect(try loractl(["adapters", "unload", "mine"]).stdout.contains("mine: disk"))
        #expect(try loractl(["adapters", "rm", "mine"]).status == 0)
        let gone = try loractl(["adapters", "show", "mine"])
        #expect(gone.status == 1)
        #expect(gone.stderr.contains("does not exist"))
    }

    @Test func tenantsCommands() throws {
        let add = try loractl(["tenants", "add", "carol", "--token", "--max-concurrent", "3"])
        #expect(add.status == 0, "\(add.stderr)")
        let token = try #require(add.stdout.split(separator: "\n").last?.split(separator: " ").last.map(String.init))
        let list = try loractl(["tenants", "list"])
        #expect(list.stdout.contains("carol") && list.stdout.contains("MAX CONCURRENT"))
        #expect((try json(try loractl(["tenants", "list", "--json"]))["data"] as? [[String: Any]])?
            .contains { $0["name"] as? String == "carol" && $0["max_concurrent"] as? Int == 3 } == true)
        // As carol (her token): no tenant management, and only public adapters.
        let asCarol = try loractl(["tenants", "list"], token: token)
        #expect(asCarol.status == 1)
        #expect(asCarol.stderr.contains("admin"))
        // Another token from the daemon; and a token with its tenants-file line, made without asking the daemon.
        let more = try loractl(["tenants", "token", "carol"])
        #expect(more.status == 0, "\(more.stderr)")
        let second = try #require(more.stdout.split(separator: " ").last.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) })
        #expect(try loractl(["status"], token: second).status == 0)
        let offline = try json(try runProduct("loractl", ["--socket", "/tmp/lorad-no-such.sock", "--json", "tenants", "token",
                                                          "carol", "--hash-only"]))
        #expect((offline["token"] as? String)?.hasPrefix("lrd_") == true)
        #expect((offline["line"] as? String)?.hasPrefix("token carol sha256:") == true)
        #expect(try loractl(["tenants", "rm", "carol"]).status == 0)
        #expect(try loractl(["status"], token: token).status == 1)
    }

    @Test func generateStreamsWhatTheWholeAnswerSays() throws {
        let args = ["generate", "--adapter", "a2-r16-all-rslora", "--max-tokens", "20", "--temperature", "0"]
        let streamed = try loractl(args + ["Hello"])
        let whole = try loractl(args + ["--no-stream", "Hello"])
        #expect(streamed.status == 0 && whole.status == 0, "\(streamed.stderr) \(whole.stderr)")
        #expect(streamed.stdout == whole.stdout)
        #expect(!whole.stdout.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty)
        let fromStdin = try loractl(["generate", "--adapter", "a2-r16-all-rslora", "--max-tokens", "20",
                                     "--temperature", "0", "--no-stream", "-"], stdin: "Hello")
        #expect(fromStdin.stdout == whole.stdout)
        let j = try json(try loractl(["--json"] + args + ["Hello"]))
        #expect((j["lorad"] as? [String: Any])?["adapter"] as? String == "a2-r16-all-rslora")
        let base = try loractl(["generate", "--max-tokens", "4", "--no-stream", "Hi"])
        #expect(base.status == 0)
    }

    /// --json-schema: the output (streamed or whole) is JSON valid under the file's schema, properties in the
    /// file's order; a file that is not a schema is a usage error, a schema the daemon refuses a daemon error.
    @Test func generateWithAJSONSchema() throws {
        let dir = try Fixtures.temporaryDirectory("lorad-schema")
        let schema = #"{"type":"object","properties":{"zeta":{"type":"string","maxLength":6},"alpha":{"enum":[1,2,3]}},"required":["zeta","alpha"],"additionalProperties":false}"#
        let file = dir.appendingPathComponent("schema.json")
        try schema.write(to: file, atomically: true, encoding: .utf8)
        for extra in [[], ["--no-stream"], ["--temperature", "0.9", "--seed", "4"]] {
            let r = try loractl(["generate", "--adapter", "a1-r8-qv", "--max-tokens", "200", "--temperature", "0",
                                 "--json-schema", file.path, "--strict"] + extra + ["Give me JSON"])
            #expect(r.status == 0, "\(r.stderr)")
            let text = r.stdout.trimmingCharacters(in: .newlines)
            #expect(SchemaValidator(schema).problem(text) == nil, "\(text)")
            #expect(text.range(of: "zeta")?.lowerBound ?? text.endIndex < text.range(of: "alpha")?.lowerBound ?? text.startIndex)
        }
        try "[1, 2]".write(to: file, atomically: true, encoding: .utf8)
        let notSchema = try loractl(["generate", "--json-schema", file.path, "x"])
        #expect(notSchema.status == 2 && notSchema.stderr.contains("is not a JSON object"))
        try #"{"type":"object","properties":{"a":{"type":"string"}}}"#.write(to: file, atomically: true, encoding: .utf8)
        let refused = try loractl(["generate", "--json-schema", file.path, "--strict", "x"])
        #expect(refused.status == 1 && refused.stderr.contains("strict mode needs"), "\(refused.stderr)")
    }

    @Test func exitCodes() throws {
        #expect(try loractl(["status"]).status == 0)
        #expect(try loractl(["adapters", "show", "nope"]).status == 1)
        let usage = try loractl(["adapters", "list", "--frob"])
        #expect(usage.status == 2)
        #expect(usage.stderr.contains("--frob"))
        #expect(try loractl(["frobnicate"]).status == 2)
        #expect(try loractl([]).status == 2)
        let help = try loractl(["generate", "--help"])
        #expect(help.status == 0 && help.stdout.contains("example:"))
        let down = try runProduct("loractl", ["--socket", "/tmp/lorad-no-such.sock", "status"])
        #expect(down.status == 3)
        #expect(down.stderr.contains("is lorad running?"))
    }

    @Test func ctrlCCancelsTheStreamOnTheDaemon() throws {
        let p = Process()
        p.executableURL = Fixtures.builtProduct("loractl")
        p.arguments = ["--socket", Self.daemon.socketPath, "generate", "--max-tokens", "490", "--ignore-eos", "Hello"]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        // A long request; interrupt as soon as text arrives.
        try p.run()
        let first = out.fileHandleForReading.availableData
        kill(p.processIdentifier, SIGINT)
        let rest = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        #expect(p.terminationStatus == 130, "after \(first.count) + \(rest.count) bytes: \(String(decoding: first + rest, as: UTF8.self).suffix(80))")
        let c = Self.daemon.client
        var running = -1.0
        for _ in 0..<300 {
            let text = try c.request("GET", "/metrics").text
            running = text.split(separator: "\n").first { $0.hasPrefix("lorad_sequences_running ") }
                .flatMap { Double($0.split(separator: " ")[1]) } ?? -1
            if running == 0 { break }
            usleep(10_000)
        }
        #expect(running == 0)
        var kv: Substring?
        for _ in 0..<300 {
            kv = try c.request("GET", "/metrics").text.split(separator: "\n")
                .first { $0.hasPrefix("lorad_pool_pages{kind=\"kv\"}") }
            if kv?.hasSuffix(" 0") == true { break }
            usleep(10_000)
        }
        #expect(kv?.hasSuffix(" 0") == true, "\(kv ?? "")")
    }
}
