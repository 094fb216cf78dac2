/* The exec stub: a tiny static program (no libc) that the container's first process is
 * exec'd from, out of a sealed memfd. Its only job: execve(argv[0], argv + 1, envp).
 * Going through it means /proc/<pid>/exe of any process in the container never points at a
 * writable runtime binary (CVE-2019-5736): at worst it points at this sealed copy.
 * x86_64 only. */
#include <asm/unistd.h>

static long sys3(long n, long a, long b, long c) {
  long r;
  __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
  return r;
}

__attribute__((used, noreturn)) void stub_main(long* sp) {
  long argc = sp[0];
  char** argv = (char**)(sp + 1);
  char** envp = argv + argc + 1;
  long r = -2;
  if (argc >= 2) r = sys3(__NR_execve, (long)argv[0], (long)(argv + 1), (long)envp);
  static const char msg[] = "berth-runtime: exec failed\n";
  sys3(__NR_write, 2, (long)msg, sizeof msg - 1);
  for (;;) sys3(__NR_exit_group, r == -2 ? 127 : 126, 0, 0);
}

__asm__(".globl _start\n"
        "_start:\n"
        "  mov %rsp, %rdi\n"
        "  and $-16, %rsp\n"
        "  call stub_main\n"
        "  hlt\n");
