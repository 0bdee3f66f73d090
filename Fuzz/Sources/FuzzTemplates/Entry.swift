// SwiftPM links executables built with -enable-testing with `main` aliased to <Module>_main; this one hands it to
// libFuzzer's driver (see FuzzSupport).
import FuzzSupport

@_cdecl("FuzzTemplates_main")
func fuzzerEntryPoint(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc, argv, fuzzerTestOneInput)
}
