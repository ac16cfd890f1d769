// A small PNG reader for the screenshot test: 8-bit RGB or RGBA, not interlaced (what headless
// Chromium writes), with its own inflate (RFC 1951) so the test needs no image library.
// Header-only test support; not part of the library.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

namespace faultline::testing {

struct Image {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> rgb;  // width * height * 3

  const uint8_t* At(int x, int y) const { return &rgb[(static_cast<size_t>(y) * width + x) * 3]; }
};

namespace png_detail {

class BitReader {
 public:
  BitReader(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool failed() const { return failed_; }

  unsigned Bits(int n) {  // LSB first, as deflate packs them
    unsigned v = 0;
    for (int i = 0; i < n; ++i) v |= static_cast<unsigned>(Bit()) << i;
    return v;
  }
  int Bit() {
    if (pos_ >= size_) {
      failed_ = true;
      return 0;
    }
    int b = (data_[pos_] >> bit_) & 1;
    if (++bit_ == 8) {
      bit_ = 0;
      ++pos_;
    }
    return b;
  }
  void AlignToByte() {
    if (bit_ != 0) {
      bit_ = 0;
      ++pos_;
    }
  }
  bool Byte(uint8_t* out) {
    if (pos_ >= size_) return failed_ = true, false;
    *out = data_[pos_++];
    return true;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  int bit_ = 0;
  bool failed_ = false;
};

// A canonical Huffman code given by its code lengths: how many codes of each length, and the
// symbols in code order. Decoding walks the lengths one bit at a time.
struct Huffman {
  int count[16] = {};
  std::vector<int> symbols;

  explicit Huffman(const std::vector<int>& lengths) {
    for (int l : lengths) ++count[l];
    count[0] = 0;
    int offsets[16] = {};
    for (int l = 1; l < 16; ++l) offsets[l] = offsets[l - 1] + count[l - 1];
    symbols.assign(lengths.size(), 0);
    for (size_t s = 0; s < lengths.size(); ++s) {
      if (lengths[s] != 0) symbols[offsets[lengths[s]]++] = static_cast<int>(s);
    }
  }

  int Decode(BitReader& in) const {
    int code = 0, first = 0, index = 0;
    for (int len = 1; len < 16; ++len) {
      code |= in.Bit();
      int n = count[len];
      if (code - first < n) return symbols[index + (code - first)];
      index += n;
      first = (first + n) << 1;
      code <<= 1;
      if (in.failed()) return -1;
    }
    return -1;
  }
};

inline bool InflateBlock(BitReader& in, const Huffman& lit, const Huffman& dist,
                         std::vector<uint8_t>& out) {
  static const int kLenBase[] = {3,  4,  5,  6,  7,  8,  9,  10, 11,  13,  15,  17,  19,  23, 27,
                                 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
  static const int kLenExtra[] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                  2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
  static const int kDistBase[] = {1,    2,    3,    4,    5,    7,     9,     13,    17,  25,
                                  33,   49,   65,   97,   129,  193,   257,   385,   513, 769,
                                  1025, 1537, 2049, 3073, 4097, 6145,  8193,  12289, 16385, 24577};
  static const int kDistExtra[] = {0, 0, 0, 0, 1, 1, 2, 2,  3,  3,  4,  4,  5,  5,  6,
                                   6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};
  while (true) {
    int sym = lit.Decode(in);
    if (sym < 0 || in.failed()) return false;
    if (sym < 256) {
      out.push_back(static_cast<uint8_t>(sym));
    } else if (sym == 256) {
      return true;
    } else {
      sym -= 257;
      if (sym >= 29) return false;
      size_t len = kLenBase[sym] + in.Bits(kLenExtra[sym]);
      int d = dist.Decode(in);
      if (d < 0 || d >= 30) return false;
      size_t back = kDistBase[d] + in.Bits(kDistExtra[d]);
      if (back > out.size()) return false;
      size_t from = out.size() - back;
      for (size_t i = 0; i < len; ++i) out.push_back(out[from + i]);
    }
  }
}

inline bool Inflate(const uint8_t* data, size_t size, std::vector<uint8_t>& out) {
  BitReader in(data, size);
  bool last = false;
  while (!last) {
    last = in.Bit();
    int type = static_cast<int>(in.Bits(2));
    if (type == 0) {
      in.AlignToByte();
      uint8_t b[4];
      for (auto& x : b) {
        if (!in.Byte(&x)) return false;
      }
      unsigned len = b[0] | (b[1] << 8);
      unsigned nlen = b[2] | (b[3] << 8);
      if ((len ^ 0xFFFF) != nlen) return false;
      for (unsigned i = 0; i < len; ++i) {
        uint8_t x;
        if (!in.Byte(&x)) return false;
        out.push_back(x);
      }
    } else if (type == 1) {
      std::vector<int> lit(288), dist(30, 5);
      for (int i = 0; i < 288; ++i) lit[i] = i < 144 ? 8 : i < 256 ? 9 : i < 280 ? 7 : 8;
      if (!InflateBlock(in, Huffman(lit), Huffman(dist), out)) return false;
    } else if (type == 2) {
      int nlit = static_cast<int>(in.Bits(5)) + 257;
      int ndist = static_cast<int>(in.Bits(5)) + 1;
      int ncode = static_cast<int>(in.Bits(4)) + 4;
      static const int kOrder[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5,
                                     11, 4,  12, 3, 13, 2, 14, 1, 15};
      std::vector<int> code_lengths(19, 0);
      for (int i = 0; i < ncode; ++i) code_lengths[kOrder[i]] = static_cast<int>(in.Bits(3));
      Huffman code(code_lengths);
      std::vector<int> lengths;
      while (static_cast<int>(lengths.size()) < nlit + ndist) {
        int sym = code.Decode(in);
        if (sym < 0 || in.failed()) return false;
        if (sym < 16) {
          lengths.push_back(sym);
        } else if (sym == 16) {
          if (lengths.empty()) return false;
          int prev = lengths.back();
          for (unsigned n = 3 + in.Bits(2); n > 0; --n) lengths.push_back(prev);
        } else if (sym == 17) {
          for (unsigned n = 3 + in.Bits(3); n > 0; --n) lengths.push_back(0);
        } else {
          for (unsigned n = 11 + in.Bits(7); n > 0; --n) lengths.push_back(0);
        }
      }
      if (static_cast<int>(lengths.size()) != nlit + ndist) return false;
      std::vector<int> lit(lengths.begin(), lengths.begin() + nlit);
      std::vector<int> dist(lengths.begin() + nlit, lengths.end());
      if (!InflateBlock(in, Huffman(lit), Huffman(dist), out)) return false;
    } else {
      return false;
    }
    if (in.failed()) return false;
  }
  return true;
}

inline uint32_t BigEndian32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

}  // namespace png_detail

// Decodes a PNG file's bytes. On failure returns false and says why in *error.
inline bool DecodePng(const std::string& file, Image* image, std::string* error) {
  using namespace png_detail;
  const auto* p = reinterpret_cast<const uint8_t*>(file.data());
  static const uint8_t kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  if (file.size() < 8 || !std::equal(kSignature, kSignature + 8, p)) {
    *error = "not a PNG file";
    return false;
  }
  int width = 0, height = 0, channels = 0;
  std::vector<uint8_t> zdata;
  for (size_t pos = 8; pos + 12 <= file.size();) {
    uint32_t len = BigEndian32(p + pos);
    std::string type(file.data() + pos + 4, 4);
    if (pos + 12 + len > file.size()) {
      *error = "truncated chunk " + type;
      return false;
    }
    const uint8_t* body = p + pos + 8;
    if (type == "IHDR") {
      width = static_cast<int>(BigEndian32(body));
      height = static_cast<int>(BigEndian32(body + 4));
      int depth = body[8], colour = body[9], interlace = body[12];
      if (depth != 8 || (colour != 2 && colour != 6) || interlace != 0) {
        *error = "unsupported PNG: depth " + std::to_string(depth) + ", colour type " +
                 std::to_string(colour) + ", interlace " + std::to_string(interlace);
        return false;
      }
      channels = colour == 2 ? 3 : 4;
    } else if (type == "IDAT") {
      zdata.insert(zdata.end(), body, body + len);
    } else if (type == "IEND") {
      break;
    }
    pos += 12 + len;
  }
  if (channels == 0 || zdata.size() < 6) {
    *error = "no image header or data";
    return false;
  }
  // zlib wrapper: CMF/FLG, then deflate data, then an Adler-32 of the result.
  if ((zdata[0] & 0x0F) != 8 || ((zdata[0] << 8) | zdata[1]) % 31 != 0 || (zdata[1] & 0x20)) {
    *error = "bad zlib header";
    return false;
  }
  std::vector<uint8_t> raw;
  if (!Inflate(zdata.data() + 2, zdata.size() - 6, raw)) {
    *error = "corrupt deflate stream";
    return false;
  }
  uint32_t a = 1, b = 0;
  for (uint8_t x : raw) {
    a = (a + x) % 65521;
    b = (b + a) % 65521;
  }
  if (((b << 16) | a) != BigEndian32(zdata.data() + zdata.size() - 4)) {
    *error = "Adler-32 mismatch";
    return false;
  }
  size_t stride = static_cast<size_t>(width) * channels;
  if (raw.size() != (stride + 1) * height) {
    *error = "image data has the wrong size";
    return false;
  }
  std::vector<uint8_t> pixels(stride * height);
  for (int y = 0; y < height; ++y) {
    uint8_t filter = raw[y * (stride + 1)];
    const uint8_t* src = &raw[y * (stride + 1) + 1];
    uint8_t* row = &pixels[y * stride];
    const uint8_t* up = y > 0 ? &pixels[(y - 1) * stride] : nullptr;
    for (size_t i = 0; i < stride; ++i) {
      int left = i >= static_cast<size_t>(channels) ? row[i - channels] : 0;
      int above = up ? up[i] : 0;
      int corner = (up && i >= static_cast<size_t>(channels)) ? up[i - channels] : 0;
      int predicted;
      switch (filter) {
        case 0: predicted = 0; break;
        case 1: predicted = left; break;
        case 2: predicted = above; break;
        case 3: predicted = (left + above) / 2; break;
        case 4: {
          int est = left + above - corner;
          int pa = std::abs(est - left), pb = std::abs(est - above), pc = std::abs(est - corner);
          predicted = (pa <= pb && pa <= pc) ? left : (pb <= pc ? above : corner);
          break;
        }
        default:
          *error = "bad filter type " + std::to_string(filter);
          return false;
      }
      row[i] = static_cast<uint8_t>(src[i] + predicted);
    }
  }
  image->width = width;
  image->height = height;
  image->rgb.resize(static_cast<size_t>(width) * height * 3);
  for (size_t k = 0; k < static_cast<size_t>(width) * height; ++k) {
    for (int c = 0; c < 3; ++c) image->rgb[k * 3 + c] = pixels[k * channels + c];
  }
  return true;
}

}  // namespace faultline::testing
