import Foundation

// Placeholder until the tokenizer lands (issue 3): these commands report that plainly.
func tokenizeCommand(_ args: [String]) throws { throw CommandError("tokenizer not yet supported") }
func detokenizeCommand(_ args: [String]) throws { throw CommandError("tokenizer not yet supported") }
func benchTokenizerCommand(_ args: [String]) throws { throw CommandError("tokenizer not yet supported") }
