#include "launch/stop_signal.h"

#include <csignal>

namespace trident::launch {
namespace {
volatile std::sig_atomic_t g_signal = 0;
extern "C" void on_stop_signal(int signal) { g_signal = signal; }
}  // namespace

void install_stop_signal_handlers() {
  struct sigaction action = {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;  // MPI and file calls carry on; the flag is read between iterations
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGUSR1, &action, nullptr);
}

int stop_signal_received() { return g_signal; }

}  // namespace trident::launch
