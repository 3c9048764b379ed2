"""What the CPU offers the model's arithmetic: its vector extensions and native bfloat16.

Read from /proc/cpuinfo (Linux) without importing TensorFlow, so exporting, loading a model and
every speed bench can say where they run. oneDNN, which runs TensorFlow's convolutions, can be
held below what the CPU has with ONEDNN_MAX_CPU_ISA (e.g. AVX2, to time the code path of CPUs
without AVX-512); that limit counts here as the CPU's.

LIPSYNC_NATIVE_BFLOAT16=1 or 0 overrides the detection of native bfloat16 (tests; a CPU the
detection misreads).
"""

from __future__ import annotations

import functools
import os
import platform
from pathlib import Path

NATIVE_BFLOAT16_ENV = "LIPSYNC_NATIVE_BFLOAT16"
ONEDNN_ISA_ENVS = ("ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA")
# oneDNN ISA limits below AVX512_CORE_BF16: with one of these oneDNN has no bfloat16 kernels.
_ONEDNN_ISAS_WITHOUT_BFLOAT16 = frozenset(
    {"SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX2_VNNI_2", "AVX512_CORE", "AVX512_CORE_VNNI"}
)
# oneDNN ISA limits below AVX512_CORE: oneDNN uses no AVX-512.
_ONEDNN_ISAS_WITHOUT_AVX512 = frozenset({"SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX2_VNNI_2"})
# (flag in /proc/cpuinfo, the name people know it by), in the order they are reported.
_EXTENSIONS = (
    ("avx2", "AVX2"),
    ("fma", "FMA"),
    ("avx512f", "AVX-512"),
    ("avx512_vnni", "AVX512-VNNI"),
    ("avx512_bf16", "AVX512-BF16"),
    ("amx_bf16", "AMX"),
)


@functools.cache
def _cpuinfo() -> tuple[str, frozenset[str]]:
    """(model name, flags) of the first CPU in /proc/cpuinfo; ("", {}) where there is none."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or platform.machine(), frozenset()
    model, flags = "", frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and not model:
            model = value.strip()
        elif key == "flags" and not flags:
            flags = frozenset(value.split())
    return model or platform.machine(), flags


def onednn_isa_limit() -> str | None:
    """The ISA oneDNN is limited to (ONEDNN_MAX_CPU_ISA, upper case), or None."""
    for name in ONEDNN_ISA_ENVS:
        value = os.environ.get(name, "").strip().upper()
        if value and value not in ("ALL", "DEFAULT"):
            return value
    return None


def vector_extensions() -> list[str]:
    """The CPU's vector extensions that matter here, by their usual names (AVX2, FMA, AVX-512,
    AVX512-VNNI, AVX512-BF16, AMX), as the CPU reports them."""
    flags = _cpuinfo()[1]
    return [name for flag, name in _EXTENSIONS if flag in flags]


def has_avx512() -> bool:
    """Whether TensorFlow's convolutions can use AVX-512 here (the CPU has it, oneDNN is not
    limited below it)."""
    return "avx512f" in _cpuinfo()[1] and onednn_isa_limit() not in _ONEDNN_ISAS_WITHOUT_AVX512


def has_native_bfloat16() -> bool:
    """Whether bfloat16 products run natively here: the CPU has AVX512-BF16 or AMX and oneDNN
    is not limited below them. Elsewhere bfloat16 is emulated, several times slower than
    float32. LIPSYNC_NATIVE_BFLOAT16=1/0 overrides."""
    forced = os.environ.get(NATIVE_BFLOAT16_ENV, "").strip()
    if forced:
        return forced.lower() not in ("0", "false", "no")
    flags = _cpuinfo()[1]
    if not flags & {"avx512_bf16", "amx_bf16"}:
        return False
    return onednn_isa_limit() not in _ONEDNN_ISAS_WITHOUT_BFLOAT16


def describe() -> str:
    """One line for benches and notices: the CPU model, its vector extensions and the oneDNN
    limit, e.g. "AMD EPYC; AVX2 FMA AVX-512 AVX512-VNNI AVX512-BF16; oneDNN limited to AVX2"."""
    model = _cpuinfo()[0] or "unknown CPU"
    extensions = " ".join(vector_extensions()) or "vector extensions unknown"
    limit = onednn_isa_limit()
    onednn = f"oneDNN limited to {limit}" if limit else "oneDNN not limited"
    if os.environ.get("TF_ENABLE_ONEDNN_OPTS", "").strip() == "0":
        onednn = "TensorFlow's oneDNN off (TF_ENABLE_ONEDNN_OPTS=0)"
    return f"{model}; {extensions}; {onednn}; {os.cpu_count()} cores"


def bfloat16_notice(what: str) -> str | None:
    """The one-line notice for `what` (a model, an export) that multiplies in bfloat16 on a CPU
    without native bfloat16, or None where it has it."""
    if has_native_bfloat16():
        return None
    return (
        f"{what} multiplies in bfloat16, but this CPU ({_cpuinfo()[0] or 'unknown'}) has no "
        "native bfloat16 (AVX512-BF16 or AMX), so it runs several times slower here than "
        "float32; export without --conv_dtype (float32, the default) to run it here."
    )
