import Foundation

/// The property tests' random numbers (SplitMix64): seeded, so a failing case can be run again. A test
/// names `seed` in its failure messages; `ANKI_SUBMIT_PROPERTY_SEED=N` fixes the seed of every
/// generator made with `init()`.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    public let seed: UInt64
    private var state: UInt64

    public init(seed: UInt64) {
        self.seed = seed
        state = seed
    }

    /// A random seed, or the one `ANKI_SUBMIT_PROPERTY_SEED` gives.
    public init() {
        let fixed = ProcessInfo.processInfo.environment["ANKI_SUBMIT_PROPERTY_SEED"].flatMap { UInt64($0) }
        self.init(seed: fixed ?? UInt64.random(in: 1...UInt64.max))
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    public mutating func next(below bound: UInt64) -> UInt64 { next() % bound }
}
