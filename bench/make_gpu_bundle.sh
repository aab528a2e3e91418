#!/usr/bin/env bash
# Builds the CUDA-enabled programs for Hopper (sm_90) here and packs them,
# with the Debian libraries they need that a GPU image lacks (oneDNN,
# OpenMP, spdlog, MPI, ...) and the fortunes corpus, into BUNDLE (default
# .gpu/, git-ignored): what bench/gpu_check.sh runs on a lent GPU machine.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bundle=${1:-$root/.gpu}
build=$root/build-gpu
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DTRIDENT_CUDA=ON -DTRIDENT_CUDA_ARCHS=90 >/dev/null
cmake --build "$build" -j "$(nproc)" --target test_cuda_vs_cpu bench_train_throughput trident-train
rm -rf "$bundle"; mkdir -p "$bundle/bin" "$bundle/lib" "$bundle/fortunes"
for b in test_cuda_vs_cpu bench_train_throughput trident-train; do strip -o "$bundle/bin/$b" "$build/bin/$b"; done
# Every shared library the programs load, except the C/C++ runtime and the
# CUDA libraries (the GPU machine has its own, matching its driver). A run
# there is single-process, so MPI is linked but never initialised.
for b in "$bundle"/bin/*; do
  ldd "$b" | awk '/=> \// {print $3}'
done | sort -u | grep -vE '/(libc|libm|libstdc\+\+|libgcc_s|libpthread|libdl|librt|ld-linux[^/]*)\.so|/libcu(da|dart|blas)' \
  | while read -r lib; do cp -L "$lib" "$bundle/lib/"; done
find /usr/share/games/fortunes -maxdepth 1 -type f ! -name '*.dat' ! -name '*.u8' -exec cp {} "$bundle/fortunes/" \;
du -sh "$bundle"
