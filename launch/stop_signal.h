// Cluster preemption: SIGTERM (Slurm's warning before a kill) or SIGUSR1
// asks the run to save at the next iteration boundary and exit cleanly.
// The handler only sets a flag; the trainer agrees on it across ranks.
#pragma once

namespace trident::launch {

void install_stop_signal_handlers();
// The signal received (SIGTERM or SIGUSR1), 0 if none.
int stop_signal_received();

}  // namespace trident::launch
