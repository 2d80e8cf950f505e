import Foundation

/// A value computed on its own thread while the caller goes on; `value()` waits for it (and may be
/// called again). Used to put independent work on the second core.
public final class InBackground<T>: @unchecked Sendable {
    /// Written once by the worker before it signals `done`; read only after waiting.
    private var result: Result<T, any Error>?
    private let done = DispatchSemaphore(value: 0)

    public init(_ work: @escaping @Sendable () throws -> T) {
        Thread.detachNewThread { [self] in
            result = Result { try work() }
            done.signal()
        }
    }

    public func value() throws -> T {
        done.wait()
        done.signal()
        return try result!.get()
    }
}
