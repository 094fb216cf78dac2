#include "common/error.h"

#include <cstring>

namespace berth {

Error Error::fromErrno(std::string_view what, int errnum) {
  std::string msg(what);
  msg += ": ";
  msg += std::strerror(errnum);
  return Error(errnum, std::move(msg));
}

Error& Error::context(std::string_view ctx) & {
  std::string m(ctx);
  m += ": ";
  m += message_;
  message_ = std::move(m);
  return *this;
}

Error&& Error::context(std::string_view ctx) && { return std::move(context(ctx)); }

}  // namespace berth
