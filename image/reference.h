#pragma once
/// Image references as users type them: [registry/]repository[:tag][@digest].

#include <string>
#include <string_view>

#include "common/error.h"

namespace berth::image {

struct Reference {
  std::string registry;    ///< "localhost:5000", "quay.io"; empty for a bare local name
  std::string repository;  ///< "library/busybox", "my/app"
  std::string tag;         ///< "latest" when neither tag nor digest was given
  std::string digest;      ///< "sha256:..." or empty

  std::string name() const;  ///< registry/repository (no tag)
  std::string str() const;   ///< name[:tag][@digest]
};

/// Parse per the distribution spec's grammar (lowercase path components, tag
/// [A-Za-z0-9_.-]{1,128}). The first component is a registry if it has '.' or ':' or is
/// "localhost" and more components follow. kInvalidArgument naming what is wrong.
Result<Reference> parseReference(std::string_view ref);

}  // namespace berth::image
