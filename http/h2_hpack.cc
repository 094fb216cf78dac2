// HPACK (RFC 7541). The Huffman code is canonical (codes of one length are consecutive and
// ordered by symbol, shorter lengths first), so it is fully given by the bit length of each
// symbol (Appendix B); codes are derived from the lengths at start-up and checked against the
// appendix's hex column in h2_test.cc.

#include "http/h2_hpack.h"

#include <array>

namespace berth::http::h2 {

namespace {

// RFC 7541 Appendix B: code length in bits of symbols 0..255 and EOS (256).
constexpr uint8_t kHuffmanBits[257] = {
    13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28,  // 0-15
    28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,  // 16-31
    6,  10, 10, 12, 13, 6,  8,  11, 10, 10, 8,  11, 8,  6,  6,  6,   // 32-47  ' '..'/'
    5,  5,  5,  6,  6,  6,  6,  6,  6,  6,  7,  8,  15, 6,  12, 10,  // 48-63  '0'..'?'
    13, 6,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,   // 64-79  '@'..'O'
    7,  7,  7,  7,  7,  7,  7,  7,  8,  7,  8,  13, 19, 13, 14, 6,   // 80-95  'P'..'_'
    15, 5,  6,  5,  6,  5,  6,  6,  6,  5,  7,  7,  6,  6,  6,  5,   // 96-111 '`'..'o'
    6,  7,  6,  5,  5,  6,  7,  7,  7,  7,  7,  15, 11, 14, 13, 28,  // 112-127 'p'..DEL
    20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23,  // 128-143
    24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,  // 144-159
    22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23,  // 160-175
    21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,  // 176-191
    26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25,  // 192-207
    19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,  // 208-223
    20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23,  // 224-239
    26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,  // 240-255
    30,                                                              // EOS
};

struct Huffman {
  std::array<HuffmanCode, 257> codes{};
  // Canonical decoding: for each length L, the first code of that length, how many codes
  // have it, and where its symbols start in `sorted`.
  std::array<uint32_t, 31> first{}, count{}, offset{};
  std::array<uint16_t, 257> sorted{};

  Huffman() {
    uint32_t code = 0;
    size_t n = 0;
    for (int len = 1; len <= 30; ++len) {
      first[len] = code;
      offset[len] = uint32_t(n);
      for (int s = 0; s < 257; ++s) {
        if (kHuffmanBits[s] != len) continue;
        codes[s] = {code, uint8_t(len)};
        sorted[n++] = uint16_t(s);
        ++code;
        ++count[len];
      }
      code <<= 1;
    }
  }
};

const Huffman& huffman() {
  static const Huffman h;
  return h;
}

const HeaderField kStatic[kStaticTableSize] = {
    {":authority", ""},
    {":method", "GET"},
    {":method", "POST"},
    {":path", "/"},
    {":path", "/index.html"},
    {":scheme", "http"},
    {":scheme", "https"},
    {":status", "200"},
    {":status", "204"},
    {":status", "206"},
    {":status", "304"},
    {":status", "400"},
    {":status", "404"},
    {":status", "500"},
    {"accept-charset", ""},
    {"accept-encoding", "gzip, deflate"},
    {"accept-language", ""},
    {"accept-ranges", ""},
    {"accept", ""},
    {"access-control-allow-origin", ""},
    {"age", ""},
    {"allow", ""},
    {"authorization", ""},
    {"cache-control", ""},
    {"content-disposition", ""},
    {"content-encoding", ""},
    {"content-language", ""},
    {"content-length", ""},
    {"content-location", ""},
    {"content-range", ""},
    {"content-type", ""},
    {"cookie", ""},
    {"date", ""},
    {"etag", ""},
    {"expect", ""},
    {"expires", ""},
    {"from", ""},
    {"host", ""},
    {"if-match", ""},
    {"if-modified-since", ""},
    {"if-none-match", ""},
    {"if-range", ""},
    {"if-unmodified-since", ""},
    {"last-modified", ""},
    {"link", ""},
    {"location", ""},
    {"max-forwards", ""},
    {"proxy-authenticate", ""},
    {"proxy-authorization", ""},
    {"range", ""},
    {"referer", ""},
    {"refresh", ""},
    {"retry-after", ""},
    {"server", ""},
    {"set-cookie", ""},
    {"strict-transport-security", ""},
    {"transfer-encoding", ""},
    {"user-agent", ""},
    {"vary", ""},
    {"via", ""},
    {"www-authenticate", ""},
};

tl::unexpected<Error> corrupt(const char* what) {
  return fail(ErrorCode::kCorrupt, std::string("hpack: ") + what);
}

// Integer with an N-bit prefix; at most 2^32 (no legitimate value is larger).
bool readInteger(const uint8_t*& p, const uint8_t* end, int prefixBits, uint64_t& v) {
  if (p >= end) return false;
  uint64_t max = (1u << prefixBits) - 1;
  v = *p++ & max;
  if (v < max) return true;
  int shift = 0;
  for (;;) {
    if (p >= end || shift > 28) return false;
    uint8_t b = *p++;
    v += uint64_t(b & 0x7f) << shift;
    shift += 7;
    if (!(b & 0x80)) break;
  }
  return v <= 0xffffffffull;
}

Result<void> readString(const uint8_t*& p, const uint8_t* end, std::string& out) {
  if (p >= end) return corrupt("truncated string");
  bool huff = *p & 0x80;
  uint64_t len;
  if (!readInteger(p, end, 7, len)) return corrupt("bad string length");
  if (len > uint64_t(end - p)) return corrupt("string past the end of the block");
  std::string_view s(reinterpret_cast<const char*>(p), size_t(len));
  p += len;
  out.clear();
  if (!huff) {
    out.assign(s);
    return {};
  }
  return huffmanDecode(s, out);
}

}  // namespace

HuffmanCode huffmanCode(int symbol) { return huffman().codes[size_t(symbol)]; }

Result<void> huffmanDecode(std::string_view in, std::string& out) {
  const Huffman& h = huffman();
  uint32_t code = 0;
  int len = 0;
  for (unsigned char c : in) {
    for (int bit = 7; bit >= 0; --bit) {
      code = (code << 1) | ((c >> bit) & 1u);
      ++len;
      if (len > 30) return corrupt("bad huffman code");
      uint32_t idx = code - h.first[len];
      if (code >= h.first[len] && idx < h.count[len]) {
        uint16_t sym = h.sorted[h.offset[len] + idx];
        if (sym == 256) return corrupt("EOS in huffman string");
        out.push_back(char(sym));
        code = 0;
        len = 0;
      }
    }
  }
  // Padding: the most significant bits of EOS (all ones), strictly shorter than 8 bits.
  if (len > 7) return corrupt("huffman padding longer than 7 bits");
  if (code != (1u << len) - 1) return corrupt("huffman padding not EOS");
  return {};
}

void huffmanEncode(std::string_view in, std::string& out) {
  const Huffman& h = huffman();
  uint64_t acc = 0;
  int bits = 0;
  for (unsigned char c : in) {
    const HuffmanCode& hc = h.codes[c];
    acc = (acc << hc.bits) | hc.code;
    bits += hc.bits;
    while (bits >= 8) {
      bits -= 8;
      out.push_back(char(acc >> bits));
    }
  }
  if (bits > 0) out.push_back(char((acc << (8 - bits)) | ((1u << (8 - bits)) - 1)));
}

void appendInteger(std::string& out, uint64_t value, int prefixBits, uint8_t firstByteBits) {
  uint64_t max = (1u << prefixBits) - 1;
  if (value < max) {
    out.push_back(char(firstByteBits | value));
    return;
  }
  out.push_back(char(firstByteBits | max));
  value -= max;
  while (value >= 128) {
    out.push_back(char((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out.push_back(char(value));
}

const HeaderField& staticEntry(size_t index) { return kStatic[index - 1]; }

void DynamicTable::add(std::string_view name, std::string_view value) {
  size_t sz = name.size() + value.size() + 32;
  if (sz > maxSize_) {  // RFC 7541 4.4: an entry larger than the table empties it
    entries_.clear();
    size_ = 0;
    return;
  }
  size_ += sz;
  entries_.push_front({std::string(name), std::string(value)});
  evict();
}

void DynamicTable::setMaxSize(size_t n) {
  maxSize_ = n;
  evict();
}

void DynamicTable::evict() {
  while (size_ > maxSize_ && !entries_.empty()) {
    size_ -= entries_.back().name.size() + entries_.back().value.size() + 32;
    entries_.pop_back();
  }
}

Result<void> HpackDecoder::decode(std::string_view block, std::vector<HeaderField>& out,
                                  size_t maxListSize, bool* tooLarge) {
  const auto* p = reinterpret_cast<const uint8_t*>(block.data());
  const auto* end = p + block.size();
  size_t listSize = 0;
  bool sawField = false;
  std::string name, value;
  auto emit = [&](std::string_view n, std::string_view v) {
    listSize += n.size() + v.size() + 32;
    if (listSize > maxListSize) {
      if (tooLarge) *tooLarge = true;
      return;
    }
    out.push_back({std::string(n), std::string(v)});
  };
  auto lookup = [&](uint64_t idx) -> const HeaderField* {
    if (idx == 0) return nullptr;
    if (idx <= kStaticTableSize) return &kStatic[idx - 1];
    idx -= kStaticTableSize + 1;
    if (idx >= table_.count()) return nullptr;
    return &table_.at(size_t(idx));
  };
  while (p < end) {
    uint8_t b = *p;
    uint64_t idx;
    if (b & 0x80) {  // 6.1 indexed field
      if (!readInteger(p, end, 7, idx)) return corrupt("bad index");
      const HeaderField* f = lookup(idx);
      if (!f) return corrupt("index out of range");
      emit(f->name, f->value);
      sawField = true;
      continue;
    }
    if ((b & 0xe0) == 0x20) {  // 6.3 dynamic table size update
      if (sawField) return corrupt("table size update after a field");
      if (!readInteger(p, end, 5, idx)) return corrupt("bad table size");
      if (idx > limit_) return corrupt("table size update above the advertised limit");
      table_.setMaxSize(size_t(idx));
      continue;
    }
    // 6.2 literals: with incremental indexing (01), without (0000), never indexed (0001).
    bool index = (b & 0xc0) == 0x40;
    int prefix = index ? 6 : 4;
    if (!readInteger(p, end, prefix, idx)) return corrupt("bad name index");
    if (idx == 0) {
      BERTH_TRY(readString(p, end, name));
    } else {
      const HeaderField* f = lookup(idx);
      if (!f) return corrupt("name index out of range");
      name = f->name;
    }
    BERTH_TRY(readString(p, end, value));
    emit(name, value);
    if (index) table_.add(name, value);
    sawField = true;
  }
  return {};
}

void HpackEncoder::setPeerMaxTableSize(size_t n) {
  size_t want = std::min<size_t>(n, 4096);
  if (want == table_.maxSize() && !sizeUpdate_) return;
  pendingSize_ = want;
  sizeUpdate_ = true;
}

void HpackEncoder::begin(std::string& out) {
  if (!sizeUpdate_) return;
  table_.setMaxSize(pendingSize_);
  appendInteger(out, pendingSize_, 5, 0x20);
  sizeUpdate_ = false;
}

void HpackEncoder::encode(std::string_view name, std::string_view value, std::string& out,
                          bool sensitive) {
  size_t nameIdx = 0;
  for (size_t i = 0; i < kStaticTableSize; ++i) {
    if (kStatic[i].name != name) continue;
    if (!sensitive && kStatic[i].value == value) {
      appendInteger(out, i + 1, 7, 0x80);
      return;
    }
    if (!nameIdx) nameIdx = i + 1;
  }
  for (size_t i = 0; i < table_.count(); ++i) {
    const HeaderField& f = table_.at(i);
    if (f.name != name) continue;
    if (!sensitive && f.value == value) {
      appendInteger(out, kStaticTableSize + 1 + i, 7, 0x80);
      return;
    }
    if (!nameIdx) nameIdx = kStaticTableSize + 1 + i;
  }
  // Index what is likely to repeat; never index secrets or large values.
  bool index = !sensitive && name.size() + value.size() + 32 <= table_.maxSize() / 4;
  if (sensitive) appendInteger(out, nameIdx, 4, 0x10);
  else if (index) appendInteger(out, nameIdx, 6, 0x40);
  else appendInteger(out, nameIdx, 4, 0x00);
  if (!nameIdx) {
    appendInteger(out, name.size(), 7, 0);
    out.append(name);
  }
  appendInteger(out, value.size(), 7, 0);
  out.append(value);
  if (index) table_.add(name, value);
}

}  // namespace berth::http::h2
