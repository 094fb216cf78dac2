#include "runtime/cli_args.h"

namespace berth::runtime {

bool Args::has(const std::string& f) const {
  for (const auto& [k, v] : values)
    if (k == f) return true;
  return false;
}
std::string Args::get(const std::string& f, const std::string& def) const {
  std::string out = def;
  for (const auto& [k, v] : values)
    if (k == f) out = v;
  return out;
}
std::vector<std::string> Args::all(const std::string& f) const {
  std::vector<std::string> out;
  for (const auto& [k, v] : values)
    if (k == f) out.push_back(v);
  return out;
}
bool Args::flag(const std::string& f) const {
  for (const auto& [k, v] : values)
    if (k == f) return v.empty() || v == "true" || v == "1";
  return false;
}

Result<Args> parseArgs(const VerbSpec& spec, int argc, char** argv) {
  Args a;
  bool flagsDone = false;
  for (int i = 0; i < argc; ++i) {
    std::string arg = argv[i];
    if (flagsDone || arg.size() < 2 || arg[0] != '-') {
      a.positional.push_back(arg);
      if (spec.stopAtFirstPositional) flagsDone = true;
      continue;
    }
    if (arg == "--") {
      flagsDone = true;
      continue;
    }
    std::string name, value;
    bool hasValue = false;
    const FlagSpec* fs = nullptr;
    if (arg[1] == '-' || arg.size() > 2) {
      // --name[=value]; runc (urfave/cli) also accepts -name.
      size_t start = arg[1] == '-' ? 2 : 1;
      name = arg.substr(start);
      if (auto eq = name.find('='); eq != std::string::npos) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
        hasValue = true;
      }
      for (const auto& f : spec.flags)
        if (name == f.name) fs = &f;
    } else {
      for (const auto& f : spec.flags)
        if (f.shortName && arg[1] == f.shortName) fs = &f;
    }
    if (!fs) return fail(ErrorCode::kInvalidArgument, "unknown flag " + arg);
    if (fs->takesValue && !hasValue) {
      if (i + 1 >= argc) return fail(ErrorCode::kInvalidArgument, "flag " + arg + " needs a value");
      value = argv[++i];
    }
    a.values.push_back({fs->name, value});
  }
  return a;
}

}  // namespace berth::runtime
