#pragma once
/// Error and Result<T>: the one way berth reports failure across layers (no exceptions).
///
/// An Error carries a code (an errno value, or one of ErrorCode for non-system failures)
/// and a message built as a chain of context, outermost first:
///   "mount /proc: openat2 rootfs/proc: Too many levels of symbolic links"
/// Use `err.context("mount /proc")` when passing an error up.

#include <cerrno>
#include <string>
#include <string_view>
#include <utility>

#include <tl/expected.hpp>

namespace berth {

/// Non-errno error kinds. Values start above any errno so the two never collide.
enum class ErrorCode : int {
  kInvalidArgument = 10000,  ///< bad input from the user or a file
  kNotFound,                 ///< a named thing (container, image, file) does not exist
  kAlreadyExists,            ///< a name or id is taken
  kFailedPrecondition,       ///< wrong state for the operation (e.g. start a running container)
  kCorrupt,                  ///< data failed a digest or format check
  kUnsupported,              ///< the host or build lacks a feature
  kTimeout,                  ///< a deadline passed
  kInternal,                 ///< a bug or an unexpected condition
  kRequestBody,              ///< the caller's own streamed request body failed (not the peer)
};

class Error {
 public:
  Error() = default;
  Error(int code, std::string message) : code_(code), message_(std::move(message)) {}
  Error(ErrorCode code, std::string message)
      : code_(static_cast<int>(code)), message_(std::move(message)) {}

  /// errno-carrying error: "what: strerror(errnum)".
  static Error fromErrno(std::string_view what, int errnum = errno);

  int code() const { return code_; }
  bool isErrno() const { return code_ > 0 && code_ < 10000; }
  bool is(ErrorCode c) const { return code_ == static_cast<int>(c); }
  bool is(int errnum) const { return code_ == errnum; }
  const std::string& message() const { return message_; }

  /// Prefix context: Error(ENOENT,"x").context("open y") -> "open y: x".
  Error& context(std::string_view ctx) &;
  Error&& context(std::string_view ctx) &&;

 private:
  int code_ = static_cast<int>(ErrorCode::kInternal);
  std::string message_;
};

template <typename T = void>
using Result = tl::expected<T, Error>;

inline tl::unexpected<Error> fail(Error e) { return tl::unexpected<Error>(std::move(e)); }
inline tl::unexpected<Error> fail(ErrorCode c, std::string msg) {
  return tl::unexpected<Error>(Error(c, std::move(msg)));
}
inline tl::unexpected<Error> failErrno(std::string_view what, int errnum = errno) {
  return tl::unexpected<Error>(Error::fromErrno(what, errnum));
}

}  // namespace berth

/// Propagate an error from a Result<void> expression.
#define BERTH_TRY(expr)                                          \
  do {                                                           \
    auto _berth_r = (expr);                                      \
    if (!_berth_r) return ::tl::unexpected(std::move(_berth_r).error()); \
  } while (0)

/// Propagate an error, adding context.
#define BERTH_TRY_CTX(expr, ctx)                                                    \
  do {                                                                              \
    auto _berth_r = (expr);                                                         \
    if (!_berth_r) return ::tl::unexpected(std::move(_berth_r).error().context(ctx)); \
  } while (0)

/// Assign the value of a Result<T> expression to `lhs`, or propagate its error.
#define BERTH_ASSIGN(lhs, expr) BERTH_ASSIGN_IMPL(BERTH_CONCAT(_berth_a, __LINE__), lhs, expr)
#define BERTH_CONCAT_INNER(a, b) a##b
#define BERTH_CONCAT(a, b) BERTH_CONCAT_INNER(a, b)
#define BERTH_ASSIGN_IMPL(tmp, lhs, expr)                       \
  auto tmp = (expr);                                            \
  if (!tmp) return ::tl::unexpected(std::move(tmp).error());    \
  lhs = std::move(*tmp)
