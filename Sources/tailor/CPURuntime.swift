// Process-wide compute set-up, decided once at start: which OpenBLAS kernels, how many BLAS and kernel threads.
// OpenBLAS reads its environment (OPENBLAS_CORETYPE, OPENBLAS_THREAD_TIMEOUT) when the library loads, so changing
// either means re-executing ourselves.
import CKernels
import Foundation
import Logging
import TailorEngine

enum CPURuntime {
    /// Re-executes the process once with the OpenBLAS settings Tailor wants, unless the user set them (or
    /// TAILOR_NO_REEXEC) already:
    /// - `OPENBLAS_THREAD_TIMEOUT=16`: OpenBLAS's threads wait 2^16 cycles (~20 µs) for the next product, then
    ///   sleep, instead of busy-waiting 2^28 cycles (~0.1 s). Since `Blas.useKernelPool` OpenBLAS runs
    ///   single-threaded and its threads get no work at all; the setting still keeps them from spinning when
    ///   OpenBLAS is threaded (measured when it was: BENCHMARKS.md, "OpenBLAS's threads asleep between products").
    /// - `OPENBLAS_CORETYPE=SkylakeX` on a CPU with AVX-512 that Debian's OpenBLAS 0.3.21 does not recognise
    ///   (Sapphire Rapids): it falls back to Haswell kernels, and SkylakeX's measured ~1.6× faster sgemm.
    static func reexecWithBLASSettingsIfNeeded() {
        let env = ProcessInfo.processInfo.environment
        guard env["TAILOR_NO_REEXEC"] == nil else { return }
        var changed = false
        if env["OPENBLAS_THREAD_TIMEOUT"] == nil {
            setenv("OPENBLAS_THREAD_TIMEOUT", "16", 1)
            changed = true
        }
        if env["OPENBLAS_CORETYPE"] == nil, tk_cpu_has_avx512f() != 0 {
            let core = Blas.coreName.lowercased()
            if core.contains("haswell") || core.contains("zen") || core.contains("prescott") {
                setenv("OPENBLAS_CORETYPE", "SkylakeX", 1)
                changed = true
            }
        }
        guard changed else { return }
        setenv("TAILOR_NO_REEXEC", "1", 1)
        let args = CommandLine.arguments.map { strdup($0) } + [nil]
        execv("/proc/self/exe", args)
        // execv returns only on failure: carry on with the settings we have.
    }

    /// Threads for Tailor's kernel pool, which also runs OpenBLAS's products in blocks (`Blas.useKernelPool`): all cores.
    /// What a long-running process (`serve`, `worker`) does first: logs to standard error at --log-level
    /// (TAILOR_LOG_LEVEL, default info), then the compute threads (--threads, TAILOR_THREADS). Returns its logger.
    static func startProcess(logLevel: String?, threads: Int?, environment env: [String: String]) -> Logger {
        let level = Logger.Level(rawValue: logLevel ?? env["TAILOR_LOG_LEVEL"] ?? "info") ?? .info
        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardError(label: label)
            h.logLevel = level
            return h
        }
        let logger = Logger(label: "tailor")
        configure(threads: threads ?? env["TAILOR_THREADS"].flatMap(Int.init), logger: logger)
        return logger
    }

    static func configure(threads requested: Int?, logger: Logger) {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let n = max(1, requested ?? cores)
        KernelThreads.set(n)
        Blas.useKernelPool(threads: KernelThreads.count)
        // TAILOR_KERNELS=avx2 keeps the 8-bit products off VNNI (same results; for same-run comparisons).
        if ProcessInfo.processInfo.environment["TAILOR_KERNELS"] == "avx2" { tk_set_vnni(0) }
        logger.info("compute: \(n) threads (\(cores) cores), OpenBLAS core \(Blas.coreName) (thread timeout \(ProcessInfo.processInfo.environment["OPENBLAS_THREAD_TIMEOUT"] ?? "default")), single-threaded: products in \(Blas.poolBlocks) blocks on the kernel pool, AVX2 kernels \(tk_cpu_has_avx2_fma() != 0 ? "on" : "off"), VNNI \(tk_uses_vnni() != 0 ? "on" : "off"), AVX-512 \(tk_cpu_has_avx512f() != 0 ? "yes" : "no")")
    }
}
