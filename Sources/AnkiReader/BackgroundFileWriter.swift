import Foundation

/// Writes a stream of bytes to a file descriptor on a thread of its own, so that producing the bytes
/// (decompressing the collection) and copying them into the kernel run on two cores: the caller's
/// bytes are copied into one of a few large buffers, and each full buffer is written by the other
/// thread while the caller fills the next.
///
/// `finish()` writes the rest and reports the first write error; `cancel()` (or deinit) stops the
/// thread without writing more. Not for use from more than one thread at a time.
final class BackgroundFileWriter: @unchecked Sendable {
    private let fd: Int32
    private let bufferSize: Int
    private let state = NSCondition()
    /// Buffers the caller may fill, and full ones waiting for the writer (with their byte counts);
    /// guarded by `state`, as are `closing` and `failed`.
    private var free: [UnsafeMutableRawBufferPointer] = []
    private var full: [(UnsafeMutableRawBufferPointer, Int)] = []
    private var closing = false
    private var failed = false
    private let stopped = DispatchSemaphore(value: 0)
    private var all: [UnsafeMutableRawBufferPointer] = []
    /// The buffer the caller is filling, and how much of it is filled (the caller's thread only).
    private var current: UnsafeMutableRawBufferPointer
    private var filled = 0
    private var finished = false

    init(fd: Int32, bufferSize: Int = 1 << 18, buffers: Int = 4) {
        self.fd = fd
        self.bufferSize = bufferSize
        for _ in 0..<max(buffers, 2) {
            all.append(.allocate(byteCount: bufferSize, alignment: 64))
        }
        current = all[0]
        free = Array(all.dropFirst())
        Thread.detachNewThread { [self] in
            run()
            stopped.signal()
        }
    }

    deinit {
        cancel()
        for buffer in all { buffer.deallocate() }
    }

    /// Copies `bytes` to be written; throws `WriteFailed` once a write has failed.
    func append(_ bytes: UnsafeRawBufferPointer) throws {
        if finished { throw WriteFailed() }
        var rest = bytes
        while !rest.isEmpty {
            let n = min(rest.count, bufferSize - filled)
            UnsafeMutableRawBufferPointer(rebasing: current[filled..<filled + n]).copyMemory(from: UnsafeRawBufferPointer(rebasing: rest[..<n]))
            filled += n
            rest = UnsafeRawBufferPointer(rebasing: rest[n...])
            if filled == bufferSize { try handOver() }
        }
    }

    /// Writes what is left and waits for the writer; throws `WriteFailed` when any write failed.
    func finish() throws {
        guard !finished else { return }
        if filled > 0 { try handOver(needsNext: false) }
        stop()
        if failed { throw WriteFailed() }
    }

    /// Stops the writer without writing what is not written yet.
    func cancel() {
        guard !finished else { return }
        state.lock()
        full.removeAll()
        state.unlock()
        stop()
    }

    struct WriteFailed: Error {}

    private func stop() {
        finished = true
        state.lock()
        closing = true
        state.broadcast()
        state.unlock()
        stopped.wait()
    }

    private func handOver(needsNext: Bool = true) throws {
        state.lock()
        defer { state.unlock() }
        if failed { throw WriteFailed() }
        full.append((current, filled))
        state.broadcast()
        filled = 0
        guard needsNext else { return }
        while free.isEmpty && !failed { state.wait() }
        if failed { throw WriteFailed() }
        current = free.removeLast()
    }

    private func run() {
        while true {
            state.lock()
            while full.isEmpty && !closing { state.wait() }
            if full.isEmpty {
                state.unlock()
                return
            }
            let (buffer, count) = full.removeFirst()
            let skip = failed
            state.unlock()
            let ok = skip || write(UnsafeRawBufferPointer(rebasing: buffer[..<count]))
            state.lock()
            if !ok { failed = true }
            free.append(buffer)
            state.broadcast()
            state.unlock()
        }
    }

    private func write(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var rest = bytes
        while let base = rest.baseAddress, !rest.isEmpty {
            let written = Foundation.write(fd, base, rest.count)
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { return false }
            rest = UnsafeRawBufferPointer(rebasing: rest[written...])
        }
        return true
    }
}
