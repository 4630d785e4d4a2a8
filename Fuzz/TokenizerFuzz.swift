// libFuzzer harness: tokenizer.json (+ tokenizer_config.json) loading, compiled into the Tokenization module.
// Input: tokenizer.json, then optionally a NUL byte and tokenizer_config.json. When the tokenizer loads, a short
// fixed text is encoded (ids without special tokens must lie in the vocabulary) and the ids (plus unknown and edge
// ids) decoded, in one go and streamed; the streamed pieces must add up to the one-go decode (StreamingDecoder's
// promise).

import Foundation

enum TokenizerFuzz {
    static let text = "Hello, world!  It's 2025: Ünïcödé café, 你好, 🤖👍🏽\n\t<s> </s> <|begin_of_text|> x\u{0301}"

    static func streamed(_ tokenizer: Tokenizer, _ ids: [Int], skipSpecialTokens: Bool) -> String {
        let decoder = tokenizer.makeStreamingDecoder(skipSpecialTokens: skipSpecialTokens)
        var text = ids.map { decoder.append($0) }.joined()
        text += decoder.finish()
        return text
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func tokenizerFuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = fuzzInput(data, size)
    let nul = bytes.firstIndex(of: 0)
    let tokenizerJSON = Data(bytes[..<(nul ?? bytes.count)])
    let configJSON = nul.map { Data(bytes[($0 + 1)...]) }
    guard let tokenizer = try? Tokenizer(tokenizerJSON: tokenizerJSON, configJSON: configJSON) else { return 0 }
    let vocabulary = tokenizer.vocabularySize
    // The model and the added tokens give ids inside the vocabulary; the post-processor adds the ids its JSON names
    // (Hugging Face does not check those against the vocabulary either, and the forward pass refuses them).
    let plain = tokenizer.encode(TokenizerFuzz.text, addSpecialTokens: false)
    fuzzCheck(plain.allSatisfy { $0 >= 0 && $0 < vocabulary }, "ids \(plain) outside the vocabulary of \(vocabulary)")
    let encoded = tokenizer.encode(TokenizerFuzz.text)
    let ids = encoded + [0, 1, vocabulary - 1, vocabulary, -1]
    for skip in [false, true] {
        let whole = tokenizer.decode(ids, skipSpecialTokens: skip)
        let streamed = TokenizerFuzz.streamed(tokenizer, ids, skipSpecialTokens: skip)
        fuzzCheck(streamed == whole, "streamed decode differs (skip \(skip)):\n  decode:   \(whole.debugDescription)\n  streamed: \(streamed.debugDescription)")
    }
    for id in ids { _ = tokenizer.token(forId: id).map { tokenizer.id(forToken: $0) } }
    _ = (tokenizer.bosTokenId, tokenizer.eosTokenId, tokenizer.chatTemplate)
    return 0
}
