// Random identifiers for every object the store creates (`proj_…`, `key_…`, `file-…`) and for API key secrets.
// Not a UUID: OpenAI-style ids are a prefix plus base62, and secrets need the same alphabet from a CSPRNG.

public enum IDGenerator {
    static let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)

    /// `prefix` followed by `length` base62 characters drawn from the system CSPRNG
    /// (getrandom on Linux). 24 characters carry ~143 bits, so collisions are not a concern.
    public static func make(prefix: String, length: Int = 24) -> String {
        // SystemRandomNumberGenerator is the OS CSPRNG; `random(in:using:)` rejects biased draws,
        // so every character is uniform over the 62 symbols.
        var generator = SystemRandomNumberGenerator()
        var characters = [UInt8]()
        characters.reserveCapacity(length)
        for _ in 0..<length {
            characters.append(alphabet[Int.random(in: 0..<alphabet.count, using: &generator)])
        }
        return prefix + String(decoding: characters, as: UTF8.self)
    }
}

/// The id prefixes, in one place so the API layer and the store agree.
public enum IDPrefix {
    public static let project = "proj_"
    public static let apiKey = "key_"
    public static let file = "file-"
    public static let upload = "upload_"
    public static let uploadPart = "part_"
    public static let secret = "sk-tailor-"
}
