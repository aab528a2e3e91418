#!/usr/bin/env bash
# Note [kernel variants] (framework/backend/cpu/kernel_target.h), checked on
# the objects a portable x86-64 build made:
# 1. the baseline compilation of cpu/ holds no AVX (VEX or EVEX) instruction,
#    so it runs on any x86-64 CPU;
# 2. the x86-64-v3 compilation holds some (else the pragma did nothing);
# 3. none of the x86-64-v3 objects' weak functions (inline and template code
#    from headers, which the linker may keep for the whole program) holds
#    one: an AVX copy of, say, std::vector's growth chosen by the linker
#    would crash every caller on an older CPU.
# Usage: kernel_variants.sh BUILD_DIR
set -euo pipefail
objs=$1/framework/CMakeFiles
v3=$objs/trident_cpu_x86_64_v3.dir/backend/cpu
base=$objs/trident_backend.dir/backend/cpu
if [ ! -d "$v3" ]; then
  echo "kernel_variants: no x86-64-v3 objects in $objs (TRIDENT_CPU_ARCH set, or not x86-64): nothing to check"
  exit 0
fi
avx='	v[a-z0-9]+[ 	]|%[yz]mm'
fail=0
for o in "$base"/*.o; do
  if objdump -d --no-show-raw-insn "$o" | grep -Eq "$avx"; then
    echo "kernel_variants: the baseline object $(basename "$o") holds AVX instructions:"
    objdump -d --no-show-raw-insn "$o" | grep -E "$avx" | head -3
    fail=1
  fi
done
v3_avx=0
for o in "$v3"/*.o; do
  n=$(objdump -d --no-show-raw-insn "$o" | grep -Ec "$avx" || true)
  v3_avx=$((v3_avx + n))
  # Weak function symbols (W), as objdump labels them.
  for sym in $(nm --defined-only "$o" | awk '$2 == "W" {print $3}'); do
    if objdump -d --no-show-raw-insn "$o" | awk -v s="<$sym>:" '$2 == s {p = 1; next} /^[0-9a-f]+ <.*>:$/ {p = 0} p' |
       grep -Eq "$avx"; then
      echo "kernel_variants: $(basename "$o") keeps a weak function with AVX instructions: $(echo "$sym" | c++filt)"
      echo "  (a header was included after kernel_target.h, or code it defines moved below the pragma)"
      fail=1
    fi
  done
done
if [ "$v3_avx" -eq 0 ]; then
  echo "kernel_variants: the x86-64-v3 objects hold no AVX instruction: the target pragma did not apply"
  fail=1
fi
[ $fail -eq 0 ] && echo "kernel_variants: baseline objects free of AVX; $v3_avx AVX instructions in the x86-64-v3 kernels, none in their weak functions"
exit $fail
