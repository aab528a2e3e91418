#!/usr/bin/env bash
# Packs what bench/gpu_check.sh runs on a lent GPU machine (which has the
# CUDA driver, cuBLASLt and PyTorch, but none of trident's Debian build
# dependencies) into one compressed file, BUNDLE_DIR/bundle.tar.xz
# (default .gpu/, git-ignored; the device tool carries at most 64 MiB):
#   bin/   test_cuda_vs_cpu, test_device_comm, bench_train_throughput, trident-train (stripped)
#   lib/   every shared library they and Open MPI load, except the C/C++
#          runtime and the CUDA libraries, NCCL included (the GPU machine
#          has its own, matching its driver; NCCL alone is 218 MB)
#   mpi/   Debian's Open MPI (orterun, orted, its components and help files,
#          PMIx's components) laid out under a prefix, relocated there by
#          OPAL_PREFIX, so that several ranks can share the GPU (--comm mpi)
#   fortunes/  the training corpus
# The programs come from BUILD (default build/, which the README's commands
# configure with the CUDA backend for sm_80 and sm_90 when the toolkit is
# present).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out_dir=${1:-$root/.gpu}
build=${BUILD:-$root/build}
grep -q '^TRIDENT_CUDA_ARCHS:STRING=.*90' "$build/CMakeCache.txt" \
  || { echo "make_gpu_bundle: $build is not configured for sm_90 (TRIDENT_CUDA_ARCHS)" >&2; exit 1; }
cmake --build "$build" -j "$(nproc)" --target test_cuda_vs_cpu test_device_comm bench_train_throughput trident-train
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
b=$stage/bundle
mkdir -p "$b/bin" "$b/lib" "$b/fortunes" "$b/mpi/bin" "$b/mpi/lib/x86_64-linux-gnu" "$b/mpi/share"
for p in test_cuda_vs_cpu test_device_comm bench_train_throughput trident-train; do strip -o "$b/bin/$p" "$build/bin/$p"; done
cp /usr/bin/orterun /usr/bin/orted "$b/mpi/bin/"
ln -s orterun "$b/mpi/bin/mpirun"
cp -a /usr/lib/x86_64-linux-gnu/openmpi /usr/lib/x86_64-linux-gnu/pmix2 "$b/mpi/lib/x86_64-linux-gnu/"
rm -rf "$b/mpi/lib/x86_64-linux-gnu/openmpi/include"
cp -a /usr/share/openmpi "$b/mpi/share/"
[ -d /usr/share/pmix ] && cp -a /usr/share/pmix "$b/mpi/share/"
# Libraries: those of the programs, of orterun/orted, and of every MPI/PMIx component.
{
  for f in "$b"/bin/* "$b"/mpi/bin/orterun "$b"/mpi/bin/orted; do ldd "$f"; done
  find "$b/mpi/lib" -name '*.so' -exec ldd {} \; 2>/dev/null
} | awk '/=> \// {print $3}' | sort -u \
  | grep -vE '/(libc|libm|libstdc\+\+|libgcc_s|libpthread|libdl|librt|ld-linux[^/]*)\.so|/libcu(da|dart|blas)|/libnccl|/libnvidia' \
  | while read -r lib; do cp -L "$lib" "$b/lib/"; done
find /usr/share/games/fortunes -maxdepth 1 -type f ! -name '*.dat' ! -name '*.u8' -exec cp {} "$b/fortunes/" \;
mkdir -p "$out_dir"
rm -rf "$out_dir"/*
tar -C "$stage" -cf - bundle | xz -T2 -6 > "$out_dir/bundle.tar.xz"
du -sh "$b" "$out_dir/bundle.tar.xz"
