// The pod sandbox's one process (containerd's sandbox_image): it holds the pod's namespaces
// open, reaps what the container runtime leaves it as PID 1, and exits 0 on SIGINT or SIGTERM.
// Built static, so that its image is this one file.

#include <csignal>
#include <sys/wait.h>
#include <unistd.h>

namespace {

void stop(int) { _exit(0); }

void reap(int) {
  while (::waitpid(-1, nullptr, WNOHANG) > 0) {
  }
}

} // namespace

int main() {
  std::signal(SIGINT, stop);
  std::signal(SIGTERM, stop);
  std::signal(SIGCHLD, reap);
  for (;;) {
    ::pause();
  }
}
