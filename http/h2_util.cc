#include "http/h2_util.h"

namespace berth::http::h2detail {

namespace {

bool dropOnH2(std::string_view lowerName) {
  return lowerName == "connection" || lowerName == "keep-alive" ||
         lowerName == "proxy-connection" || lowerName == "transfer-encoding" ||
         lowerName == "upgrade" || lowerName == "host" || lowerName == "content-length";
}

void copyFields(const Headers& from, std::vector<h2::HeaderField>& to, bool keepTe) {
  std::string name;
  for (const Header& h : from) {
    name.clear();
    appendLower(name, h.name);
    if (dropOnH2(name)) continue;
    if (name == "te") {
      if (keepTe && iequals(h.value, "trailers")) to.push_back({"te", "trailers"});
      continue;
    }
    to.push_back({name, h.value});
  }
}

}  // namespace

void appendLower(std::string& out, std::string_view name) {
  for (char c : name) out.push_back(c >= 'A' && c <= 'Z' ? char(c + 32) : c);
}

std::string fromRequestMessage(h2::Message m, Request& out) {
  out.clear();
  std::string_view authority;
  bool hasHost = false;
  for (auto& f : m.headers) {
    if (f.name == ":method") out.method = f.value;
    else if (f.name == ":path") out.target = f.value;
    else if (f.name == ":authority") authority = f.value;
    else if (f.name[0] == ':') continue;
    else {
      if (f.name == "host") hasHost = true;
      out.headers.add(f.name, f.value);
    }
  }
  if (out.method == "CONNECT") return "CONNECT is not supported";
  if (!hasHost && !authority.empty()) out.headers.add("host", authority);
  out.versionMinor = 1;
  out.keepAlive = true;
  out.contentLength = m.body.size();
  out.body = std::move(m.body);
  for (auto& f : m.trailers) out.trailers.add(f.name, f.value);
  return {};
}

std::vector<h2::HeaderField> trailerFields(const Headers& from) {
  std::vector<h2::HeaderField> out;
  for (const Header& h : from) {
    std::string n;
    appendLower(n, h.name);
    if (!dropOnH2(n) && n != "te") out.push_back({std::move(n), h.value});
  }
  return out;
}

h2::Message toResponseMessage(const Response& r, bool head, const BodySource* streamed) {
  h2::Message m;
  m.headers.reserve(r.headers.size() + 2);
  m.headers.push_back({":status", std::to_string(r.status)});
  copyFields(r.headers, m.headers, false);
  bool bodyAllowed = r.status >= 200 && r.status != 204 && r.status != 304;
  if (bodyAllowed && !head && streamed) {
    if (auto n = streamed->length()) m.headers.push_back({"content-length", std::to_string(*n)});
  } else if (bodyAllowed && !head) {
    m.headers.push_back({"content-length", std::to_string(r.body.size())});
    m.body = r.body;
  } else if (head) {
    // A HEAD answer keeps the length the resource would have had.
    if (const Header* cl = r.headers.find("content-length")) m.headers.push_back({"content-length", cl->value});
  }
  m.trailers = trailerFields(r.trailers);
  return m;
}

h2::Message toRequestMessage(const Request& r, std::string_view authority,
                             const BodySource* streamed) {
  h2::Message m;
  m.headers.reserve(r.headers.size() + 4);
  m.headers.push_back({":method", r.method});
  m.headers.push_back({":scheme", "http"});
  std::string_view host = r.headers.get("host");
  m.headers.push_back({":authority", std::string(host.empty() ? authority : host)});
  m.headers.push_back({":path", r.target.empty() ? std::string("/") : r.target});
  copyFields(r.headers, m.headers, true);
  if (streamed) {
    if (auto n = streamed->length()) m.headers.push_back({"content-length", std::to_string(*n)});
  } else {
    if (!r.body.empty() || r.method == "POST" || r.method == "PUT")
      m.headers.push_back({"content-length", std::to_string(r.body.size())});
    m.body = r.body;
  }
  m.trailers = trailerFields(r.trailers);
  return m;
}

Response fromResponseMessage(h2::Message m) {
  Response r;
  r.headers.clear();
  r.body.clear();
  for (auto& f : m.headers) {
    if (f.name == ":status") r.status = std::atoi(f.value.c_str());
    else if (f.name[0] != ':') r.headers.add(f.name, f.value);
  }
  r.body = std::move(m.body);
  for (auto& f : m.trailers) r.trailers.add(f.name, f.value);
  r.versionMinor = 1;
  r.keepAlive = true;
  return r;
}

}  // namespace berth::http::h2detail
