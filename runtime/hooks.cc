#include "runtime/hooks.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/unique_fd.h"

extern char** environ;

namespace berth::runtime {
namespace {

int64_t nowMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

}  // namespace

Result<void> runHook(const oci::Hook& hook, std::string_view stateJson, std::string_view what) {
  std::string name = std::string(what) + " " + hook.path;
  int p[2];
  if (::pipe2(p, O_CLOEXEC) < 0) return failErrno("hook pipe");
  UniqueFd rd(p[0]), wr(p[1]);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, rd.get(), 0);
  std::vector<std::string> args = hook.args.empty() ? std::vector<std::string>{hook.path} : hook.args;
  std::vector<char*> argv, envp;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env = hook.env;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawn(&pid, hook.path.c_str(), &fa, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return failErrno("hook " + name, rc);
  rd.reset();
  // The hook may not read stdin at all: a full pipe or EPIPE must not block or fail us.
  ::fcntl(wr.get(), F_SETFL, O_NONBLOCK);
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &block, &old);
  (void)!::write(wr.get(), stateJson.data(), stateJson.size());
  struct timespec zero {0, 0};
  sigtimedwait(&block, nullptr, &zero);  // drop a pending SIGPIPE we caused
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  wr.reset();
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  int64_t deadline = hook.timeout ? nowMs() + *hook.timeout * 1000LL : -1;
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
      if (WIFEXITED(status))
        return fail(ErrorCode::kFailedPrecondition,
                    "hook " + name + ": exit status " + std::to_string(WEXITSTATUS(status)));
      return fail(ErrorCode::kFailedPrecondition,
                  "hook " + name + ": killed by signal " + std::to_string(WTERMSIG(status)));
    }
    if (r < 0 && errno != EINTR) return failErrno("wait hook " + name);
    int timeout = -1;
    if (deadline >= 0) {
      timeout = static_cast<int>(deadline - nowMs());
      if (timeout <= 0) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
        return fail(ErrorCode::kTimeout,
                    "hook " + name + ": timed out after " + std::to_string(*hook.timeout) + "s");
      }
    }
    if (pidfd) {
      struct pollfd pfd {pidfd.get(), POLLIN, 0};
      ::poll(&pfd, 1, timeout);
    } else {
      ::usleep(1000);
    }
  }
}

Result<void> runHooks(const std::vector<oci::Hook>& hooks, std::string_view stateJson,
                      std::string_view kind) {
  for (size_t i = 0; i < hooks.size(); ++i)
    BERTH_TRY(runHook(hooks[i], stateJson, std::string(kind) + "[" + std::to_string(i) + "]"));
  return {};
}

}  // namespace berth::runtime
