// swift-tools-version:6.2
import PackageDescription

let package = Package(
    name: "anki-submit",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "anki-submit", targets: ["anki-submit"]),
        .library(name: "AnkiReader", targets: ["AnkiReader"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.20"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        // The withdrawal endpoint's connection guard is a NIO channel handler (NIO comes with Hummingbird).
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.0"),
        // The participant's upload to the study's intake (`prepare --send-to`, the page's "Send to the study").
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        // Its TLS (system trust store; `--ca-file` adds a private CA).
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
    ],
    targets: [
        // C libraries, reached through pkg-config; Debian package names for the hint.
        .systemLibrary(
            name: "CAnkiZstd",
            pkgConfig: "libzstd",
            providers: [.apt(["libzstd-dev"])]
        ),
        // zlib for reading packages: inflate and crc32() (AnkiReader's ZipFile; ZIPFoundation, which lists a
        // zip by reading every entry's local header, stays for the tests that build hostile packages).
        // Not `CZlib`: ZIPFoundation has a module of (nearly) that name.
        .systemLibrary(
            name: "CAnkiZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        // sqlite3_db_config() wrappers (variadic in C) for opening foreign databases safely.
        .systemLibrary(
            name: "CAnkiSQLite",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        .systemLibrary(
            name: "CAnkiPCRE2",
            pkgConfig: "libpcre2-8",
            providers: [.apt(["libpcre2-dev"])]
        ),

        // Config/ and Wordlists/ compiled into the program, generated at every
        // build by the EmbedDataPlugin from the source tree; see DataDirectory.
        .executableTarget(name: "AnkiEmbedDataTool"),
        .plugin(name: "EmbedDataPlugin", capability: .buildTool(), dependencies: ["AnkiEmbedDataTool"]),
        .target(name: "AnkiEmbeddedData", plugins: ["EmbedDataPlugin"]),
        // The commit for --version (the same plugin; a module of its own so a commit rebuilds only the front end).
        .target(name: "AnkiBuildInfo", plugins: ["EmbedDataPlugin"]),

        // Small safe Swift APIs over the C libraries.
        .target(name: "AnkiZstd", dependencies: ["CAnkiZstd"]),
        .target(name: "AnkiPCRE2", dependencies: ["CAnkiPCRE2"]),

        // Writes Parquet files (the public release's tables): Thrift footer, PLAIN and dictionary
        // encodings, zstd pages, column statistics.
        .target(name: "AnkiParquet", dependencies: ["AnkiZstd"]),

        // Code generated once from Schemas/*.proto (see Schemas/generate-swift.sh).
        .target(
            name: "AnkiSchemas",
            dependencies: [.product(name: "SwiftProtobuf", package: "swift-protobuf")]
        ),

        // Opens every Anki export generation and yields one collection model.
        .target(
            name: "AnkiReader",
            dependencies: [
                "AnkiZstd",
                "AnkiSchemas",
                "CAnkiZlib",
                "CAnkiSQLite",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]
        ),

        // The submission format shared by both sides: schema, policy, token, time primitives.
        .target(
            name: "AnkiSubmission",
            dependencies: [
                "AnkiPCRE2", "AnkiEmbeddedData",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
            ],
            // The canonical schema and policy texts; Schemas/submission.sql and Config/policy.json
            // link here, so there is exactly one copy of each.
            resources: [.embedInCode("Resources/submission.sql"), .embedInCode("Resources/policy.json")]
        ),

        // Checks a submission against the policy (participant side and researcher ingest).
        .target(
            name: "AnkiAudit",
            dependencies: [
                "AnkiSubmission", "AnkiReader", "AnkiPCRE2",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
            ]
        ),

        // The anonymizing pipeline behind `prepare`: one stage per file.
        .target(
            name: "AnkiPipeline",
            dependencies: [
                "AnkiReader", "AnkiSubmission", "AnkiAudit", "AnkiPCRE2", "AnkiScanner",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
            ]
        ),

        // Personal-data and special-category scanner (PCRE2 JIT, word lists).
        .target(
            name: "AnkiScanner",
            dependencies: ["AnkiPCRE2", "AnkiReader", "AnkiSubmission"]
        ),

        // Researcher side: ingest, withdrawals (HTTP endpoint and apply), release, stats.
        .target(
            name: "AnkiResearch",
            dependencies: [
                "AnkiSubmission", "AnkiAudit", "AnkiReader", "AnkiParquet",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            resources: [.embedInCode("Resources/dataset.sql"), .embedInCode("Resources/release.sql")]
        ),

        // The participant's side of sending: uploads a finished submission to the study's intake.
        .target(
            name: "AnkiSend",
            dependencies: [
                "AnkiSubmission",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),

        // The participant's local review page: card previews, decisions, survey (Hummingbird on 127.0.0.1).
        .target(
            name: "AnkiReview",
            dependencies: [
                "AnkiReader", "AnkiSubmission", "AnkiScanner", "AnkiPipeline", "AnkiSend",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            resources: [
                .embedInCode("Resources/review.html"), .embedInCode("Resources/review.js"),
                .embedInCode("Resources/review.css"),
            ]
        ),

        // The thin command-line front end.
        .executableTarget(
            name: "anki-submit",
            dependencies: [
                "AnkiReader", "AnkiSubmission", "AnkiAudit", "AnkiPipeline", "AnkiScanner", "AnkiResearch",
                "AnkiReview", "AnkiSend", "AnkiBuildInfo",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // libFuzzer target for the package reader; a corpus replayer in normal builds.
        .executableTarget(
            name: "AnkiReaderFuzz",
            dependencies: ["AnkiReader"]
        ),

        // libFuzzer target for strangers' submissions (audit and ingest); a corpus replayer in normal builds.
        .executableTarget(
            name: "AnkiSubmissionFuzz",
            dependencies: [
                "AnkiAudit", "AnkiResearch",
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),

        // What several test targets share (the property tests' seeded generator).
        .target(name: "AnkiTestSupport", path: "Tests/Support"),

        .testTarget(
            name: "AnkiReaderTests",
            dependencies: [
                "AnkiReader", "AnkiZstd", "AnkiPCRE2",
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        .testTarget(
            name: "AnkiPipelineTests",
            dependencies: [
                "AnkiReader", "AnkiSubmission", "AnkiAudit", "AnkiPipeline", "AnkiScanner", "AnkiTestSupport",
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        .testTarget(
            name: "AnkiScannerTests",
            dependencies: ["AnkiScanner", "AnkiReader", "AnkiPCRE2", "AnkiSubmission", "AnkiEmbeddedData"]
        ),
        .testTarget(
            name: "AnkiResearchTests",
            dependencies: [
                "AnkiResearch", "AnkiSubmission", "AnkiAudit", "AnkiTestSupport",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ]
        ),
        .testTarget(
            name: "AnkiParquetTests",
            dependencies: ["AnkiParquet", "AnkiTestSupport"]
        ),
        .testTarget(
            name: "AnkiReviewTests",
            dependencies: ["AnkiReview", "AnkiReader", "AnkiScanner", .product(name: "Hummingbird", package: "hummingbird")]
        ),
        .testTarget(
            name: "AnkiSubmitCLITests",
            dependencies: ["AnkiReader", "AnkiTestSupport"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
