#include "launch/local_cluster.h"

#include <mpi.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

#include "framework/backend/backend.h"
#include "framework/backend/gemm_peak.h"
#include "framework/core/error.h"

namespace trident::launch {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Best-of-5 seconds of an (m, k) x (k, n) f32 GEMM.
double gemm_seconds(backend::Backend& be, int64_t m, int64_t k, int64_t n) {
  Tensor a = Tensor::zeros({m, k}), b = Tensor::zeros({k, n}), c = Tensor::empty({m, n});
  return backend::best_gemm_seconds(be, a, b, c, 5);
}

// Fits 1/throughput = p + q/F over the sizes; sets peak (TFLOP/s) and the half-efficiency FLOPs.
void fit_gemm(backend::Backend& be, ClusterSpec& c) {
  const int64_t shapes[][3] = {{128, 256, 256}, {512, 256, 1024}, {1024, 1024, 1024}};
  double sx = 0, sy = 0, sxx = 0, sxy = 0, best = 0;  // best: the highest FLOP/s measured
  for (const auto& s : shapes) {
    const double flops = 2.0 * double(s[0] * s[1] * s[2]), x = 1.0 / flops;
    const double y = gemm_seconds(be, s[0], s[1], s[2]) / flops;  // seconds per FLOP
    sx += x, sy += y, sxx += x * x, sxy += x * y, best = std::max(best, 1.0 / y);
  }
  const double n = 3.0, q = (n * sxy - sx * sy) / (n * sxx - sx * sx), p = (sy - q * sx) / n;
  c.gemm_max_efficiency = 1.0;
  if (p > 0.0 && q >= 0.0) {
    c.peak_tflops = 1e-12 / p;
    c.gemm_half_flops = q / p;
  } else {  // a noisy machine bent the line: no size curve, the best throughput measured
    c.peak_tflops = best * 1e-12;
    c.gemm_half_flops = 0.0;
  }
}

double copy_gbps(int threads) {
  const size_t n = size_t(16) << 20;  // 64 MB of floats
  std::vector<float> a(n, 1.f), b(n);
  double best = 1e30;
  for (int rep = 0; rep < 3; ++rep) {
    const auto t0 = Clock::now();
#pragma omp parallel for num_threads(threads) schedule(static)
    for (size_t i = 0; i < n; ++i) b[i] = a[i];
    best = std::min(best, seconds_since(t0));
  }
  return 2.0 * double(n) * sizeof(float) / best * 1e-9;  // read + write
}

// Runs the all-reduce probe among `ranks` processes: {seconds for 8 bytes, seconds for 4 MB}.
std::pair<double, double> probe_allreduce(int ranks, const std::string& self) {
  // Bound as trident-run binds ranks that outnumber the cores (one thread each, the cores in turn).
  const int cores = std::max(1u, std::thread::hardware_concurrency());
  const std::string bind = ranks > cores ? " --bind-to core:overload-allowed --map-by core" : "";
  const std::string cmd = "mpiexec -n " + std::to_string(ranks) + " --oversubscribe" + bind +
                          (geteuid() == 0 ? " --allow-run-as-root" : "") + " '" + self + "' --measure-allreduce";
  FILE* pipe = popen(cmd.c_str(), "r");
  TRIDENT_USAGE_CHECK(pipe, "--cluster local: cannot run ", cmd);
  double small = 0, large = 0;
  const int got = std::fscanf(pipe, "%lf %lf", &small, &large);
  const int rc = pclose(pipe);
  TRIDENT_USAGE_CHECK(got == 2 && rc == 0, "--cluster local: the MPI probe (", cmd, ") failed; is mpiexec on PATH?");
  return {small, large};
}

}  // namespace

ClusterSpec measure_local_device(backend::Backend& be, int ranks, int threads) {
  TRIDENT_USAGE_CHECK(ranks > 0, "--gpus must be positive, got ", ranks);
  const int cores = std::max(1u, std::thread::hardware_concurrency());
  ClusterSpec c;
  c.name = "local";
  c.gpus = c.gpus_per_node = ranks;
  fit_gemm(be, c);
  c.memory_gbps = copy_gbps(threads);
  c.cores = cores;  // the time model shares them when ranks outnumber them
  c.intra_node_latency = c.inter_node_latency = 1e-6, c.intra_node_gbps = c.inter_node_gbps = 1e3;  // one rank: unused
  c.device_memory_gb = double(sysconf(_SC_PHYS_PAGES)) * double(sysconf(_SC_PAGE_SIZE)) / 1e9 / ranks;
  c.source = detail::concat("measured here: ", cores, " cores, ", ranks, ranks == 1 ? " rank of " : " ranks of ",
                            threads, " thread(s); GEMM and copy timed");
  return c;
}

void set_local_link(ClusterSpec& c, int ranks, double small_s, double large_s) {
  if (ranks < 2) return;
  const double steps = 2.0 * (ranks - 1), alpha = small_s / steps;
  const double bytes = double(4 << 20) * steps / ranks;  // what a ring moves per rank
  c.intra_node_latency = c.inter_node_latency = alpha;
  c.intra_node_gbps = c.inter_node_gbps = bytes / std::max(large_s - steps * alpha, 1e-9) * 1e-9;
  c.source += detail::concat("; MPI all-reduce among ", ranks, " ranks: ", small_s * 1e6, " us at 8 bytes, ",
                             large_s * 1e3, " ms at 4 MB");
}

ClusterSpec measure_local_cluster(int ranks, const std::string& self_path) {
  const int cores = std::max(1u, std::thread::hardware_concurrency());
  const int threads = std::max(1, cores / ranks);
  ClusterSpec c = measure_local_device(*backend::make_cpu_backend(threads), ranks, threads);
  if (ranks > 1) {
    const auto [small, large] = probe_allreduce(ranks, self_path);
    set_local_link(c, ranks, small, large);
  }
  return c;
}

std::pair<double, double> time_allreduce(MPI_Comm comm) {
  double result[2];
  const int sizes[2] = {2, 1 << 20};  // floats: 8 bytes, 4 MB
  for (int s = 0; s < 2; ++s) {
    std::vector<float> in(size_t(sizes[s]), 1.f), out(size_t(sizes[s]));
    std::vector<double> times;
    for (int rep = 0; rep < 21; ++rep) {
      MPI_Barrier(comm);
      const double t0 = MPI_Wtime();
      MPI_Allreduce(in.data(), out.data(), sizes[s], MPI_FLOAT, MPI_SUM, comm);
      times.push_back(MPI_Wtime() - t0);
    }
    // The median, not the best: with more ranks than cores a collective waits for its ranks' turns.
    std::nth_element(times.begin(), times.begin() + 10, times.end());
    MPI_Allreduce(&times[10], &result[s], 1, MPI_DOUBLE, MPI_MAX, comm);
  }
  return {result[0], result[1]};
}

int measure_allreduce_main() {
  MPI_Init(nullptr, nullptr);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  const auto [small, large] = time_allreduce(MPI_COMM_WORLD);
  if (rank == 0) std::printf("%.9g %.9g\n", small, large);
  MPI_Finalize();
  return 0;
}

}  // namespace trident::launch
