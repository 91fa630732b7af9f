// deny-netlink PROGRAM [ARG…]: runs PROGRAM with socket(AF_NETLINK, …) refused (EACCES), as a
// container runtime's seccomp profile or an LSM may refuse it. It is how the tests show what
// prestop's quiet phase does where NETLINK_SOCK_DIAG is forbidden.

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>

#if !defined(__x86_64__)
#error "the seccomp filter below checks x86_64's system call numbers"
#endif

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: deny-netlink PROGRAM [ARG...]\n");
    return 2;
  }
  sock_filter filter[] = {
      // Another architecture's system call numbers mean other calls: refuse them all.
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_socket, 0, 3),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[0])),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_NETLINK, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EACCES),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  const sock_fprog program{.len = static_cast<unsigned short>(sizeof(filter) / sizeof(filter[0])), .filter = filter};
  // Without new privileges a process may install a filter without CAP_SYS_ADMIN.
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
      syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &program) != 0) {
    std::fprintf(stderr, "deny-netlink: installing the seccomp filter: %s\n", std::strerror(errno));
    return 1;
  }
  execv(argv[1], argv + 1);
  std::fprintf(stderr, "deny-netlink: exec %s: %s\n", argv[1], std::strerror(errno));
  return 127;
}
