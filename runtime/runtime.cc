#include "runtime/cli.h"
#include "runtime/runtime.h"

namespace berth::runtime {

Runtime::Runtime(std::string stateRoot) : root_(std::move(stateRoot)) {}
Runtime::~Runtime() = default;
Runtime::Runtime(Runtime&&) noexcept = default;
Runtime& Runtime::operator=(Runtime&&) noexcept = default;

namespace {
tl::unexpected<Error> notYet() { return fail(ErrorCode::kUnsupported, "not implemented yet"); }
}  // namespace

Result<void> Runtime::create(const CreateOptions&) { return notYet(); }
Result<void> Runtime::start(const std::string&) { return notYet(); }
Result<State> Runtime::state(const std::string&) { return notYet(); }
Result<void> Runtime::kill(const std::string&, int, bool) { return notYet(); }
Result<void> Runtime::remove(const std::string&, bool) { return notYet(); }
Result<void> Runtime::pause(const std::string&) { return notYet(); }
Result<void> Runtime::resume(const std::string&) { return notYet(); }
Result<std::vector<State>> Runtime::list() { return notYet(); }
Result<pid_t> Runtime::exec(const std::string&, const ExecOptions&) { return notYet(); }
Result<std::vector<pid_t>> Runtime::pids(const std::string&) { return notYet(); }
Result<void> Runtime::update(const std::string&, const oci::Resources&) { return notYet(); }
Result<oci::Spec> Runtime::spec(const std::string&) { return notYet(); }
bool validContainerId(std::string_view) { return false; }
std::string featuresJson() { return "{}"; }
std::string_view statusName(Status) { return "stopped"; }
std::string stateToJson(const State&, bool) { return "{}"; }
int cliMain(int, char**) { return 1; }

}  // namespace berth::runtime
