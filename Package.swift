// swift-tools-version:6.0
// lorad: a multi-adapter LoRA serving daemon for CPU servers.
// Dependencies point one way: kernels <- model <- engine <- server <- lorad; loractl speaks only the wire protocol.
import PackageDescription

let optimized: [SwiftSetting] = [
    .unsafeFlags(["-Ounchecked", "-wmo"], .when(configuration: .release)),
]

let package = Package(
    name: "lorad",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "lorad", targets: ["lorad"]),
        .executable(name: "loractl", targets: ["loractl"]),
    ],
    targets: [
        // System libraries.
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CSQLite3", providers: [.apt(["libsqlite3-dev"])]),

        // SIMD kernels in C (AVX2/FMA/F16C chosen at run time, scalar fallback) and their Swift face.
        .target(name: "CKernels", cSettings: [.unsafeFlags(["-O3"])]),
        .target(name: "Kernels", dependencies: ["CKernels", "COpenBLAS"], swiftSettings: optimized),

        // safetensors files: memory-mapped reader and writer.
        .target(name: "Safetensors", dependencies: ["Kernels"], swiftSettings: optimized),

        // GGUF files (llama.cpp's format): memory-mapped reader of metadata and tensor infos, and a writer.
        .target(name: "GGUF", swiftSettings: optimized),

        // Hugging Face tokenizer.json: BPE, pipeline stages, streaming decoder.
        .target(name: "Tokenization", swiftSettings: optimized),

        // Constrained decoding: JSON Schema, regex and GBNF grammars, the per-sequence token mask over the vocabulary
        // trie, and the tool-call formats of chat models.
        .target(name: "Grammar", dependencies: ["Tokenization"], swiftSettings: optimized),

        // Demo and benchmark models: seeded random weights in real shapes, with tokenizer and PEFT adapters.
        .target(name: "ModelFactory", dependencies: ["Model", "Safetensors"], swiftSettings: optimized),

        // Llama-family model: config, weights, KV cache, the batched forward pass, sampling.
        .target(name: "Model", dependencies: ["CKernels", "Kernels", "Safetensors", "GGUF"], swiftSettings: optimized),

        // PEFT LoRA adapters: config and safetensors parsing, validation against the base model.
        .target(name: "Adapters", dependencies: ["Model", "Safetensors", "Kernels"], swiftSettings: optimized),

        // The adapter registry: SQLite (WAL) tenants/tokens/adapters and the content-addressed adapter store.
        .target(name: "Registry", dependencies: ["CSQLite3", "Adapters", "Model", "GGUF", "Credentials"], swiftSettings: optimized),

        // SHA-256 and the bearer-token format: shared by the registry and loractl (tenants-file hash lines).
        .target(name: "Credentials", swiftSettings: optimized),

        // Continuous batching: scheduling, sampling, stop conditions, fairness, adapter routing.
        .target(name: "Engine", dependencies: ["Model", "Tokenization", "Adapters", "Grammar"], swiftSettings: optimized),

        // Jinja subset for Hugging Face chat templates.
        .target(name: "ChatTemplate", swiftSettings: optimized),

        // HTTP/1.1 over Unix and TCP sockets: epoll event loop, parser, streaming responses, peer credentials.
        .target(name: "HTTPServer", swiftSettings: optimized),

        // The wire protocol: request parsing and response shapes shared by the daemon and loractl.
        .target(name: "Wire", swiftSettings: optimized),

        // The daemon's API: endpoints, identity, adapter residency, metrics (transport-independent).
        .target(name: "Server", dependencies: ["Engine", "Registry", "Wire", "Adapters", "Model", "Kernels", "Tokenization", "Grammar"],
                swiftSettings: optimized),

        // Executables.
        .executableTarget(name: "lorad", dependencies: ["Model", "Adapters", "Engine", "CKernels", "COpenBLAS", "ModelFactory",
                                                       "Tokenization", "Kernels", "Safetensors", "Registry", "Server",
                                                       "HTTPServer", "ChatTemplate", "Wire", "GGUF", "Grammar"],
                          swiftSettings: optimized),
        .executableTarget(name: "loractl", dependencies: ["Wire", "Credentials"], swiftSettings: optimized),

        // Tests.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "KernelsTests", dependencies: ["Kernels", "TestSupport"]),
        .testTarget(name: "SafetensorsTests", dependencies: ["Safetensors", "TestSupport"]),
        .testTarget(name: "GGUFTests", dependencies: ["GGUF", "Tokenization", "TestSupport"]),
        .testTarget(name: "TokenizationTests", dependencies: ["Tokenization", "TestSupport"]),
        .testTarget(name: "GrammarTests", dependencies: ["Grammar", "Tokenization", "TestSupport"]),
        .testTarget(name: "ModelTests", dependencies: ["Model", "Kernels", "Safetensors", "TestSupport"]),
        .testTarget(name: "AdaptersTests", dependencies: ["Adapters", "Model", "Kernels", "Safetensors", "TestSupport"]),
        .testTarget(name: "RegistryTests", dependencies: ["Registry", "Adapters", "Model", "TestSupport"]),
        // A child process the registry crash tests SIGKILL in the middle of a registration.
        .executableTarget(name: "registry-crash-child", dependencies: ["Registry", "Model"],
                          path: "Tests/RegistryCrashChild"),
        .testTarget(name: "EngineTests", dependencies: ["Engine", "ModelFactory", "Adapters", "Model", "Tokenization", "Grammar", "TestSupport"]),
        // Golden cases made with Python jinja2 by make_golden.py (kept beside the tests, not built).
        .testTarget(name: "ChatTemplateTests", dependencies: ["ChatTemplate", "TestSupport"],
                    exclude: ["make_golden.py", "golden_templates.py", "golden_snippets.py", "Fixtures"]),
        .testTarget(name: "HTTPServerTests", dependencies: ["HTTPServer", "TestSupport"]),
        .testTarget(name: "WireTests", dependencies: ["Wire"]),
        .testTarget(name: "CLITests", dependencies: ["TestSupport"]),
        // End to end: the built `lorad serve` on a temporary socket, used only over the socket.
        .testTarget(name: "APITests", dependencies: ["TestSupport", "ModelFactory"],
                    exclude: ["openai_client_checks.py", "qwen2.5-chat-template.jinja", "tool_round_trip.py"]),
        // The docs' commands against a real daemon; deploy/ (lorad.conf, systemd, Kubernetes) against lorad serve.
        .testTarget(name: "DeployTests", dependencies: ["TestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
