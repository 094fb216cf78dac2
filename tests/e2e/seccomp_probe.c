/* Syscalls through each x86 ABI, raw (no libc wrappers), for tests/e2e/seccomp.sh: a filter
 * that covered only x86_64 would let the i386 (int 0x80) or x32 entry points through.
 * Prints NAME=RESULT, RESULT being "ok" (>= 0) or the negative errno; i386=unavailable when
 * the kernel has no IA32 emulation (int 0x80 then faults). */
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

static long sys32(long nr, long a, long b, long c) {
  long ret;
  __asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(a), "c"(b), "d"(c)
                   : "r8", "r9", "r10", "r11", "memory"); /* int 0x80 zeroes r8-r11 */
  return ret;
}

static long sys64(long nr, long a, long b, long c) {
  long ret;
  __asm__ volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
  return ret;
}

static void show(const char* name, long r) {
  if (r >= 0) printf("%s=ok\n", name);
  else printf("%s=%ld\n", name, r);
}

int main(void) {
  const long x32 = 0x40000000;
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    show("i386_getpid", sys32(20, 0, 0, 0));             /* the ABI works at all */
    show("i386_mount", sys32(21, 0, 0, 0));              /* mount(NULL, NULL, NULL) */
    show("i386_unshare", sys32(310, 0x10000000, 0, 0));  /* unshare(CLONE_NEWUSER) */
    fflush(stdout);
    _exit(0);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  if (!WIFEXITED(st)) printf("i386=unavailable\n");
  show("x32_mount", sys64(x32 | 165, 0, 0, 0));
  show("x86_64_mount", sys64(165, 0, 0, 0));
  show("x86_64_clone3", sys64(435, 0, 0, 0));
  return 0;
}
