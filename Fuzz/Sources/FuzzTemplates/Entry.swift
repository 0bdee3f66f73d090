
// SwiftPM links executables built with -enable-testing with `main` aliased to <Module>_main; this hands that entry
// point to libFuzzer's own driver, so the binary behaves exactly like a plain libFuzzer binary.
@_silgen_name("LLVMFuzzerRunDriver")
func llvmFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

@_cdecl("FuzzTemplates_main")
func fuzzerEntryPoint(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return llvmFuzzerRunDriver(&argc, &argv, fuzzerTestOneInput)
}

/// precondition() drops its message in release builds; the fuzz logs need it.
func require(_ condition: Bool, _ message: @autoclosure () -> String = "requirement failed",
             file: StaticString = #fileID, line: UInt = #line) {
    if !condition { fatalError(message(), file: file, line: line) }
}
