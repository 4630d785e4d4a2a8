import Foundation
import Registry
import Wire

/// `/v1/models`, `/v1/adapters...`, `/v1/tenants...`, `/tokenize`, `/detokenize`.
extension APIService {
    func modelJSON(_ a: AdapterRecord) -> [String: Any] {
        ["id": a.name, "object": "model", "created": Int(a.createdAt.timeIntervalSince1970), "owned_by": a.tenant,
         "parent": modelId]
    }

    var baseModelJSON: [String: Any] {
        ["id": modelId, "object": "model", "created": 0, "owned_by": "lorad", "max_model_len": engine.model.config.maxPositions,
         "weight_type": engine.model.transformer.weights.weightType]
    }

    func listModels(_ identity: Identity, _ reply: APIReply) throws {
        var data = [baseModelJSON]
        for a in try registry.adapters(visibleTo: identity.tenant, isAdmin: identity.isAdmin) where !a.isBroken {
            data.append(modelJSON(a))
        }
        reply.json(200, ["object": "list", "data": data])
    }

    /// `GET /v1/models/{id}`: the base model or an adapter the caller may use.
    func showModel(_ id: String, _ identity: Identity, _ reply: APIReply) throws {
        if id == modelId { return reply.json(200, baseModelJSON) }
        guard let a = try registry.adapter(named: id, visibleTo: identity.tenant, isAdmin: identity.isAdmin), !a.isBroken else {
            throw APIError.notFound("the model \"\(id)\" does not exist", code: "model_not_found")
        }
        reply.json(200, modelJSON(a))
    }

    /// A tokenize/detokenize request's `model`, when given, must be one the caller may use (all share the tokenizer).
    private func checkModel(_ f: Fields, _ identity: Identity) throws {
        guard let model = try f.string("model"), model != modelId else { return }
        guard try registry.adapter(named: model, visibleTo: identity.tenant, isAdmin: identity.isAdmin) != nil else {
            throw APIError.notFound("the model \"\(model)\" does not exist", code: "model_not_found")
        }
    }

    /// `/tokenize` and vLLM's `/v1/tokenize`: `prompt` (special tokens added unless `add_special_tokens: false`),
    /// or `messages` rendered with the chat template (`add_generation_prompt`, default true; no special tokens
    /// added unless asked). Answers `tokens`, `count` and `max_model_len`.
    func tokenize(_ call: APICall, _ identity: Identity, _ reply: APIReply, gone: ClientGone) throws {
        let f = Fields(try JSON.object(call.body))
        try f.refuseUnknown(["model", "prompt", "messages", "add_special_tokens", "add_generation_prompt"], what: "tokenize")
        try checkModel(f, identity)
        let tokens: [Int]
        if f.value("messages") != nil {
            guard f.value("prompt") == nil else { throw f.invalid("prompt", "send \"prompt\" or \"messages\", not both") }
            guard let renderChat else {
                throw APIError.invalid("the model has no chat template", code: "no_chat_template", param: "messages")
            }
            let messages = try ChatRequest.messages(f)
            let text: String
            do { text = try renderChat(messages, try f.bool("add_generation_prompt") ?? true, nil) } catch {
                throw APIError.invalid("the chat template failed: \(error)", code: "chat_template_error", param: "messages")
            }
            tokens = try encodeUntrusted(text, addSpecialTokens: try f.bool("add_special_tokens") ?? false, gone: gone)
        } else {
            guard let prompt = try f.string("prompt") else { throw f.invalid("prompt", "\"prompt\" or \"messages\" is required", code: "missing_field") }
            if f.value("add_generation_prompt") != nil {
                throw APIError.unsupported("add_generation_prompt", "\"add_generation_prompt\" applies to \"messages\" only")
            }
            tokens = try encodeUntrusted(prompt, addSpecialTokens: try f.bool("add_special_tokens") ?? true, gone: gone)
        }
        reply.json(200, ["tokens": tokens, "count": tokens.count, "max_model_len": engine.model.config.maxPositions])
    }

    func detokenize(_ call: APICall, _ identity: Identity, _ reply: APIReply) throws {
        let f = Fields(try JSON.object(call.body))
        try f.refuseUnknown(["model", "tokens"], what: "detokenize")
        try checkModel(f, identity)
        guard let list = f.value("tokens") as? [Any] else {
            throw f.invalid("tokens", "\"tokens\" must be a list of token ids", code: "invalid_type")
        }
        let vocab = tokenizer.vocabularySize
        let ids = try list.map { v -> Int in
            guard let n = v as? NSNumber, !Fields.isBool(v), n.doubleValue == n.doubleValue.rounded(),
                  n.doubleValue >= 0, n.doubleValue < Double(vocab) else {
                throw f.invalid("tokens", "\"tokens\" must hold token ids in 0..<\(vocab)")
            }
            return n.intValue
        }
        reply.json(200, ["prompt": tokenizer.decode(ids, skipSpecialTokens: false)])
    }

    // MARK: adapters

    func adapterJSON(_ a: AdapterRecord) -> [String: Any] {
        var o: [String: Any] = [
            "name": a.name, "tenant": a.tenant, "public": a.isPublic, "description": a.description, "rank": a.rank,
            "alpha": a.alpha, "target_modules": a.targetModules, "sha256": a.sha256, "size_bytes": a.sizeBytes,
            "state": residency.state(of: a).rawValue, "pinned": residency.isPinned(a),
            "created_at": Int(a.createdAt.timeIntervalSince1970),
            "last_used_at": a.lastUsedAt.map { Int($0.timeIntervalSince1970) as Any } ?? NSNull(),
            "requests": a.requests,
        ]
        o["scale"] = a.scale.map { $0 as Any } ?? NSNull()
        o["broken_reason"] = a.brokenReason.map { $0 as Any } ?? NSNull()
        return o
    }

    func listAdapters(_ identity: Identity, _ reply: APIReply) throws {
        let list = try registry.adapters(visibleTo: identity.tenant, isAdmin: identity.isAdmin)
        reply.json(200, ["object": "list", "data": list.map(adapterJSON)])
    }

    /// `stream: true` answers with server-sent events: `{"object":"adapter.import","bytes_imported","total_bytes"}`
    /// while the files are copied, then the record (`"object":"adapter"`) or an error, then `[DONE]`.
    func registerAdapter(_ call: APICall, _ identity: Identity, _ reply: APIReply) throws {
        let f = Fields(try JSON.object(call.body))
        guard let name = try f.string("name") else { throw APIError.invalid("\"name\" is required", code: "missing_field") }
        guard let path = try f.string("path") else { throw APIError.invalid("\"path\" is required", code: "missing_field") }
        let tenant = try f.string("tenant") ?? identity.tenant
        try requireOwnership(identity, "register")
        guard tenant == identity.tenant || identity.isAdmin else {
            throw APIError.forbidden("only an admin may register adapters for another tenant")
        }
        let isPublic = try f.bool("public") ?? false, description = try f.string("description")
        guard !isPublic || identity.isAdmin || limits.tenantsMayPublish else {
            throw APIError.forbidden("publishing an adapter to every tenant (\"public\": true) is for admins; register it privately or ask an admin (lorad serve --tenants-may-publish yes lets tenants publish)")
        }
        let scale = try f.double("scale", in: -100...100)
        guard try f.bool("stream") == true else {
            let record: AdapterRecord
            do {
                record = try registry.registerAdapter(name: name, sourcePath: path, tenant: tenant, isPublic: isPublic,
                                                      publishedByAdmin: identity.isAdmin, description: description,
                                                      scale: scale)
            } catch let e as RegistryError where !identity.isAdmin {
                throw RegistryError(e.kind, Self.redactingPaths(e.message, keeping: path))
            }
            reply.json(201, adapterJSON(record))
            return
        }
        reply.startEventStream()
        var lastSent = -1
        do {
            let record = try registry.registerAdapter(name: name, sourcePath: path, tenant: tenant, isPublic: isPublic,
                                                      publishedByAdmin: identity.isAdmin, description: description,
                                                      scale: scale) { done, total in
                // At most ~100 events per import.
                guard done == 0 || done == total || done - lastSent >= max(1, total / 100) else { return }
                lastSent = done
                reply.send(Responses.sse(JSON.encode(["object": "adapter.import", "bytes_imported": done,
                                                      "total_bytes": total])))
            }
            var json = adapterJSON(record)
            json["object"] = "adapter"
            reply.send(Responses.sse(JSON.encode(json)))
        } catch let e as RegistryError {
            let shown = identity.isAdmin ? e : RegistryError(e.kind, Self.redactingPaths(e.message, keeping: path))
            reply.send(Responses.sse(Self.apiError(shown).body))
        } catch {
            reply.send(Responses.sse(APIError.server("\(error)").body))
        }
        reply.send(Responses.sseDone)
        reply.end()
    }

    /// The adapter `name` as `identity` may see it; another tenant's private adapter is "not found".
    func visibleAdapter(_ name: String, _ identity: Identity) throws -> AdapterRecord {
        guard let record = try registry.adapter(named: name, visibleTo: identity.tenant, isAdmin: identity.isAdmin) else {
            throw APIError.notFound("adapter \"\(name)\" does not exist", code: "adapter_not_found")
        }
        return record
    }

    func showAdapter(_ name: String, _ identity: Identity, _ reply: APIReply) throws {
        reply.json(200, adapterJSON(try visibleAdapter(name, identity)))
    }

    /// Tenants see paths only as they gave them: an adapter root, or where a symlink leads, is the host's business
    /// (admins get the whole message). Every absolute path in `message` outside `given` becomes "<path>".
    static func redactingPaths(_ message: String, keeping given: String) -> String {
        var out = "", word = ""
        func flush() {
            let trimmed = word.trimmingCharacters(in: CharacterSet(charactersIn: "\"'(),;:"))
            if trimmed.hasPrefix("/") && trimmed != given && !trimmed.hasPrefix(given.hasSuffix("/") ? given : given + "/") {
                out += word.replacingOccurrences(of: trimmed, with: "<path>")
            } else {
                out += word
            }
            word = ""
        }
        for c in message {
            if c == " " { flush(); out.append(c) } else { word.append(c) }
        }
        flush()
        return out
    }

    /// Unmapped local users act as tenant `default` but own nothing: the daemon's own adapters are `default`'s.
    func requireOwnership(_ identity: Identity, _ action: String) throws {
        guard !identity.isUnmapped else {
            throw APIError.forbidden("this local user is not mapped to a tenant, so it may use adapters but not \(action) them; an admin maps it with: loractl tenants add NAME --uid UID")
        }
    }

    func deleteAdapter(_ name: String, _ identity: Identity, _ reply: APIReply) throws {
        try requireOwnership(identity, "delete")
        let record = try visibleAdapter(name, identity)
        try registry.deleteAdapter(name: name, by: identity.tenant, isAdmin: identity.isAdmin)
        try forgetResident(record)
        reply.json(200, ["deleted": true, "name": name])
    }

    func adapterAction(_ name: String, _ action: String, _ identity: Identity, _ reply: APIReply) throws {
        let record = try visibleAdapter(name, identity)
        if action != "load" {
            try requireOwnership(identity, action)
            if record.tenant != identity.tenant && !identity.isAdmin {
                throw APIError.forbidden("only the owner or an admin may \(action) adapter \"\(name)\"")
            }
        }
        let actor = identity.isAdmin ? "admin" : identity.tenant
        switch action {
        case "load": try residency.load(record)
        case "unload":
            residency.unload(record)
            try registry.setPinned(name: name, false, by: actor)
        case "pin":
            try residency.load(record)
            if !identity.isAdmin { try checkPinQuota(record) }
            try residency.pin(record)
            try registry.setPinned(name: name, true, by: actor)
        default:
            residency.unpin(record)
            try registry.setPinned(name: name, false, by: actor)
        }
        reply.json(200, adapterJSON(record))
    }

    /// A tenant's pinned adapters (this one included) may hold at most `limits.pinShare` of the pool's pages, so
    /// pins cannot starve others of adapter and KV memory. Admins' pins are not counted against it.
    private func checkPinQuota(_ record: AdapterRecord) throws {
        let owned = try registry.adapters(visibleTo: record.tenant).filter { $0.tenant == record.tenant }
        let pinnedNames = Set(owned.filter { residency.isPinned($0) }.map(\.name)).union([record.name])
        let pages = residency.pinnedPages(named: pinnedNames, among: owned)
        let quota = Int(Double(residency.pool.pageCount) * limits.pinShare)
        guard pages <= quota else {
            throw APIError(status: 403, type: "permission_error", code: "pin_quota_exceeded",
                           message: "pinning adapter \"\(record.name)\" would give tenant \"\(record.tenant)\" \(pages) pinned pool pages; its quota is \(quota) (\(Int(limits.pinShare * 100))% of the pool); unpin another adapter first")
        }
    }

    // MARK: tenants (admin only)

    private func requireAdmin(_ identity: Identity) throws {
        guard identity.isAdmin else { throw APIError.forbidden("managing tenants needs an admin (root or the daemon's user)") }
    }

    func tenantJSON(_ t: Tenant) -> [String: Any] {
        ["name": t.name, "uid": t.uid.map { Int($0) as Any } ?? NSNull(),
         "max_concurrent": t.maxConcurrent.map { $0 as Any } ?? NSNull(),
         "max_adapters": t.maxAdapters.map { $0 as Any } ?? NSNull(),
         "default_adapter": t.defaultAdapter.map { $0 as Any } ?? NSNull(),
         "created_at": Int(t.createdAt.timeIntervalSince1970)]
    }

    func listTenants(_ identity: Identity, _ reply: APIReply) throws {
        try requireAdmin(identity)
        reply.json(200, ["object": "list", "data": try registry.tenants().map(tenantJSON)])
    }

    func createTenant(_ call: APICall, _ identity: Identity, _ reply: APIReply) throws {
        try requireAdmin(identity)
        let f = Fields(try JSON.object(call.body))
        guard let name = try f.string("name") else { throw APIError.invalid("\"name\" is required", code: "missing_field") }
        let tenant = try registry.createTenant(
            name: name, uid: try f.int("uid", in: 0...Int(UInt32.max)).map { UInt32($0) },
            maxConcurrent: try f.int("max_concurrent", in: 1...100_000), maxAdapters: try f.int("max_adapters", in: 0...1_000_000))
        var json = tenantJSON(tenant)
        if let adapter = try f.string("default_adapter") {
            try registry.setDefaultAdapter(tenant: name, adapter: adapter)
            json["default_adapter"] = adapter
        }
        if try f.bool("token") == true { json["token"] = try registry.createToken(tenant: name) }
        reply.json(201, json)
    }

    func deleteTenant(_ name: String, _ identity: Identity, _ reply: APIReply) throws {
        try requireAdmin(identity)
        try registry.deleteTenant(name: name)
        reply.json(200, ["deleted": true, "name": name])
    }

    func createToken(_ name: String, _ identity: Identity, _ reply: APIReply) throws {
        try requireAdmin(identity)
        reply.json(201, ["tenant": name, "token": try registry.createToken(tenant: name)])
    }
}
