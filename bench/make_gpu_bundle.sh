#!/usr/bin/env bash
# Builds the CUDA-enabled programs for Hopper (sm_90) here and packs them,
# with the Debian libraries they need that a GPU image lacks (oneDNN,
# libgomp, OpenCL loader) and the fortunes corpus, into BUNDLE (default
# .gpu/, git-ignored): what bench/gpu_check.sh runs on a lent GPU machine.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bundle=${1:-$root/.gpu}
build=$root/build-gpu
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DTRIDENT_CUDA=ON -DTRIDENT_CUDA_ARCHS=90 >/dev/null
cmake --build "$build" -j "$(nproc)" --target test_cuda_vs_cpu bench_train_throughput trident-train
rm -rf "$bundle"; mkdir -p "$bundle/bin" "$bundle/lib" "$bundle/fortunes"
for b in test_cuda_vs_cpu bench_train_throughput trident-train; do strip -o "$bundle/bin/$b" "$build/bin/$b"; done
for lib in libdnnl.so.2 libgomp.so.1 libOpenCL.so.1 libspdlog.so.1.10 libfmt.so.9; do cp -L "/usr/lib/x86_64-linux-gnu/$lib" "$bundle/lib/"; done
find /usr/share/games/fortunes -maxdepth 1 -type f ! -name '*.dat' ! -name '*.u8' -exec cp {} "$bundle/fortunes/" \;
du -sh "$bundle"
