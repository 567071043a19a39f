/// FNV-1a, 64 bits (Fowler, Noll and Vo): a fixed, portable hash of bytes, for seeds derived from names and for
/// comparing configurations across processes. Not for security.
public enum FNV1a {
    public static func hash<Bytes: Sequence>(_ bytes: Bytes) -> UInt64 where Bytes.Element == UInt8 {
        bytes.reduce(0xCBF2_9CE4_8422_2325 as UInt64) { ($0 ^ UInt64($1)) &* 0x100_0000_01B3 }
    }
}
