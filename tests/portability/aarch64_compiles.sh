#!/usr/bin/env bash
# The code builds for aarch64 (Grace) hosts: Debian's cross compiler
# (g++-aarch64-linux-gnu) compiles every source of framework/, models/ and
# optim/ that needs no arm64 library, as the portable build would
# (TRIDENT_CPU_ARCH empty: no -march, kernels in their baseline form, the
# aarch64 FPCR branch of Note [denormals]). Their headers from Debian's
# -dev packages (spdlog, fmt, nlohmann-json, oneDNN) hold no architecture-specific code, so
# they are offered to the cross compiler by symlinks. Not covered, and why:
# files that include mpi.h or hdf5.h (framework/dist, checkpoint/, launch/)
# need Open MPI's and HDF5's arm64 headers and libraries (Debian's
# multiarch packages libopenmpi-dev:arm64 and libhdf5-openmpi-dev:arm64),
# and nothing here links: that needs oneDNN, spdlog and the rest for arm64.
# Usage: aarch64_compiles.sh SOURCE_DIR
set -euo pipefail
src=$(cd "$1" && pwd)
cxx=aarch64-linux-gnu-g++
command -v $cxx >/dev/null || { echo "aarch64_compiles: $cxx missing: ./launch/trident setup installs it"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/include"
for h in spdlog fmt nlohmann oneapi dnnl.hpp dnnl.h dnnl_config.h dnnl_types.h dnnl_version.h; do
  ln -s "/usr/include/$h" "$work/include/$h"
done
flags=(-std=c++20 -fopenmp -Wall -Wextra -Werror -O1 -I"$src" -isystem "$work/include"
       -DSPDLOG_FMT_EXTERNAL -DSPDLOG_COMPILED_LIB -DSPDLOG_SHARED_LIB -DFMT_SHARED)
# Which sources need an arm64 library: ask the host preprocessor what each includes.
mpi_inc=$(mpicxx --showme:incdirs 2>/dev/null | tr ' ' '\n' | sed 's/^/-I/' || true)
sources=()
skipped=()
for f in $(cd "$src" && ls framework/*/*.cc framework/backend/cpu/*.cc models/*/*.cc optim/*.cc); do
  # shellcheck disable=SC2086
  deps=$(g++ -std=c++20 -fopenmp -I"$src" $mpi_inc -I/usr/include/hdf5/openmpi -DSPDLOG_FMT_EXTERNAL -M "$src/$f")
  if echo "$deps" | grep -Eq '/(mpi|hdf5)\.h|cuda|nccl'; then skipped+=("$f"); else sources+=("$f"); fi
done
printf '%s\n' "${sources[@]}" | (cd "$src" && xargs -P "$(nproc)" -I{} sh -c \
  "$cxx $(printf '%q ' "${flags[@]}") -c {} -o $work/\$(echo {} | tr / _).o || { echo 'aarch64_compiles: {} does not compile for aarch64'; exit 255; }")
readelf -h "$work/framework_backend_cpu_cpu_backend.cc.o" | grep -q "AArch64" || { echo "aarch64_compiles: not aarch64 objects"; exit 1; }
echo "aarch64_compiles: ${#sources[@]} sources compile for aarch64; ${#skipped[@]} need arm64 MPI/HDF5 and were not tried: ${skipped[*]}"
