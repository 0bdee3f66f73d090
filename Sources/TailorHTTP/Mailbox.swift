// The one way back onto the loop: other threads append to a locked queue and call uv_async_send;
// the loop's async callback drains the whole queue (libuv coalesces sends). Nothing else crosses threads.
import CUV

enum LoopMessage: Sendable {
    case response(connectionID: UInt64, sequence: UInt64, response: HTTPResponse)
    case streamChunk(ResponseStream, [UInt8])
    case streamFinish(ResponseStream)
    case shutdown
}

/// Owns the uv_async_t. @unchecked Sendable because the handle pointer is only handed to uv_async_send,
/// which libuv documents as thread-safe, and only while `open` is true under the lock; the loop closes
/// the handle after flipping `open` under that same lock, so no sender can race the close.
final class Mailbox: @unchecked Sendable {
    private struct State {
        var messages: [LoopMessage] = []
        var open = false
    }

    private let state = LockedValue(State())
    private let handle: UnsafeMutablePointer<uv_async_t>
    private let deliver: ([LoopMessage]) -> Void

    /// `deliver` runs on the loop thread with every message posted since the last drain.
    init(loop: UnsafeMutablePointer<uv_loop_t>, deliver: @escaping ([LoopMessage]) -> Void) throws(HTTPServerError) {
        self.deliver = deliver
        handle = .allocate(capacity: 1)
        let status = uv_async_init(loop, handle) { async in
            Unmanaged<Mailbox>.fromOpaque(async!.pointee.data).takeUnretainedValue().drain()
        }
        guard status == 0 else {
            handle.deallocate()
            throw HTTPServerError(call: "uv_async_init", code: status, context: "creating the server's wake-up handle")
        }
        handle.pointee.data = Unmanaged.passRetained(self).toOpaque()
        state.withLock { $0.open = true }
    }

    deinit { handle.deallocate() }

    /// Queues a message for the loop; false once the loop has stopped listening.
    @discardableResult
    func post(_ message: LoopMessage) -> Bool {
        state.withLock { state in
            guard state.open else { return false }
            state.messages.append(message)
            // Sent under the lock so that close() cannot free the handle between the check and the send.
            uv_async_send(handle)
            return true
        }
    }

    private func drain() {
        let batch = state.withLock { state in
            defer { state.messages = [] }
            return state.messages
        }
        if !batch.isEmpty { deliver(batch) }
    }

    /// Loop thread only: refuses further posts, delivers what is queued (unless the server is being torn down
    /// before it ever ran), closes the handle. The mailbox is released in the close callback, not before.
    func close(deliverPending: Bool) {
        state.withLock { $0.open = false }
        if deliverPending { drain() }
        uv_close(UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_handle_t.self)) { handle in
            Unmanaged<Mailbox>.fromOpaque(handle!.pointee.data).release()
        }
    }
}
