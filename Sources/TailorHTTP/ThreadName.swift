// Names the calling OS thread, so top -H, perf and gdb show "tailor-http-2" instead of an inherited name.
// Looked up at run time because Swift's Glibc module hides the GNU-only pthread_setname_np declaration.
import Glibc

private typealias SetName = @convention(c) (pthread_t, UnsafePointer<CChar>) -> Int32

private let setNameFunction: SetName? = {
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "pthread_setname_np") else { return nil }
    return unsafeBitCast(symbol, to: SetName.self)
}()

/// Linux keeps at most 15 bytes of a thread name; longer names are cut rather than rejected.
func setCurrentThreadName(_ name: String) {
    guard let setName = setNameFunction else { return }
    _ = setName(pthread_self(), String(decoding: name.utf8.prefix(15), as: UTF8.self))
}
