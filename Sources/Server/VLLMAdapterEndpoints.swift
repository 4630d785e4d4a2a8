import Foundation
import Registry
import Wire

/// vLLM's dynamic LoRA endpoints, so tools written for vLLM (the inference extension's adapter syncer) manage
/// lorad's adapters unchanged: `POST /v1/load_lora_adapter {"lora_name","lora_path"}` registers the folder as a
/// public adapter of the default tenant (paged in on first use, as vLLM loads on first use);
/// `POST /v1/unload_lora_adapter {"lora_name"}` deletes the registration. Admin only; the path must lie under an
/// `--adapter-root` (the registry's path policy).
extension APIService {
    func vllmLoadLoRA(_ call: APICall, _ identity: Identity, _ reply: APIReply) throws {
        try requireAdapterAdmin(identity, "load_lora_adapter")
        let f = try Self.vllmFields(call.body, allowed: ["lora_name", "lora_path", "base_model_name", "load_inplace"])
        guard let name = try f.string("lora_name"), !name.isEmpty else {
            throw APIError.invalid("\"lora_name\" is required", code: "missing_field")
        }
        guard let path = try f.string("lora_path"), !path.isEmpty else {
            throw APIError.invalid("\"lora_path\" is required", code: "missing_field")
        }
        // The adapter syncer sends its config's base model ("" when unset); another model's adapter is refused.
        if let base = try f.string("base_model_name"), !base.isEmpty, base != modelId {
            throw APIError.invalid("\"base_model_name\" is \"\(base)\"; this server serves \"\(modelId)\"",
                                   code: "base_model_mismatch")
        }
        let inplace = try f.bool("load_inplace") ?? false
        if let existing = try registry.adapter(named: name, visibleTo: Tenant.defaultName, isAdmin: true) {
            guard inplace else {
                throw APIError.invalid("The lora adapter '\(name)' has already been loaded.", code: "adapter_exists")
            }
            try removeAdapter(existing)
        }
        _ = try registry.registerAdapter(name: name, sourcePath: path, isPublic: true)
        reply.respond(status: 200, contentType: "text/plain; charset=utf-8",
                      body: Array("Success: LoRA adapter '\(name)' added successfully.".utf8))
    }

    func vllmUnloadLoRA(_ call: APICall, _ identity: Identity, _ reply: APIReply) throws {
        try requireAdapterAdmin(identity, "unload_lora_adapter")
        let f = try Self.vllmFields(call.body, allowed: ["lora_name", "lora_int_id"])
        guard let name = try f.string("lora_name"), !name.isEmpty else {
            throw APIError.invalid("\"lora_name\" is required", code: "missing_field")
        }
        if f.value("lora_int_id") != nil {
            throw APIError.invalid("\"lora_int_id\" is not supported: lorad names adapters, name it with \"lora_name\"",
                                   code: "unsupported_field")
        }
        guard let record = try registry.adapter(named: name, visibleTo: Tenant.defaultName, isAdmin: true) else {
            throw APIError.notFound("The lora adapter '\(name)' cannot be found.", code: "adapter_not_found")
        }
        try removeAdapter(record)
        reply.respond(status: 200, contentType: "text/plain; charset=utf-8",
                      body: Array("Success: LoRA adapter '\(name)' removed successfully.".utf8))
    }

    /// Deletes the registration and drops the pool copy unless another name shares the files.
    func removeAdapter(_ record: AdapterRecord) throws {
        try registry.deleteAdapter(name: record.name, by: Tenant.defaultName, isAdmin: true)
        try forgetResident(record)
    }

    /// `record` was deleted: its pool copy goes unless another registered name shares the files.
    func forgetResident(_ record: AdapterRecord) throws {
        let shared = try registry.adapters(visibleTo: Tenant.defaultName, isAdmin: true).contains { $0.sha256 == record.sha256 }
        residency.forget(record, sharedWithOthers: shared)
    }

    private func requireAdapterAdmin(_ identity: Identity, _ what: String) throws {
        guard identity.isAdmin else { throw APIError.forbidden("\(what) needs an admin (root or the daemon's user)") }
    }

    /// The body's fields; a field not in `allowed` is refused by name (nothing is silently ignored).
    static func vllmFields(_ body: [UInt8], allowed: Set<String>) throws -> Fields {
        let object = try JSON.object(body)
        if let unknown = object.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw APIError.invalid("unknown field \"\(unknown)\" (accepted: \(allowed.sorted().joined(separator: ", ")))",
                                   code: "unknown_field")
        }
        return Fields(object)
    }
}
