// What every harness shares: handing SwiftPM's entry point to libFuzzer's driver, and a check that keeps its
// message in release builds. Each harness's Entry.swift only names its own `<Module>_main` symbol.

@_silgen_name("LLVMFuzzerRunDriver")
func llvmFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

/// Runs libFuzzer's own driver with the process's arguments, so the binary behaves like a plain libFuzzer binary.
public func runLibFuzzer(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                         _ testOneInput: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt {
    var argc = argc
    var argv = argv
    return llvmFuzzerRunDriver(&argc, &argv, testOneInput)
}

/// precondition() drops its message in release builds; the fuzz logs need it.
public func require(_ condition: Bool, _ message: @autoclosure () -> String = "requirement failed",
                    file: StaticString = #fileID, line: UInt = #line) {
    if !condition { fatalError(message(), file: file, line: line) }
}
