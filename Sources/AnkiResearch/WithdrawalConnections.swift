import Foundation
import HummingbirdCore
import Logging
import NIOCore

/// Connection limits of the withdrawal endpoint, so idle or slow clients cannot exhaust its file
/// descriptors or hold it open: at most `maxConnections` open at once (a new connection over the
/// limit closes the one idle longest, else the one whose request started earliest, so a rightful
/// client always gets in); a connection with no request closes after `idleTimeout`; a request must
/// arrive in full and be answered within `requestTimeout` of its first byte (slow headers, slow
/// bodies).
public struct ConnectionLimits: Sendable {
    public var maxConnections = 256
    /// Seconds.
    public var idleTimeout = 10.0
    /// Seconds.
    public var requestTimeout = 10.0

    public init() {}
}

/// Every open connection of one server, for the limit and the choice of which to close.
final class ConnectionRegistry: @unchecked Sendable {
    struct Entry {
        let channel: any Channel
        /// When the current request's first byte arrived; nil while idle.
        var busySince: NIODeadline?
        var idleSince: NIODeadline
        var closing = false
    }

    let limits: ConnectionLimits
    private let lock = NSLock()
    private var entries: [ObjectIdentifier: Entry] = [:]
    private var evicted = 0

    init(limits: ConnectionLimits) {
        self.limits = limits
    }

    /// Registers a new connection; returns the connection to close if the limit is now exceeded.
    func opened(_ channel: any Channel) -> (any Channel)? {
        let id = ObjectIdentifier(channel)
        let now = NIODeadline.now()
        lock.lock()
        defer { lock.unlock() }
        entries[id] = Entry(channel: channel, busySince: nil, idleSince: now)
        let open = entries.values.reduce(0) { $0 + ($1.closing ? 0 : 1) }
        guard open > limits.maxConnections else { return nil }
        let others = entries.filter { $0.key != id && !$0.value.closing }
        let victim = others.filter { $0.value.busySince == nil }.min { $0.value.idleSince < $1.value.idleSince }
            ?? others.min { ($0.value.busySince ?? now) < ($1.value.busySince ?? now) }
        let chosen = victim?.key ?? id
        entries[chosen]?.closing = true
        evicted += 1
        return entries[chosen]?.channel
    }

    func closed(_ channel: any Channel) {
        lock.lock()
        entries[ObjectIdentifier(channel)] = nil
        lock.unlock()
    }

    func mark(_ channel: any Channel, busySince: NIODeadline?) {
        lock.lock()
        if busySince == nil { entries[ObjectIdentifier(channel)]?.idleSince = .now() }
        entries[ObjectIdentifier(channel)]?.busySince = busySince
        lock.unlock()
    }

    /// Open connections (for tests and logs).
    var count: Int {
        lock.lock()
        defer { lock.unlock() }
        return entries.count
    }

    /// Connections closed to make room for new ones.
    var evictions: Int {
        lock.lock()
        defer { lock.unlock() }
        return evicted
    }
}

/// Sent down a connection's pipeline by the responder: a request is being answered / was answered.
struct RequestStarted: Sendable {}
struct ResponseDone: Sendable {}

/// First handler of every connection, on raw bytes: registers it, and closes it when it stays idle
/// too long or a request (from its first byte to the end of its answer) takes too long.
final class ConnectionGuardHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let registry: ConnectionRegistry
    private var registered = false
    private var busy = false
    private var timer: Scheduled<Void>?

    init(registry: ConnectionRegistry) {
        self.registry = registry
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { register(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        register(context)
        context.fireChannelActive()
    }

    private func register(_ context: ChannelHandlerContext) {
        guard !registered else { return }
        registered = true
        if let victim = registry.opened(context.channel) { victim.close(promise: nil) }
        becomeIdle(context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        unregister(context)
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        unregister(context)
    }

    private func unregister(_ context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        if registered {
            registered = false
            registry.closed(context.channel)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if !busy { becomeBusy(context) }
        context.fireChannelRead(data)
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        switch event {
        case is RequestStarted:
            if !busy { becomeBusy(context) }
            promise?.succeed()
        case is ResponseDone:
            if registered { becomeIdle(context) }
            promise?.succeed()
        default:
            context.triggerUserOutboundEvent(event, promise: promise)
        }
    }

    private func becomeBusy(_ context: ChannelHandlerContext) {
        busy = true
        registry.mark(context.channel, busySince: .now())
        schedule(context, registry.limits.requestTimeout)
    }

    private func becomeIdle(_ context: ChannelHandlerContext) {
        busy = false
        registry.mark(context.channel, busySince: nil)
        schedule(context, registry.limits.idleTimeout)
    }

    private func schedule(_ context: ChannelHandlerContext, _ seconds: Double) {
        timer?.cancel()
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(Int64(seconds * 1e9))) { [weak self] in
            self?.timer = nil
            context.close(promise: nil)
        }
    }
}

/// HTTP/1.1 as Hummingbird serves it, with `ConnectionGuardHandler` in front and the responder
/// telling it when a request is answered.
struct GuardedHTTP1Channel: ServerChildChannel {
    typealias Value = HTTP1Channel.Value

    let inner: HTTP1Channel
    let registry: ConnectionRegistry

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let registry = self.registry
        return channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(ConnectionGuardHandler(registry: registry), position: .first)
        }.flatMap { inner.setup(channel: channel, logger: logger) }
    }

    func handle(value: Value, logger: Logger) async {
        await inner.handle(value: value, logger: logger)
    }

    static func builder(registry: ConnectionRegistry, configuration: HTTP1Channel.Configuration) -> HTTPServerBuilder {
        HTTPServerBuilder { responder in
            let guarded: HTTPChannelHandler.Responder = { request, writer, channel in
                channel.triggerUserOutboundEvent(RequestStarted(), promise: nil)
                defer { channel.triggerUserOutboundEvent(ResponseDone(), promise: nil) }
                try await responder(request, writer, channel)
            }
            return GuardedHTTP1Channel(inner: HTTP1Channel(responder: guarded, configuration: configuration),
                                       registry: registry)
        }
    }
}
