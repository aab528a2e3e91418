#!/usr/bin/env bash
# Note [kernel variants] (framework/backend/cpu/kernel_target.h), checked on
# the objects a portable x86-64 build made:
# 1. the baseline compilation of cpu/ holds no instruction beyond x86-64's
#    baseline (SSE2): none of AVX/AVX2/FMA/F16C (VEX or EVEX encoded), SSE3,
#    SSSE3, SSE4.1/4.2, POPCNT, LZCNT, MOVBE or BMI1/2, so it runs on any
#    x86-64 CPU (TZCNT is not looked for: GCC emits it as `rep bsf` on
#    purpose, which older CPUs run as BSF);
# 2. the x86-64-v3 compilation holds AVX instructions (else the pragma did
#    nothing);
# 3. none of the x86-64-v3 objects' weak functions (inline and template code
#    from headers, which the linker may keep for the whole program) holds
#    such an instruction: an AVX copy of, say, std::vector's growth chosen
#    by the linker would crash every caller on an older CPU.
# Usage: kernel_variants.sh BUILD_DIR
set -euo pipefail
objs=$1/framework/CMakeFiles
v3=$objs/trident_cpu_x86_64_v3.dir/backend/cpu
base=$objs/trident_backend.dir/backend/cpu
if [ ! -d "$v3" ]; then
  echo "kernel_variants: no x86-64-v3 objects in $objs (TRIDENT_CPU_ARCH set, or not x86-64): nothing to check"
  exit 0
fi
beyond='	(v[a-z0-9]+|addsubp[sd]|h(add|sub)p[sd]|lddqu|movddup|movs[hl]dup|fisttp[a-z]*|pabs[bwd]|palignr|ph(add|sub)(w|d|sw)|pmaddubsw|pmulhrsw|pshufb|psign[bwd]|blendv?p[sd]|dpp[sd]|extractps|insertps|movntdqa|mpsadbw|packusdw|pblendvb|pblendw|pcmpeqq|pextr[bdq]|phminposuw|pinsr[bdq]|pmaxs[bd]|pmaxu[dw]|pmins[bd]|pminu[dw]|pmov[sz]x[a-z]*|pmuldq|pmulld|ptest|round[ps][sd]|crc32[a-z]*|pcmp[ei]str[im]|pcmpgtq|popcnt|lzcnt|movbe|andn|bextr|blsi|blsmsk|blsr|bzhi|mulx|pdep|pext|rorx|sarx|shlx|shrx)[ 	]|%[yz]mm'
fail=0
dis=$(mktemp)
trap 'rm -f "$dis"' EXIT
for o in "$base"/*.o; do
  if objdump -d --no-show-raw-insn "$o" | grep -Eq "$beyond"; then
    echo "kernel_variants: the baseline object $(basename "$o") holds instructions beyond x86-64:"
    objdump -d --no-show-raw-insn "$o" | grep -E "$beyond" | head -3
    fail=1
  fi
done
v3_avx=0
for o in "$v3"/*.o; do
  objdump -d --no-show-raw-insn "$o" > "$dis"
  n=$(grep -Ec '	v[a-z0-9]+[ 	]' "$dis" || true)
  v3_avx=$((v3_avx + n))
  # Weak function symbols (W), as objdump labels them.
  for sym in $(nm --defined-only "$o" | awk '$2 == "W" {print $3}'); do
    if awk -v s="<$sym>:" '$2 == s {p = 1; next} /^[0-9a-f]+ <.*>:$/ {p = 0} p' "$dis" | grep -Eq "$beyond"; then
      echo "kernel_variants: $(basename "$o") keeps a weak function with instructions beyond x86-64: $(echo "$sym" | c++filt)"
      echo "  (a header was included after kernel_target.h, or code it defines moved below the pragma)"
      fail=1
    fi
  done
done
if [ "$v3_avx" -eq 0 ]; then
  echo "kernel_variants: the x86-64-v3 objects hold no AVX instruction: the target pragma did not apply"
  fail=1
fi
[ $fail -eq 0 ] && echo "kernel_variants: baseline objects within x86-64; $v3_avx AVX instructions in the x86-64-v3 kernels, none beyond x86-64 in their weak functions"
exit $fail
