#pragma once
/// HPACK (RFC 7541): the header compression of HTTP/2. The decoder handles every
/// representation (indexed, literal with/without/never indexing, table size updates), the
/// static and dynamic tables and Huffman-coded strings; the encoder uses the tables and plain
/// (non-Huffman) literals. One decoder and one encoder per connection direction; not
/// thread-safe.

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace berth::http::h2 {

/// One header field as carried by HTTP/2 (names are lower case on the wire).
struct HeaderField {
  std::string name;
  std::string value;
  bool operator==(const HeaderField&) const = default;
};

/// Huffman-decode `in` (RFC 7541 5.2 / Appendix B) and append to `out`. Errors (kCorrupt):
/// an EOS symbol, padding longer than 7 bits or not all ones.
Result<void> huffmanDecode(std::string_view in, std::string& out);
/// Huffman-encode (used by tests and available to callers that want the smaller form).
void huffmanEncode(std::string_view in, std::string& out);
/// Code and bit length of a symbol (0..256) of the canonical code, for tests.
struct HuffmanCode {
  uint32_t code;
  uint8_t bits;
};
HuffmanCode huffmanCode(int symbol);

/// Integer with an N-bit prefix (RFC 7541 5.1): append, with `firstByteBits` or'ed into the
/// first byte.
void appendInteger(std::string& out, uint64_t value, int prefixBits, uint8_t firstByteBits);

/// The dynamic table (RFC 7541 2.3.2, 4): newest first; entry size = name + value + 32.
class DynamicTable {
 public:
  explicit DynamicTable(size_t maxSize = 4096) : maxSize_(maxSize) {}
  void add(std::string_view name, std::string_view value);
  void setMaxSize(size_t n);
  size_t maxSize() const { return maxSize_; }
  size_t size() const { return size_; }
  size_t count() const { return entries_.size(); }
  /// 0-based from the newest.
  const HeaderField& at(size_t i) const { return entries_[i]; }

 private:
  void evict();
  std::deque<HeaderField> entries_;
  size_t size_ = 0;
  size_t maxSize_;
};

class HpackDecoder {
 public:
  /// `maxTableSize`: the SETTINGS_HEADER_TABLE_SIZE this side advertised (the most the peer's
  /// encoder may use).
  explicit HpackDecoder(size_t maxTableSize = 4096) : limit_(maxTableSize), table_(maxTableSize) {}
  /// Decode one complete header block, appending the fields to `out`. Fields past
  /// `maxListSize` (RFC 9113 SETTINGS_MAX_HEADER_LIST_SIZE accounting: name + value + 32) are
  /// decoded (to keep the table in step) but not appended, and `*tooLarge` is set.
  /// Errors (kCorrupt, "hpack: ..."): any malformed representation; the connection must then
  /// end with COMPRESSION_ERROR.
  Result<void> decode(std::string_view block, std::vector<HeaderField>& out,
                      size_t maxListSize = SIZE_MAX, bool* tooLarge = nullptr);
  const DynamicTable& table() const { return table_; }

 private:
  size_t limit_;
  DynamicTable table_;
};

class HpackEncoder {
 public:
  /// The peer's SETTINGS_HEADER_TABLE_SIZE; the encoder uses at most min(it, 4096) and
  /// signals a change at the start of the next block.
  void setPeerMaxTableSize(size_t n);
  /// Start a header block (emits a pending table size update).
  void begin(std::string& out);
  /// Encode one field; `name` must be lower case. `sensitive` fields are never indexed.
  void encode(std::string_view name, std::string_view value, std::string& out,
              bool sensitive = false);
  const DynamicTable& table() const { return table_; }

 private:
  DynamicTable table_{4096};
  size_t pendingSize_ = 0;
  bool sizeUpdate_ = false;
};

/// The static table (RFC 7541 Appendix A), index 1..61.
inline constexpr size_t kStaticTableSize = 61;
const HeaderField& staticEntry(size_t index);

}  // namespace berth::http::h2
