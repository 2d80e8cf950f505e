import Foundation

/// Progress on stderr, drawn only when stderr is a terminal and at most ten times a second: a stage
/// name, a message, or a bar with counts. `finish()` clears the line.
final class TerminalProgress: @unchecked Sendable {
    private let enabled: Bool
    private var last = Date.distantPast
    private var drawn = false

    init(enabled: Bool) { self.enabled = enabled && isatty(STDERR_FILENO) == 1 }

    /// A stage or step name, e.g. "… remap-ids".
    func stage(_ name: String) { draw("  … \(name)") }

    func message(_ text: String) { draw("  \(text)…") }

    /// `label ████░░░░ done/total detail`.
    func bar(_ label: String, _ done: Int, of total: Int, detail: String = "") {
        guard enabled else { return }
        let now = Date()
        guard done >= total || now.timeIntervalSince(last) >= 0.1 else { return }
        last = now
        let width = 28
        let filled = total <= 0 ? width : min(width, done * width / total)
        let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
        draw("  \(label.isEmpty ? "" : label + " ")\(bar) \(min(done, max(total, 0)))/\(total)\(detail.isEmpty ? "" : "  " + detail)")
    }

    func finish() {
        guard enabled, drawn else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8))
    }

    private func draw(_ line: String) {
        guard enabled else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[2K\(line)".utf8))
        drawn = true
    }
}
