#include "http/message.h"

#include <time.h>

#include <cstring>

namespace berth::http {

namespace {
inline unsigned char lower(unsigned char c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; }
}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(static_cast<unsigned char>(a[i])) != lower(static_cast<unsigned char>(b[i])))
      return false;
  }
  return true;
}

const Header* Headers::find(std::string_view name) const {
  for (size_t i = 0; i < size_; ++i) {
    if (iequals(items_[i].name, name)) return &items_[i];
  }
  return nullptr;
}

std::string_view Headers::get(std::string_view name, std::string_view def) const {
  const Header* h = find(name);
  return h ? std::string_view(h->value) : def;
}

size_t Headers::count(std::string_view name) const {
  size_t n = 0;
  for (size_t i = 0; i < size_; ++i) n += iequals(items_[i].name, name);
  return n;
}

void Headers::add(std::string_view name, std::string_view value) {
  if (size_ < items_.size()) {
    items_[size_].name.assign(name);
    items_[size_].value.assign(value);
  } else {
    items_.push_back(Header{std::string(name), std::string(value)});
  }
  ++size_;
}

void Headers::set(std::string_view name, std::string_view value) {
  remove(name);
  add(name, value);
}

size_t Headers::remove(std::string_view name) {
  size_t out = 0, removed = 0;
  for (size_t i = 0; i < size_; ++i) {
    if (iequals(items_[i].name, name)) {
      ++removed;
      continue;
    }
    if (out != i) std::swap(items_[out], items_[i]);
    ++out;
  }
  size_ = out;
  return removed;
}

std::string_view Request::path() const {
  std::string_view t(target);
  size_t q = t.find('?');
  return q == std::string_view::npos ? t : t.substr(0, q);
}

std::string_view Request::query() const {
  std::string_view t(target);
  size_t q = t.find('?');
  return q == std::string_view::npos ? std::string_view() : t.substr(q + 1);
}

void Request::clear() {
  method.clear();
  target.clear();
  versionMinor = 1;
  headers.clear();
  body.clear();
  bodySource.reset();
  trailers.clear();
  contentLength.reset();
  chunked = false;
  keepAlive = true;
  expectContinue = false;
}

Response::Response(int s, std::string b, std::string_view contentType)
    : status(s), body(std::move(b)) {
  if (!contentType.empty()) headers.add("Content-Type", contentType);
}

Response Response::json(int status, std::string body) {
  return Response(status, std::move(body), "application/json");
}

void Response::clear() {
  status = 200;
  headers.clear();
  body.clear();
  bodySource.reset();
  trailers.clear();
  versionMinor = 1;
  keepAlive = true;
}

std::string_view reasonPhrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

std::string_view httpDate() {
  thread_local time_t cachedSecond = 0;
  thread_local char buf[40];
  thread_local size_t len = 0;
  time_t now = ::time(nullptr);
  if (now != cachedSecond) {
    struct tm tm;
    ::gmtime_r(&now, &tm);
    len = ::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    cachedSecond = now;
  }
  return std::string_view(buf, len);
}

}  // namespace berth::http
