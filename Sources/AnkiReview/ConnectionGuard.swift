import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import NIOCore
import NIOHTTPTypes

/// How many connections a small local HTTP server keeps, and how long each may take.
public struct ConnectionLimits: Sendable {
    /// Connections held at once. Beyond this, the connection that has waited longest without a
    /// request being answered is closed to make room; one whose request is being answered never is.
    public var maxConnections: Int
    /// Time to send a whole request head (the headers), counted from the connection's start or from
    /// the previous answer; the same time is how long an idle keep-alive connection is kept.
    public var headTimeout: TimeAmount
    /// Time to send a whole request body, counted from the end of its head.
    public var bodyTimeout: TimeAmount

    public init(maxConnections: Int = 64, headTimeout: TimeAmount = .seconds(10), bodyTimeout: TimeAmount = .seconds(20)) {
        self.maxConnections = maxConnections
        self.headTimeout = headTimeout
        self.bodyTimeout = bodyTimeout
    }
}

/// Keeps a server answering its rightful client whatever other clients do: a bounded number of
/// connections (the longest-waiting idle one makes room for a new one), and deadlines for idle
/// connections, slow headers and slow bodies. Use `server()` as the Hummingbird application's server.
public final class ConnectionGuard: @unchecked Sendable {
    public let limits: ConnectionLimits

    private struct Entry {
        let channel: any Channel
        var since: NIODeadline
        var busy: Bool
    }

    private let lock = NSLock()
    private var entries: [ObjectIdentifier: Entry] = [:]

    public init(limits: ConnectionLimits = ConnectionLimits()) {
        self.limits = limits
    }

    /// Open connections right now.
    public var connectionCount: Int { lock.withLock { entries.count } }

    /// An HTTP/1 server whose every connection is watched by this guard.
    public func server() -> HTTPServerBuilder {
        .http1(configuration: HTTP1Channel.Configuration(additionalChannelHandlers: [ConnectionGuardHandler(guard: self)]))
    }

    /// A new connection: makes room if the limit is reached (or closes the newcomer when every
    /// connection is being answered).
    func admit(_ id: ObjectIdentifier, channel: any Channel) {
        let victim: (any Channel)? = lock.withLock {
            var victim: (any Channel)?
            if entries.count >= limits.maxConnections {
                let oldest = entries.filter { !$0.value.busy }.min { $0.value.since < $1.value.since }
                if let oldest {
                    entries[oldest.key] = nil
                    victim = oldest.value.channel
                } else {
                    return channel
                }
            }
            entries[id] = Entry(channel: channel, since: .now(), busy: false)
            return victim
        }
        victim?.close(promise: nil)
    }

    func update(_ id: ObjectIdentifier, busy: Bool) {
        lock.withLock {
            entries[id]?.busy = busy
            entries[id]?.since = .now()
        }
    }

    func remove(_ id: ObjectIdentifier) {
        lock.withLock { entries[id] = nil }
    }
}

/// One connection's watch: between requests (and while the head arrives) the head deadline runs,
/// while the body arrives the body deadline; while a complete request is answered, none.
final class ConnectionGuardHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let watch: ConnectionGuard
    private var timer: Scheduled<Void>?
    private var inBody = false
    private var requests = 0
    private var answers = 0
    private var id: ObjectIdentifier { ObjectIdentifier(self) }

    init(guard watch: ConnectionGuard) { self.watch = watch }

    func handlerAdded(context: ChannelHandlerContext) {
        watch.admit(id, channel: context.channel)
        arm(context, watch.limits.headTimeout)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        watch.remove(id)
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        watch.remove(id)
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            inBody = true
            watch.update(id, busy: false)
            arm(context, watch.limits.bodyTimeout)
        case .body:
            break
        case .end:
            inBody = false
            requests += 1
            if answers >= requests {
                // Answered before its body was read (a refusal): back to waiting for the next head.
                watch.update(id, busy: false)
                arm(context, watch.limits.headTimeout)
            } else {
                watch.update(id, busy: true)
                timer?.cancel()
                timer = nil
            }
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) {
            answers += 1
            if !inBody && answers >= requests {
                watch.update(id, busy: false)
                arm(context, watch.limits.headTimeout)
            }
        }
        context.write(data, promise: promise)
    }

    private func arm(_ context: ChannelHandlerContext, _ amount: TimeAmount) {
        timer?.cancel()
        let channel = context.channel
        timer = context.eventLoop.scheduleTask(in: amount) { channel.close(promise: nil) }
    }
}
