// SIGPIPE, ignored for the whole process: libuv writes with write(2), which raises SIGPIPE when the peer has
// already closed, and its default action ends the process. Ignored, the write fails with EPIPE and only that
// connection closes (libuv's documentation asks servers to do this).
import Glibc

func ignoreBrokenPipeSignals() {
    signal(SIGPIPE, SIG_IGN)
}
