#pragma once
/// OCI image-spec types (config, manifest, index, descriptor) with JSON both ways.
///
/// The same structs hold Docker's formats (image config v1, manifest v2 schema 2, manifest
/// list): the fields match, only media types differ. Parsers are strict about types (a string
/// where an array belongs is an error naming the field) and tolerant of unknown fields.
/// Serializers write the canonical field names; blobs read from disk or a registry are kept
/// as their original bytes by the store, so digests never depend on re-serialization.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace berth::oci {

/// Media types of the OCI image spec and their Docker equivalents.
namespace media {
inline constexpr std::string_view kOciLayout = "1.0.0";  ///< oci-layout imageLayoutVersion
inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kOciConfig = "application/vnd.oci.image.config.v1+json";
inline constexpr std::string_view kOciLayer = "application/vnd.oci.image.layer.v1.tar";
inline constexpr std::string_view kOciLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr std::string_view kOciLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd";
inline constexpr std::string_view kOciLayerNdGzip =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
inline constexpr std::string_view kDockerManifest =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kDockerManifestList =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kDockerConfig = "application/vnd.docker.container.image.v1+json";
inline constexpr std::string_view kDockerLayerGzip =
    "application/vnd.docker.image.rootfs.diff.tar.gzip";
inline constexpr std::string_view kDockerLayerForeign =
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
}  // namespace media

/// Annotation keys used in index.json and descriptors.
inline constexpr std::string_view kAnnotationRefName = "org.opencontainers.image.ref.name";
inline constexpr std::string_view kAnnotationCreated = "org.opencontainers.image.created";

enum class Compression { kNone, kGzip, kZstd };

/// Compression of a layer media type; nullopt if `mediaType` is not a layer type berth knows.
std::optional<Compression> layerCompression(std::string_view mediaType);
bool isManifestMediaType(std::string_view mediaType);  ///< OCI or Docker image manifest
bool isIndexMediaType(std::string_view mediaType);     ///< OCI index or Docker manifest list

struct Platform {
  std::string architecture;  ///< GOARCH: amd64, arm64, ...
  std::string os;            ///< GOOS: linux
  std::string variant;       ///< v8, v7, ... (optional)
  std::string osVersion;
  std::vector<std::string> osFeatures;
};
/// The platform berth runs on (linux + the GOARCH name of this build's CPU).
Platform hostPlatform();
/// True if `p` can run on `host` (os and architecture equal; variant equal when both set).
bool platformMatches(const Platform& p, const Platform& host);

struct Descriptor {
  std::string mediaType;
  std::string digest;  ///< "sha256:<hex>"
  int64_t size = 0;
  std::vector<std::string> urls;
  std::map<std::string, std::string> annotations;
  std::optional<Platform> platform;
  std::string artifactType;
};

struct Healthcheck {
  std::vector<std::string> test;  ///< ["CMD", ...], ["CMD-SHELL", "cmd"], ["NONE"]
  int64_t interval = 0;           ///< nanoseconds; 0 = inherit/default
  int64_t timeout = 0;
  int64_t startPeriod = 0;
  int retries = 0;
};

/// The "config" object of an image config (what a container starts with).
struct ContainerConfig {
  std::string user;
  std::vector<std::string> exposedPorts;  ///< "80/tcp", sorted, unique
  std::vector<std::string> env;           ///< "KEY=value"
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::vector<std::string> volumes;  ///< absolute paths, sorted, unique
  std::string workingDir;
  std::map<std::string, std::string> labels;
  std::string stopSignal;
  std::optional<Healthcheck> healthcheck;  ///< Docker extension
  std::vector<std::string> shell;          ///< Docker extension (SHELL instruction)
  std::vector<std::string> onBuild;        ///< Docker extension
  bool argsEscaped = false;
};

struct History {
  std::string created;  ///< RFC 3339
  std::string createdBy;
  std::string author;
  std::string comment;
  bool emptyLayer = false;
};

struct RootFs {
  std::string type = "layers";
  std::vector<std::string> diffIds;  ///< uncompressed layer digests, bottom first
};

/// application/vnd.oci.image.config.v1+json (== Docker's image config v1).
struct ImageConfig {
  std::string created;  ///< RFC 3339, may be empty
  std::string author;
  std::string architecture;
  std::string os;
  std::string variant;
  ContainerConfig config;
  RootFs rootfs;
  std::vector<History> history;
};

struct Manifest {
  int schemaVersion = 2;
  std::string mediaType;  ///< kOciManifest or kDockerManifest (may be empty in OCI)
  std::string artifactType;
  Descriptor config;
  std::vector<Descriptor> layers;
  std::map<std::string, std::string> annotations;
};

struct Index {
  int schemaVersion = 2;
  std::string mediaType;  ///< kOciIndex or kDockerManifestList (may be empty in OCI)
  std::vector<Descriptor> manifests;
  std::map<std::string, std::string> annotations;
};

/// Parse JSON. Errors are one line naming the field: "image config: config.Env: not an array".
Result<ImageConfig> parseImageConfig(std::string_view json);
Result<Manifest> parseManifest(std::string_view json);
Result<Index> parseIndex(std::string_view json);
Result<Descriptor> parseDescriptor(std::string_view json);

/// Serialize compactly (no spaces), fields in a fixed order, optional fields omitted when empty.
std::string toJson(const ImageConfig& c);
std::string toJson(const Manifest& m);
std::string toJson(const Index& i);
std::string toJson(const Descriptor& d);

/// "mediaType" of a manifest-or-index JSON document: its mediaType field, else guessed from
/// its shape ("manifests" -> index, "config"/"layers" -> manifest). Empty if neither.
std::string sniffMediaType(std::string_view json);

/// Current UTC time in RFC 3339 with seconds ("2026-11-26T10:40:21Z").
std::string nowRfc3339();

}  // namespace berth::oci
