// Image references: "name[:tag][@digest]" as the user types them.
#include <algorithm>
#include <cctype>

#include "common/digest.h"
#include "common/strings.h"
#include "image/reference.h"
#include "image/store.h"

namespace berth::image {
namespace {

bool validPathComponent(std::string_view c) {
  // [a-z0-9]+ separated by '.', '_', '__' or '-'+ (the distribution spec's grammar).
  if (c.empty()) return false;
  auto alnum = [](char ch) { return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9'); };
  if (!alnum(c.front()) || !alnum(c.back())) return false;
  for (char ch : c)
    if (!alnum(ch) && ch != '.' && ch != '_' && ch != '-') return false;
  return true;
}

bool validHost(std::string_view h) {
  if (h.empty()) return false;
  for (char ch : h)
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '.' && ch != '-' && ch != ':' &&
        ch != '[' && ch != ']')
      return false;
  return true;
}

bool validTag(std::string_view t) {
  if (t.empty() || t.size() > 128 || t.front() == '.' || t.front() == '-') return false;
  for (char ch : t)
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '_' && ch != '.' && ch != '-')
      return false;
  return true;
}

}  // namespace

Result<Reference> parseReference(std::string_view ref) {
  auto bad = [&](const std::string& why) {
    return fail(ErrorCode::kInvalidArgument,
                "invalid image name \"" + std::string(ref) + "\": " + why);
  };
  if (ref.empty()) return bad("empty");
  Reference r;
  std::string rest(ref);
  if (auto at = rest.find('@'); at != std::string::npos) {
    r.digest = rest.substr(at + 1);
    rest.resize(at);
    if (!isValidDigest(r.digest)) return bad("bad digest");
  }
  auto slash = rest.rfind('/');
  auto colon = rest.rfind(':');
  if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) {
    r.tag = rest.substr(colon + 1);
    rest.resize(colon);
    if (!validTag(r.tag)) return bad("bad tag");
  }
  auto parts = str::split(rest, '/');
  size_t first = 0;
  if (parts.size() > 1 && (parts[0].find_first_of(".:") != std::string::npos ||
                           parts[0] == "localhost")) {
    if (!validHost(parts[0])) return bad("bad registry host");
    r.registry = parts[0];
    first = 1;
  }
  for (size_t i = first; i < parts.size(); ++i) {
    if (!validPathComponent(parts[i])) return bad("bad path component \"" + parts[i] + "\"");
    if (!r.repository.empty()) r.repository += '/';
    r.repository += parts[i];
  }
  if (r.repository.size() > 255) return bad("too long");
  if (r.tag.empty() && r.digest.empty()) r.tag = "latest";
  return r;
}

std::string Reference::name() const {
  return registry.empty() ? repository : registry + "/" + repository;
}

std::string Reference::str() const {
  std::string s = name();
  if (!tag.empty()) s += ":" + tag;
  if (!digest.empty()) s += "@" + digest;
  return s;
}

Result<std::string> normalizeName(std::string_view ref) {
  BERTH_ASSIGN(Reference r, parseReference(ref));
  return r.str();
}

}  // namespace berth::image
