"""cpu: what the CPU offers, read without TensorFlow; the bfloat16 notice and its override."""

import pytest

from lipsync_tf import cpu

AVX2_ONLY = frozenset({"sse4_2", "avx", "avx2", "fma"})
AVX512_BF16 = AVX2_ONLY | {"avx512f", "avx512_vnni", "avx512_bf16"}


@pytest.fixture
def flags(monkeypatch):
    """Pretend the CPU reports the given /proc/cpuinfo flags (no override, no oneDNN limit)."""
    for name in (cpu.NATIVE_BFLOAT16_ENV, *cpu.ONEDNN_ISA_ENVS):
        monkeypatch.delenv(name, raising=False)

    def use(reported):
        monkeypatch.setattr(cpu, "_cpuinfo", lambda: ("Test CPU", frozenset(reported)))

    return use


def test_an_avx2_cpu_has_no_native_bfloat16_and_gets_the_notice(flags):
    flags(AVX2_ONLY)
    assert not cpu.has_native_bfloat16() and not cpu.has_avx512()
    notice = cpu.bfloat16_notice("the model m")
    assert notice.startswith("the model m multiplies in bfloat16")
    assert "several times slower" in notice and "float32" in notice and "\n" not in notice


def test_avx512_bf16_or_amx_is_native_bfloat16_and_needs_no_notice(flags):
    flags(AVX512_BF16)
    assert cpu.has_native_bfloat16() and cpu.has_avx512()
    assert cpu.bfloat16_notice("the model m") is None
    flags(AVX2_ONLY | {"amx_bf16"})
    assert cpu.has_native_bfloat16()


def test_a_onednn_limit_counts_as_the_cpus(flags, monkeypatch):
    flags(AVX512_BF16)
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "avx2")
    assert not cpu.has_native_bfloat16() and not cpu.has_avx512()
    assert "oneDNN limited to AVX2" in cpu.describe()
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX512_CORE")
    assert cpu.has_avx512() and not cpu.has_native_bfloat16()


@pytest.mark.parametrize("value, native", [("1", True), ("0", False)])
def test_the_environment_overrides_the_detection(flags, monkeypatch, value, native):
    flags(AVX512_BF16 if not native else AVX2_ONLY)
    monkeypatch.setenv(cpu.NATIVE_BFLOAT16_ENV, value)
    assert cpu.has_native_bfloat16() is native
    assert (cpu.bfloat16_notice("x") is None) is native


def test_describe_names_the_model_and_the_extensions(flags):
    flags(AVX512_BF16)
    line = cpu.describe()
    assert line.startswith("Test CPU; AVX2 FMA AVX-512 AVX512-VNNI AVX512-BF16; oneDNN not limited")
