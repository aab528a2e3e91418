// Note [kernel variants]: the files of cpu/ are compiled twice on x86-64 in
// a portable build (TRIDENT_CPU_ARCH empty, the default): once for any
// x86-64 CPU and once, in namespace x86_64_v3, for x86-64-v3 (AVX2, FMA,
// F16C), and make_cpu_backend picks one at run time (cpu_dispatch.cc).
// The second compilation turns on the v3 instructions with this pragma, for
// the code that follows it only. So every file of cpu/ includes this header
// LAST: functions defined in headers included earlier (the standard
// library's, oneDNN's, ours) keep the baseline target, so their copies that
// the linker may keep for the whole program never hold instructions an older
// CPU lacks; they are still inlined into the v3 kernels that call them.
// Never include another header after this one.
#pragma once

#if defined(TRIDENT_CPU_X86_64_V3)
#pragma GCC target("arch=x86-64-v3")
#endif
