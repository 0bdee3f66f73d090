// Process-wide compute set-up, decided once at start: which OpenBLAS kernels, how many BLAS and kernel threads.
// OpenBLAS reads OPENBLAS_CORETYPE when the library loads, so choosing kernels means re-executing ourselves.
import CKernels
import Foundation
import Logging
import TailorEngine

enum CPURuntime {
    /// Debian's OpenBLAS 0.3.21 does not recognise Sapphire Rapids and falls back to Haswell kernels; on a CPU with
    /// AVX-512 the SkylakeX kernels measured ~1.6× faster sgemm. Re-exec once with the variable set, unless the user
    /// set it (or TAILOR_NO_REEXEC) already.
    static func reexecForBestBLASKernelsIfNeeded() {
        let env = ProcessInfo.processInfo.environment
        guard env["OPENBLAS_CORETYPE"] == nil, env["TAILOR_NO_REEXEC"] == nil, tk_cpu_has_avx512f() != 0 else { return }
        let core = Blas.coreName.lowercased()
        guard core.contains("haswell") || core.contains("zen") || core.contains("prescott") else { return }
        setenv("OPENBLAS_CORETYPE", "SkylakeX", 1)
        setenv("TAILOR_NO_REEXEC", "1", 1)
        let args = CommandLine.arguments.map { strdup($0) } + [nil]
        execv("/proc/self/exe", args)
        // execv returns only on failure: carry on with the kernels we have.
    }

    /// Threads for BLAS and for Tailor's own kernels: all cores, one region at a time (never both at once).
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
        Blas.setThreads(n)
        KernelThreads.set(n)
        // TAILOR_KERNELS=avx2 keeps the 8-bit products off VNNI (same results; for same-run comparisons).
        if ProcessInfo.processInfo.environment["TAILOR_KERNELS"] == "avx2" { tk_set_vnni(0) }
        logger.info("compute: \(n) threads (\(cores) cores), OpenBLAS core \(Blas.coreName), AVX2 kernels \(tk_cpu_has_avx2_fma() != 0 ? "on" : "off"), VNNI \(tk_uses_vnni() != 0 ? "on" : "off"), AVX-512 \(tk_cpu_has_avx512f() != 0 ? "yes" : "no")")
    }
}
