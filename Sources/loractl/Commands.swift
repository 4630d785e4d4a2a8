import Credentials
import Foundation
import Wire
#if canImport(Glibc)
import Glibc
#endif

/// Each loractl command: one or two calls to the daemon, then a table or the daemon's JSON.
struct Commands {
    let client: DaemonClient
    let json: Bool

    static let help: [String: String] = [
        "status": "usage: loractl status\n  the daemon's health, base model, running and waiting sequences, adapters in memory\n  example: loractl status",
        "adapters": """
            usage: loractl adapters list | add NAME PATH [--tenant T] [--public] [--description TEXT] [--scale S]
                                    | show NAME | rm NAME | load NAME | unload NAME | pin NAME | unpin NAME
              example: loractl adapters add sql ./adapters/sql --public --description "Writes SQL"
            """,
        "tenants": """
            usage: loractl tenants list | add NAME [--uid UID] [--token] [--max-concurrent N] [--max-adapters N]
                                   [--default-adapter A] | rm NAME | token NAME [--hash-only]
              token NAME: a new bearer token for NAME from the daemon; with --hash-only no daemon is asked: the token
              goes to stderr and its tenants-file line (`token NAME sha256:...`) to stdout
              example: loractl tenants add alice --uid 1001 --token
              example: loractl tenants token alice --hash-only >> tenants.conf
            """,
        "generate": """
            usage: loractl generate [--adapter NAME] [--max-tokens N] [--temperature T] [--seed S] [--no-stream]
                                    [--ignore-eos] [--json-schema FILE [--strict]] PROMPT
              PROMPT - reads the prompt from stdin; --adapter auto lets the daemon choose; --ignore-eos generates
              max-tokens tokens even past the model's end-of-sequence token; --json-schema makes the output JSON
              valid under the schema in FILE (response_format json_schema; --strict: OpenAI's strict-mode rules)
              example: loractl generate --adapter sql --max-tokens 32 "SELECT name FROM"
            """,
    ]

    func run(_ args: [String]) throws {
        let command = args[0]
        let rest = Array(args.dropFirst())
        if rest.contains("--help") || rest.contains("-h") {
            guard let text = Self.help[command] else { throw UsageError("unknown command \"\(command)\"") }
            print(text)
            return
        }
        switch command {
        case "status": try status(rest)
        case "adapters": try adapters(rest)
        case "tenants": try tenants(rest)
        case "generate": try generate(rest)
        default: throw UsageError("unknown command \"\(command)\"")
        }
    }

    // MARK: plumbing

    /// The call's JSON, or a DaemonError with the daemon's message for a non-2xx answer.
    @discardableResult
    func expectOK(_ r: DaemonResponse) throws -> Any {
        guard (200..<300).contains(r.status) else {
            if let e = APIError(status: r.status, body: r.body) {
                throw DaemonError(description: "\(e.message) (HTTP \(r.status)\(e.code.isEmpty ? "" : ", \(e.code)"))")
            }
            throw DaemonError(description: "the daemon answered HTTP \(r.status)")
        }
        return r.json ?? [:]
    }

    func emit(_ object: Any, human: () -> String) {
        print(json ? Output.json(object) : human())
    }

    func noArguments(_ flags: Flags, _ what: String) throws {
        guard flags.positional.isEmpty else { throw UsageError("\(what) takes no arguments (got \"\(flags.positional[0])\")") }
    }

    func one(_ flags: Flags, _ what: String) throws -> String {
        guard flags.positional.count == 1 else { throw UsageError("\(what) takes one NAME") }
        return flags.positional[0]
    }

    static func data(_ object: Any) -> [[String: Any]] {
        (object as? [String: Any])?["data"] as? [[String: Any]] ?? []
    }

    static func int(_ v: Any?) -> Int? { (v as? NSNumber).flatMap { Fields.isBool($0) ? nil : $0.intValue } }

    static func yesNo(_ v: Any?) -> String { (v as? NSNumber).map { $0.boolValue ? "yes" : "no" } ?? "-" }

    // MARK: status

    func status(_ args: [String]) throws {
        try noArguments(try Flags(args, options: [], switches: []), "status")
        let health = try expectOK(client.call("GET", "/health"))
        let models = Self.data(try expectOK(client.call("GET", "/v1/models")))
        let metricsText = String(decoding: try client.call("GET", "/metrics").body, as: UTF8.self)
        let metrics = Self.gauges(metricsText)
        let base = models.first { $0["parent"] == nil }?["id"] as? String ?? "-"
        let weightType = models.first { $0["parent"] == nil }?["weight_type"] as? String ?? "-"
        var object: [String: Any] = [
            "status": (health as? [String: Any])?["status"] ?? "unknown", "socket": client.socketPath, "model": base,
            "weight_type": weightType, "adapters": models.count - 1,
        ]
        if let path = (health as? [String: Any])?["cpu_path"] as? String { object["cpu_path"] = path }
        for (key, metric) in [("running", "lorad_sequences_running"), ("waiting", "lorad_sequences_waiting"),
                              ("resident_adapters", "lorad_adapters_resident"),
                              ("tokens_generated", "lorad_tokens_generated_total"),
                              ("kv_pages", "lorad_pool_pages")] {
            if let v = metrics[metric] { object[key] = v }
        }
        emit(object) {
            Output.table(["FIELD", "VALUE"], [
                ["status", Output.string(object["status"])], ["socket", client.socketPath], ["model", base],
                ["weight type", weightType], ["adapters", String(models.count - 1)],
                ["cpu path", Output.string(object["cpu_path"])],
                ["running", Output.string(object["running"])], ["waiting", Output.string(object["waiting"])],
                ["in memory", Output.string(object["resident_adapters"])],
                ["tokens generated", Output.string(object["tokens_generated"])],
            ])
        }
    }

    /// Unlabelled samples (and the first labelled one) of a Prometheus text page, by metric name.
    static func gauges(_ text: String) -> [String: Int] {
        var out: [String: Int] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ")
            guard parts.count == 2, let v = Double(parts[1]) else { continue }
            let name = String(parts[0].split(separator: "{").first ?? "")
            if out[name] == nil { out[name] = Int(v) }
        }
        return out
    }

    // MARK: adapters

    func adapters(_ args: [String]) throws {
        guard let sub = args.first else { throw UsageError("adapters needs a subcommand: list, add, show, rm, load, unload, pin, unpin") }
        let rest = Array(args.dropFirst())
        switch sub {
        case "list":
            try noArguments(try Flags(rest, options: [], switches: []), "adapters list")
            let body = try expectOK(client.call("GET", "/v1/adapters"))
            emit(body) {
                let rows = Self.data(body).map { a -> [String] in
                    [Output.string(a["name"]), Output.string(a["tenant"]), Self.yesNo(a["public"]),
                     Output.string(a["rank"]), Output.size(Self.int(a["size_bytes"]) ?? 0), Output.string(a["state"]),
                     Self.yesNo(a["pinned"]), Output.relative(Self.int(a["last_used_at"])),
                     Output.string(a["requests"])]
                }
                if rows.isEmpty { return "no adapters (register one with `loractl adapters add NAME PATH`)" }
                return Output.table(["NAME", "TENANT", "PUBLIC", "RANK", "SIZE", "STATE", "PINNED", "LAST USED",
                                     "REQUESTS"], rows)
            }
        case "add":
            let f = try Flags(rest, options: ["tenant", "description", "scale"], switches: ["public"])
            guard f.positional.count == 2 else { throw UsageError("adapters add takes NAME PATH") }
            let path = URL(fileURLWithPath: f.positional[1]).standardizedFileURL.path
            var body: [String: Any] = ["name": f.positional[0], "path": path]
            if let t = f.values["tenant"] { body["tenant"] = t }
            if let d = f.values["description"] { body["description"] = d }
            if let s = try f.double("scale") { body["scale"] = s }
            if f.has("public") { body["public"] = true }
            let record: Any
            if isatty(STDERR_FILENO) == 1 && !json {
                record = try addWithProgress(body)
            } else {
                record = try expectOK(client.call("POST", "/v1/adapters", json: body))
            }
            emit(record) { "registered " + Self.describe(record as? [String: Any] ?? [:]) }
        case "show":
            let name = try one(try Flags(rest, options: [], switches: []), "adapters show")
            let record = try expectOK(client.call("GET", "/v1/adapters/\(name)"))
            emit(record) {
                let r = record as? [String: Any] ?? [:]
                let keys = ["name", "tenant", "public", "description", "rank", "alpha", "target_modules", "sha256",
                            "size_bytes", "state", "pinned", "created_at", "last_used_at", "requests", "scale",
                            "broken_reason"]
                return Output.table(["FIELD", "VALUE"], keys.map { k in
                    switch k {
                    case "size_bytes": return [k, Output.size(Self.int(r[k]) ?? 0)]
                    case "public", "pinned": return [k, Self.yesNo(r[k])]
                    case "created_at", "last_used_at": return [k, Output.relative(Self.int(r[k]))]
                    default: return [k, Output.string(r[k])]
                    }
                })
            }
        case "rm":
            let name = try one(try Flags(rest, options: [], switches: []), "adapters rm")
            let body = try expectOK(client.call("DELETE", "/v1/adapters/\(name)"))
            emit(body) { "removed \(name)" }
        case "load", "unload", "pin", "unpin":
            let name = try one(try Flags(rest, options: [], switches: []), "adapters \(sub)")
            let record = try expectOK(client.call("POST", "/v1/adapters/\(name)/\(sub)"))
            emit(record) {
                let r = record as? [String: Any] ?? [:]
                return "\(name): \(Output.string(r["state"]))\(Self.yesNo(r["pinned"]) == "yes" ? ", pinned" : "")"
            }
        default:
            throw UsageError("unknown adapters subcommand \"\(sub)\"")
        }
    }

    static func describe(_ r: [String: Any]) -> String {
        "\(Output.string(r["name"])) (rank \(Output.string(r["rank"])), \(Output.size(int(r["size_bytes"]) ?? 0)), targets \(Output.string(r["target_modules"])))"
    }

    /// Registers with `stream: true`, drawing "importing NAME: 12.0 MiB / 50.0 MiB (24%)" on the terminal as the
    /// daemon copies the files; returns the record.
    func addWithProgress(_ request: [String: Any]) throws -> Any {
        var body = request
        body["stream"] = true
        let name = Output.string(request["name"])
        var record: [String: Any]?
        var failure: String?
        let answer = try client.stream("POST", "/v1/adapters", json: body) { data in
            guard data != "[DONE]",
                  let event = try? JSONSerialization.jsonObject(with: Data(data.utf8)) as? [String: Any] else { return }
            if let e = event["error"] as? [String: Any] {
                failure = e["message"] as? String ?? "the daemon reported an error"
            } else if event["object"] as? String == "adapter.import" {
                let done = Self.int(event["bytes_imported"]) ?? 0, total = max(1, Self.int(event["total_bytes"]) ?? 1)
                FileHandle.standardError.write(Data("\r\u{1B}[Kimporting \(name): \(Output.size(done)) / \(Output.size(total)) (\(done * 100 / total)%)".utf8))
            } else {
                record = event
            }
        }
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
        if answer.status != 200 { try expectOK(answer) }
        if let failure { throw DaemonError(description: failure) }
        guard let record else { throw DaemonError(description: "the daemon ended the import without a record") }
        return record
    }

    // MARK: tenants

    func tenants(_ args: [String]) throws {
        guard let sub = args.first else { throw UsageError("tenants needs a subcommand: list, add, rm, token") }
        let rest = Array(args.dropFirst())
        switch sub {
        case "list":
            try noArguments(try Flags(rest, options: [], switches: []), "tenants list")
            let body = try expectOK(client.call("GET", "/v1/tenants"))
            emit(body) {
                Output.table(["NAME", "UID", "MAX CONCURRENT", "MAX ADAPTERS", "DEFAULT ADAPTER", "CREATED"],
                             Self.data(body).map { t in
                                 [Output.string(t["name"]), Output.string(t["uid"]), Output.string(t["max_concurrent"]),
                                  Output.string(t["max_adapters"]), Output.string(t["default_adapter"]),
                                  Output.relative(Self.int(t["created_at"]))]
                             })
            }
        case "add":
            let f = try Flags(rest, options: ["uid", "max-concurrent", "max-adapters", "default-adapter"],
                              switches: ["token"])
            let name = try one(f, "tenants add")
            var body: [String: Any] = ["name": name]
            if let uid = try f.int("uid", in: 0...Int(UInt32.max)) { body["uid"] = uid }
            if let n = try f.int("max-concurrent", in: 1...100_000) { body["max_concurrent"] = n }
            if let n = try f.int("max-adapters", in: 0...1_000_000) { body["max_adapters"] = n }
            if let a = f.values["default-adapter"] { body["default_adapter"] = a }
            if f.has("token") { body["token"] = true }
            let record = try expectOK(client.call("POST", "/v1/tenants", json: body))
            emit(record) {
                var text = "added tenant \(name)"
                if let token = (record as? [String: Any])?["token"] as? String {
                    text += "\ntoken (shown once, store it now): \(token)"
                }
                return text
            }
        case "token":
            let f = try Flags(rest, options: [], switches: ["hash-only"])
            let name = try one(f, "tenants token")
            guard f.has("hash-only") else {
                let body = try expectOK(client.call("POST", "/v1/tenants/\(name)/tokens"))
                emit(body) { "token for \(name) (shown once, store it now): \(Output.string((body as? [String: Any])?["token"]))" }
                return
            }
            let token = BearerToken.generate()
            let line = "token \(name) \(TokenHash(token: token).text)"
            if json {
                print(String(decoding: JSON.encode(["tenant": name, "token": token, "line": line]), as: UTF8.self))
            } else {
                FileHandle.standardError.write(Data("token for \(name) (shown once, give it to the client): \(token)\n".utf8))
                print(line)
            }
        case "rm":
            let name = try one(try Flags(rest, options: [], switches: []), "tenants rm")
            let body = try expectOK(client.call("DELETE", "/v1/tenants/\(name)"))
            emit(body) { "removed tenant \(name)" }
        default:
            throw UsageError("unknown tenants subcommand \"\(sub)\"")
        }
    }

    // MARK: generate

    func generate(_ args: [String]) throws {
        let f = try Flags(args, options: ["adapter", "max-tokens", "temperature", "seed", "json-schema"],
                          switches: ["no-stream", "ignore-eos", "strict"])
        guard f.positional.count == 1 else { throw UsageError("generate takes one PROMPT (or - to read stdin)") }
        var prompt = f.positional[0]
        if prompt == "-" {
            prompt = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
        }
        let model: String
        if let a = f.values["adapter"] { model = a } else {
            let models = Self.data(try expectOK(client.call("GET", "/v1/models")))
            guard let base = models.first(where: { $0["parent"] == nil })?["id"] as? String else {
                throw DaemonError(description: "the daemon listed no base model")
            }
            model = base
        }
        var body: [String: Any] = ["model": model, "prompt": prompt]
        if let n = try f.int("max-tokens", in: 0...1_000_000) { body["max_tokens"] = n }
        if let t = try f.double("temperature") { body["temperature"] = t }
        if let s = try f.int("seed", in: 0...Int.max) { body["seed"] = s }
        if f.has("ignore-eos") { body["ignore_eos"] = true }
        var raw: [(String, String)] = []
        if let path = f.values["json-schema"] {
            raw.append(("response_format", try Self.responseFormat(schemaFile: path, strict: f.has("strict"))))
        } else if f.has("strict") {
            throw UsageError("--strict goes with --json-schema FILE")
        }
        if f.has("no-stream") || json {
            let answer = try expectOK(client.call("POST", "/v1/completions", json: body, raw: raw))
            let text = ((answer as? [String: Any])?["choices"] as? [[String: Any]])?.first?["text"] as? String ?? ""
            emit(answer) { text }
            return
        }
        body["stream"] = true
        Interrupt.install()
        var failure: String?
        let answer = try client.stream("POST", "/v1/completions", json: body, raw: raw) { data in
            if data == "[DONE]" { return }
            guard let event = try? JSONSerialization.jsonObject(with: Data(data.utf8)) as? [String: Any] else { return }
            if let e = event["error"] as? [String: Any] {
                failure = e["message"] as? String ?? "the daemon reported an error"
                return
            }
            if let text = (event["choices"] as? [[String: Any]])?.first?["text"] as? String, !text.isEmpty {
                FileHandle.standardOutput.write(Data(text.utf8))
            }
        }
        if answer.status != 200 { try expectOK(answer) }
        print("")
        if let failure { throw DaemonError(description: failure) }
    }
}

extension Commands {
    /// `{"type": "json_schema", ...}` around the schema file's text as written (its property order is the
    /// output's); the file must be JSON.
    static func responseFormat(schemaFile path: String, strict: Bool) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw UsageError("cannot read the JSON schema file \(path)")
        }
        guard (try? JSONSerialization.jsonObject(with: data)) is [String: Any] else {
            throw UsageError("\(path) is not a JSON object (a JSON schema)")
        }
        let text = String(decoding: data, as: UTF8.self)
        return #"{"type":"json_schema","json_schema":{"name":"schema","strict":\#(strict),"schema":\#(text)}}"#
    }
}

/// Ctrl-C during a streamed generate: close the connection (the daemon cancels the request) and exit 130.
enum Interrupt {
    static func install() {
        // A parent may have started us with SIGINT blocked (the mask is inherited): unblock it.
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        signal(SIGINT) { _ in
            let fd = DaemonClient.activeDescriptor
            if fd >= 0 { shutdown(fd, Int32(SHUT_RDWR)); close(fd) }
            _exit(130)
        }
    }
}
