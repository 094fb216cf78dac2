/* The exec stub: a tiny static program (no libc) that the container's first process is
 * exec'd from, out of a sealed memfd. Going through it means /proc/<pid>/exe of any process
 * in the container never points at a writable runtime binary (CVE-2019-5736): at worst it
 * points at this sealed copy.
 *
 * The runtime calls it with an empty argv[0] (which no "#!" line can produce: the kernel
 * puts the interpreter's path there, so the stub is useless as an interpreter) and a mode:
 *   "" "x" PATH ARGS...          execve(PATH, ARGS..., envp)
 *   "" "w" FIFO FD PATH ARGS...  first open FIFO for writing, which blocks until `start`
 *                                opens its read end, write one byte, close it and fd FD (the
 *                                fifo's O_PATH fd); then as "x". The init takes this way when
 *                                its parent must not wait for `start` (runtime/create.cc).
 * Anything else exits 127.
 * x86_64 only. */
#include <asm/unistd.h>

#define O_WRONLY 01
#define O_CLOEXEC 02000000

static long sys3(long n, long a, long b, long c) {
  long r;
  __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
  return r;
}

static void say(const char* s) {
  long n = 0;
  while (s[n]) ++n;
  sys3(__NR_write, 2, (long)s, n);
}

__attribute__((used, noreturn)) void stub_main(long* sp) {
  long argc = sp[0];
  char** argv = (char**)(sp + 1);
  char** envp = argv + argc + 1;
  long r = -2;
  int first = 0;
  if (argc >= 4 && argv[0][0] == 0 && argv[1][0] == 'x' && argv[1][1] == 0) first = 2;
  if (argc >= 6 && argv[0][0] == 0 && argv[1][0] == 'w' && argv[1][1] == 0) {
    long fd = 0;
    for (const char* p = argv[3]; *p >= '0' && *p <= '9'; ++p) fd = fd * 10 + (*p - '0');
    long f = sys3(__NR_open, (long)argv[2], O_WRONLY | O_CLOEXEC, 0);
    if (f < 0 || sys3(__NR_write, f, (long)"0", 1) != 1) {
      say("berth-runtime: open exec fifo failed\n");
      for (;;) sys3(__NR_exit_group, 1, 0, 0);
    }
    sys3(__NR_close, f, 0, 0);
    sys3(__NR_close, fd, 0, 0);
    first = 4;
  }
  if (first) r = sys3(__NR_execve, (long)argv[first], (long)(argv + first + 1), (long)envp);
  say("berth-runtime: exec failed\n");
  for (;;) sys3(__NR_exit_group, r == -2 ? 127 : 126, 0, 0);
}

__asm__(".globl _start\n"
        "_start:\n"
        "  mov %rsp, %rdi\n"
        "  and $-16, %rsp\n"
        "  call stub_main\n"
        "  hlt\n");
