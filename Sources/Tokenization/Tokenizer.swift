import Foundation

/// A Hugging Face tokenizer loaded from `tokenizer.json` (+ `tokenizer_config.json`): BPE model, normalizer,
/// pre-tokenizer, post-processor, decoder and added tokens, producing the same ids as the `tokenizers` library.
/// Immutable and safe to share between threads (its word cache is behind a mutex).
public final class Tokenizer: Sendable {
    let model: BPEModel
    let normalizer: (any Normalizer)?
    let preTokenizer: (any PreTokenizer)?
    let postProcessor: (any PostProcessor)?
    let decoder: (any TokenDecoder)?
    let added: AddedVocabulary
    /// Whether the pre-tokenizer ends in ByteLevel and the model works on raw bytes (same ids, less work).
    let modelTakesRawBytes: Bool
    let idToToken: [String?]
    let specialIds: [Bool]
    let addedIds: ByteStringMap
    let config: TokenizerConfig

    /// Loads `tokenizer.json` and, when present, `tokenizer_config.json` (and `chat_template.jinja` when the
    /// config has no template) from a model directory.
    public static func load(directory: URL) throws -> Tokenizer {
        let tokenizerURL = directory.appendingPathComponent("tokenizer.json")
        let data: Data
        do {
            data = try Data(contentsOf: tokenizerURL)
        } catch {
            throw TokenizerError("cannot read \(tokenizerURL.path): \(error.localizedDescription)")
        }
        let configURL = directory.appendingPathComponent("tokenizer_config.json")
        let configData = FileManager.default.fileExists(atPath: configURL.path) ? try Data(contentsOf: configURL) : nil
        let templateURL = directory.appendingPathComponent("chat_template.jinja")
        let template = (try? Data(contentsOf: templateURL)).map { String(decoding: $0, as: UTF8.self) }
        return try Tokenizer(tokenizerJSON: data, configJSON: configData, chatTemplateFile: template)
    }

    public convenience init(tokenizerJSON: Data, configJSON: Data?) throws {
        try self.init(tokenizerJSON: tokenizerJSON, configJSON: configJSON, chatTemplateFile: nil)
    }

    init(tokenizerJSON: Data, configJSON: Data?, chatTemplateFile: String?) throws {
        let root = try JSONParser.parse(tokenizerJSON, source: "tokenizer.json").asObject("tokenizer.json")
        var config = try configJSON.map { try TokenizerConfig(json: $0) } ?? TokenizerConfig()
        if config.chatTemplate == nil { config.chatTemplate = chatTemplateFile }
        self.config = config

        guard let modelValue = root.optional("model") else { throw TokenizerError("tokenizer.json has no \"model\"") }
        let modelObject = try modelValue.asObject("tokenizer.json \"model\"")
        let type = try modelObject.optionalString("type", in: "tokenizer.json model")
            ?? (modelObject.optional("merges") != nil ? "BPE" : nil)
        switch type {
        case "BPE":
            break
        case .some(let t) where ["WordPiece", "Unigram", "WordLevel"].contains(t):
            throw TokenizerError("unsupported tokenizer model \"\(t)\": lorad supports BPE tokenizers only")
        case .some(let t):
            throw TokenizerError("unsupported tokenizer model \"\(t)\" (unknown model type)")
        case .none:
            throw TokenizerError("tokenizer.json model has no \"type\"")
        }
        let model = try BPEModel(json: modelObject)
        self.model = model

        let normalizer = try root.optional("normalizer").map { try makeNormalizer(json: $0) }
        self.normalizer = normalizer
        let preTokenizer = try root.optional("pre_tokenizer").map { try makePreTokenizer(json: $0) }
        if let fused = preTokenizer?.withoutFinalByteMapping(), model.supportsRawBytes {
            self.preTokenizer = fused
            modelTakesRawBytes = true
        } else {
            self.preTokenizer = preTokenizer
            modelTakesRawBytes = false
        }
        decoder = try root.optional("decoder").map { try makeDecoder(json: $0) }

        // Added tokens, as Hugging Face's AddedVocabulary assigns them: the first entry for a content wins; a
        // content the vocabulary has keeps its vocabulary id; others get the next id after the vocabulary (the
        // "id" written in the file is not used). A content is special if any of its entries is, and then the
        // special entry's flags apply.
        var addedTokens: [AddedToken] = []
        var addedIds = ByteStringMap()
        var largestAddedId: Int?
        let vocabularyCount = model.vocab.count
        let addedList = try (root.optional("added_tokens") ?? .array([])).asArray("tokenizer.json \"added_tokens\"")
        for (index, value) in addedList.enumerated() {
            let token = try AddedToken(json: value, index: index)
            guard !token.content.isEmpty else { continue }
            if let existing = addedIds.lookup(token.content) {
                if token.special, let i = addedTokens.firstIndex(where: { $0.id == Int(existing) }), !addedTokens[i].special {
                    addedTokens[i] = token.withId(Int(existing))
                }
                continue
            }
            let id: Int
            if let vocabId = model.vocab.lookup(token.content) {
                id = Int(vocabId)
            } else if let largest = largestAddedId, largest >= vocabularyCount || vocabularyCount == 0 {
                id = largest + 1
            } else {
                id = vocabularyCount
            }
            guard id <= maximumTokenId else {
                throw TokenizerError("tokenizer.json added_tokens[\(index)] \"\(token.content)\" would get id \(id), above the limit \(maximumTokenId)")
            }
            largestAddedId = max(largestAddedId ?? id, id)
            addedIds.insert(token.content.utf8, value: Int32(id))
            addedTokens.append(token.withId(id))
        }
        self.addedIds = addedIds
        added = AddedVocabulary(tokens: addedTokens, normalize: { normalizer?.normalize($0) ?? $0 })

        let size = max(model.tokens.count, (addedTokens.map(\.id).max() ?? -1) + 1)
        var table = model.tokens + [String?](repeating: nil, count: size - model.tokens.count)
        var special = [Bool](repeating: false, count: size)
        for t in addedTokens {
            table[t.id] = t.content
            if t.special { special[t.id] = true }
        }
        idToToken = table
        specialIds = special

        // add_bos_token / add_eos_token in tokenizer_config.json replace the post-processor with a template, as
        // transformers does; a flag the config leaves out keeps what the tokenizer.json template did.
        var postProcessor = try root.optional("post_processor").map { try makePostProcessor(json: $0) }
        if config.addBosToken != nil || config.addEosToken != nil {
            let current = postProcessor?.process([], addSpecialTokens: true) ?? []
            let bosId = config.bosToken.flatMap { addedIds.lookup($0).map(Int.init) ?? model.vocab.lookup($0).map(Int.init) }
            let eosId = config.eosToken.flatMap { addedIds.lookup($0).map(Int.init) ?? model.vocab.lookup($0).map(Int.init) }
            let addBos = config.addBosToken ?? (bosId != nil && current.first == bosId)
            let addEos = config.addEosToken ?? (eosId != nil && current.last == eosId && current.count > (addBos ? 1 : 0))
            var prefix: [Int] = [], suffix: [Int] = []
            if addBos {
                guard let bosId else {
                    throw TokenizerError("tokenizer_config.json sets add_bos_token but bos_token \(config.bosToken.map { "\"\($0)\"" } ?? "(none)") is not a known token")
                }
                prefix = [bosId]
            }
            if addEos {
                guard let eosId else {
                    throw TokenizerError("tokenizer_config.json sets add_eos_token but eos_token \(config.eosToken.map { "\"\($0)\"" } ?? "(none)") is not a known token")
                }
                suffix = [eosId]
            }
            postProcessor = TemplateProcessing(prefix: prefix, suffix: suffix)
        }
        self.postProcessor = postProcessor
    }

    // MARK: Encoding

    /// Token ids of `text`. With `addSpecialTokens` the post-processor adds its special tokens (typically BOS).
    /// Special-token text inside `text` is matched as that special token, as Hugging Face does.
    /// A split regex that exhausts its step budget leaves the rest of its input unsplit (bounded time, different
    /// tokens); `encode(_:addSpecialTokens:isCancelled:)` turns that into an error instead.
    public func encode(_ text: String, addSpecialTokens: Bool = true) -> [Int] {
        let scope = EncodeScope(isCancelled: { false })
        return scope.run { encodeInScope(text, addSpecialTokens: addSpecialTokens, scope: scope) }
    }

    /// `encode` for untrusted text on a server: stops early (throwing `EncodeCancelled`) once `isCancelled` says the
    /// caller has gone, checked every few thousand bytes; throws a `TokenizerError` naming the pattern when a split
    /// regex needs more steps than its budget.
    public func encode(_ text: String, addSpecialTokens: Bool, isCancelled: @escaping () -> Bool) throws -> [Int] {
        let scope = EncodeScope(isCancelled: isCancelled)
        let ids = scope.run { encodeInScope(text, addSpecialTokens: addSpecialTokens, scope: scope) }
        if scope.cancelled { throw EncodeCancelled() }
        if let pattern = scope.exceededPattern {
            throw TokenizerError("the tokenizer's split regex \"\(pattern)\" took more than its step budget on this input (\(text.utf16.count) UTF-16 units); the text was not tokenized")
        }
        return ids
    }

    private func encodeInScope(_ text: String, addSpecialTokens: Bool, scope: EncodeScope) -> [Int] {
        let raw = Array(text.utf8)
        var list = split(raw)
        if scope.checkCancelled() { return [] }
        preTokenizer?.preTokenize(&list)
        var ids: [Int] = []
        ids.reserveCapacity(raw.count / 3 + 4)
        list.bytes.withUnsafeBufferPointer { p in
            var sinceCheck = 0
            for piece in list.pieces {
                sinceCheck += piece.end - piece.start
                if sinceCheck >= 4096 {
                    sinceCheck = 0
                    if scope.checkCancelled() { return }
                }
                if piece.isText {
                    let word = UnsafeBufferPointer(rebasing: p[piece.start..<piece.end])
                    if modelTakesRawBytes {
                        model.tokenizeRawBytes(word, into: &ids)
                    } else {
                        model.tokenize(word, into: &ids)
                    }
                } else {
                    ids.append(piece.token)
                }
            }
        }
        guard let postProcessor else { return ids }
        return postProcessor.process(ids, addSpecialTokens: addSpecialTokens)
    }

    /// Added tokens on the raw text, normalization of the text between them, then normalized added tokens.
    private func split(_ raw: [UInt8]) -> PieceList {
        var spans: [(start: Int, end: Int, token: Int)] = []
        raw.withUnsafeBufferPointer { added.split($0, 0, $0.count, trie: added.rawTrie, into: &spans) }
        if normalizer == nil && added.normalizedTrie.isEmpty {
            return PieceList(bytes: raw, pieces: spans.map {
                Piece(start: $0.start, end: $0.end, token: $0.token, atOrigin: $0.start == 0)
            })
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(raw.count + raw.count / 8 + 8)
        var pieces: [Piece] = []
        var inner: [(start: Int, end: Int, token: Int)] = []
        for span in spans {
            let base = bytes.count
            if span.token >= 0 {
                bytes.append(contentsOf: raw[span.start..<span.end])
                pieces.append(Piece(start: base, end: bytes.count, token: span.token, atOrigin: span.start == 0))
                continue
            }
            let text = Array(raw[span.start..<span.end])
            bytes.append(contentsOf: normalizer?.normalize(text) ?? text)
            inner.removeAll(keepingCapacity: true)
            bytes.withUnsafeBufferPointer { added.split($0, base, $0.count, trie: added.normalizedTrie, into: &inner) }
            for s in inner {
                pieces.append(Piece(start: s.start, end: s.end, token: s.token,
                                    atOrigin: span.start == 0 && s.start == base))
            }
        }
        return PieceList(bytes: bytes, pieces: pieces)
    }

    // MARK: Decoding

    /// The text of `ids` (unknown ids are skipped, as Hugging Face does).
    public func decode(_ ids: [Int], skipSpecialTokens: Bool = false) -> String {
        var tokens: [String] = []
        tokens.reserveCapacity(ids.count)
        for id in ids {
            guard let t = token(forId: id) else { continue }
            if skipSpecialTokens && isSpecial(id) { continue }
            tokens.append(t)
        }
        guard let decoder else { return tokens.joined(separator: " ") }
        return decoder.decodeChain(tokens).joined()
    }

    /// An incremental decoder for generated ids (see `StreamingDecoder`).
    public func makeStreamingDecoder(skipSpecialTokens: Bool = false) -> StreamingDecoder {
        StreamingDecoder(tokenizer: self, skipSpecialTokens: skipSpecialTokens)
    }

    // MARK: Vocabulary

    /// Number of ids, added tokens included (the largest id + 1).
    public var vocabularySize: Int { idToToken.count }

    /// The id of a token string (added tokens first, then the model vocabulary); compared byte for byte.
    public func id(forToken token: String) -> Int? {
        if let id = addedIds.lookup(token) { return Int(id) }
        return model.vocab.lookup(token).map(Int.init)
    }

    /// The token string of an id, or nil when no token has it.
    public func token(forId id: Int) -> String? {
        guard id >= 0 && id < idToToken.count else { return nil }
        return idToToken[id]
    }

    /// Whether `id` is a special added token (skipped by `skipSpecialTokens`).
    public func isSpecial(_ id: Int) -> Bool {
        id >= 0 && id < specialIds.count && specialIds[id]
    }

    /// The id of tokenizer_config.json's `bos_token`.
    public var bosTokenId: Int? { config.bosToken.flatMap { id(forToken: $0) } }
    /// The id of tokenizer_config.json's `eos_token`.
    public var eosTokenId: Int? { config.eosToken.flatMap { id(forToken: $0) } }
    /// tokenizer_config.json's `chat_template` (the "default" entry of a list), or `chat_template.jinja`.
    public var chatTemplate: String? { config.chatTemplate }
}

extension AddedToken {
    func withId(_ newId: Int) -> AddedToken {
        var copy = self
        copy.id = newId
        return copy
    }
}
