// The GGUF and safetensors loaders on mutated files (seeds: tiny valid files, see Fuzz/make_seeds.py).
// GGUF: GGUFFile, then what Tailor reads from it — the tokenizer vocabulary, the Llama configuration and the
// weights — and one byte at each end of every tensor (a tensor past the end of the mapping would fault).
// safetensors: SafeTensorsFile, then every tensor as a weight matrix, touched at both ends.
// spiece.model: the SentencePiece (Unigram) model reader, then encoding and decoding with what it read.
// Checks: no crash, no huge allocation (-rss_limit_mb / -malloc_limit_mb): sizes read from the file must be checked
// against the file before anything is allocated or mapped for them.
//
// Input layout: byte 0, bit 1 set: spiece.model; else its low bit: 0 = GGUF, 1 = safetensors; the rest is the file.
import FuzzSupport
import Foundation
@testable import TailorEngine

let path = NSTemporaryDirectory() + "/tailor-fuzz-model-\(getpid())"

nonisolated(unsafe) var sink: UInt8 = 0

func touch(_ base: UnsafeRawPointer, _ count: Int) {
    guard count > 0 else { return }
    sink &+= base.load(as: UInt8.self) &+ base.load(fromByteOffset: count - 1, as: UInt8.self)
}

func gguf() {
    guard let file = try? GGUFFile(path: path) else { return }
    for name in file.tensorNames {
        guard let t = file.tensors[name] else { continue }
        require(t.fileOffset >= 0 && t.byteCount >= 0 && t.fileOffset + t.byteCount <= file.file.count, "tensor \(name) outside the file")
        touch(file.bytes(of: t), t.byteCount)
    }
    if let tokenizer = try? Tokenizer(gguf: file) {
        let ids = tokenizer.encode("Hello <|im_start|> wörld 123", addSpecial: true)
        _ = tokenizer.decode(ids)
    }
    if let config = try? file.llamaConfig(), let weights = try? file.llamaWeights(config: config) {
        _ = weights
    }
}

func safetensors() {
    guard let file = try? SafeTensorsFile(path: path) else { return }
    for (name, info) in file.tensors {
        require(info.byteRange.lowerBound >= 8 && info.byteRange.upperBound <= file.file.count, "tensor \(name) outside the file")
        if let weight = try? file.weight(info) {
            touch(weight.data, info.byteRange.count)
        }
    }
}

func sentencePieceModel() {
    guard let tokenizer = try? Tokenizer(sentencePieceModel: path, extraIDs: 2) else { return }
    let ids = tokenizer.encode("Hello <extra_id_0> w\u{f6}rld  \t\n\u{ff21}\u{2603} 123", addSpecial: true)
    require(ids.allSatisfy { (0..<tokenizer.vocabularySize).contains($0) }, "spiece.model: an id out of range")
    _ = tokenizer.decode(ids)
    _ = tokenizer.decode(ids, skipSpecial: true)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard size > 0, let data else { return 0 }
    FileManager.default.createFile(atPath: path, contents: Data(bytes: data + 1, count: size - 1))
    defer { unlink(path) }
    if data[0] & 2 != 0 { sentencePieceModel() } else if data[0] & 1 == 0 { gguf() } else { safetensors() }
    return 0
}
