import CPNG

public enum PNGError: Error, Sendable, Equatable {
    /// Refused before libpng was called; the string says which check failed.
    case invalidFrame(String)
    /// libpng reported a failure; the string is its own message.
    case libpng(String)
}

/// Frames to and from 8-bit RGB PNG files, for screenshots and golden-image tests.
///
/// Only libpng's simplified API (`png_image_*`) is used: the classic API reports errors by
/// longjmp, which would unwind straight through Swift frames. The simplified API catches its
/// own longjmp internally and returns 0 with a message in the `png_image`, so every call
/// here returns normally. Inputs are still validated first so the messages a caller sees
/// are ours and precise.
public enum PNGWriter {
    /// libpng's default read limits (PNG_USER_WIDTH_MAX / PNG_USER_HEIGHT_MAX): a frame
    /// larger than this would encode to a PNG libpng itself refuses to read back.
    static let maxDimension = 1_000_000
    /// Upper bound on a decoded image, so a corrupt or hostile header cannot make decode
    /// allocate gigabytes. 8192 × 8192 covers any mode fakedrm offers.
    static let maxDecodedPixels = 1 << 26

    public static func encode(_ frame: Frame) throws(PNGError) -> [UInt8] {
        let rgb = try rgbBytes(frame)
        var image = makeImage(width: frame.width, height: frame.height)
        let stride = Int32(frame.width * 3)

        // First pass with no buffer asks libpng for the exact size; the second writes.
        var size = 0
        let sized = rgb.withUnsafeBytes {
            png_image_write_to_memory(&image, nil, &size, 0, $0.baseAddress, stride, nil)
        }
        guard sized != 0, size > 0 else { throw PNGError.libpng(message(&image)) }

        var encoded = [UInt8](repeating: 0, count: size)
        var written = size
        let ok = encoded.withUnsafeMutableBytes { out in
            rgb.withUnsafeBytes {
                png_image_write_to_memory(&image, out.baseAddress, &written, 0, $0.baseAddress, stride, nil)
            }
        }
        guard ok != 0, written <= size else { throw PNGError.libpng(message(&image)) }
        encoded.removeLast(size - written)
        return encoded
    }

    public static func write(_ frame: Frame, to path: String) throws(PNGError) {
        let rgb = try rgbBytes(frame)
        var image = makeImage(width: frame.width, height: frame.height)
        // libpng removes the file itself when a write fails, so no half-written PNG remains.
        let ok = rgb.withUnsafeBytes {
            png_image_write_to_file(&image, path, 0, $0.baseAddress, Int32(frame.width * 3), nil)
        }
        guard ok != 0 else { throw PNGError.libpng(message(&image)) }
    }

    /// Reads any PNG libpng understands as an opaque frame. Images with alpha are composited
    /// onto black, matching how scanout shows them.
    public static func decode(path: String) throws(PNGError) -> Frame {
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        // Safe whether or not begin succeeded: libpng frees on error and nils `opaque`.
        defer { png_image_free(&image) }
        guard png_image_begin_read_from_file(&image, path) != 0 else {
            throw PNGError.libpng(message(&image))
        }
        let width = Int(image.width)
        let height = Int(image.height)
        guard width > 0, height > 0, width <= maxDimension, height <= maxDimension,
            width * height <= maxDecodedPixels
        else { throw PNGError.invalidFrame("\(path): \(width)x\(height) is outside the decodable size") }

        image.format = UInt32(PNG_FORMAT_RGB)
        // Zero-filled because libpng composites any alpha onto what the buffer holds.
        var rgb = [UInt8](repeating: 0, count: width * height * 3)
        let ok = rgb.withUnsafeMutableBytes {
            png_image_finish_read(&image, nil, $0.baseAddress, Int32(width * 3), nil)
        }
        guard ok != 0 else { throw PNGError.libpng(message(&image)) }

        let pixels = [UInt32](unsafeUninitializedCapacity: width * height) { out, initialized in
            for i in 0..<(width * height) {
                out[i] = 0xff00_0000 | UInt32(rgb[3 * i]) << 16 | UInt32(rgb[3 * i + 1]) << 8 | UInt32(rgb[3 * i + 2])
            }
            initialized = width * height
        }
        return Frame(width: width, height: height, pixels: pixels)
    }

    // MARK: - Helpers

    private static func makeImage(width: Int, height: Int) -> png_image {
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        image.width = UInt32(width)
        image.height = UInt32(height)
        image.format = UInt32(PNG_FORMAT_RGB)
        return image
    }

    /// Checks everything libpng would otherwise reject mid-write, then packs R, G, B bytes.
    private static func rgbBytes(_ frame: Frame) throws(PNGError) -> [UInt8] {
        guard frame.width > 0, frame.height > 0 else {
            throw PNGError.invalidFrame("empty frame \(frame.width)x\(frame.height)")
        }
        guard frame.width <= maxDimension, frame.height <= maxDimension else {
            throw PNGError.invalidFrame("frame \(frame.width)x\(frame.height) exceeds \(maxDimension) per side")
        }
        let count = frame.width * frame.height
        guard frame.pixels.count == count else {
            throw PNGError.invalidFrame(
                "frame \(frame.width)x\(frame.height) needs \(count) pixels, has \(frame.pixels.count)")
        }
        return [UInt8](unsafeUninitializedCapacity: count * 3) { out, initialized in
            frame.pixels.withUnsafeBufferPointer { pixels in
                for i in 0..<count {
                    let p = pixels[i]
                    out[3 * i] = UInt8(truncatingIfNeeded: p >> 16)
                    out[3 * i + 1] = UInt8(truncatingIfNeeded: p >> 8)
                    out[3 * i + 2] = UInt8(truncatingIfNeeded: p)
                }
            }
            initialized = count * 3
        }
    }

    private static func message(_ image: inout png_image) -> String {
        let text = withUnsafeBytes(of: &image.message) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        return text.isEmpty ? "libpng failed without a message" : text
    }
}
