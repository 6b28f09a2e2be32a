"""The command line's output: no framework C++ logging before (or among) its own lines, and
`--help` without importing a framework."""

import os
import subprocess
import sys

from electra_keras_cli.quiet import is_framework_log

REAL_LINES = [  # as TensorFlow 2.21 and jaxlib write them on a CPU-only machine
    b"I0000 00:00:1796121854.563085   21506 port.cc:153] oneDNN custom operations are on.",
    b"I0000 00:00:1796121854.563544   21506 cudart_stub.cc:31] Could not find cuda drivers on your machine",
    b"E0000 00:00:1796121862.819820   21506 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error",
    b"W1201 10:41:19.123456  123 xla_bridge.cc:900] An NVIDIA GPU may be present on this machine",
    b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    b"To enable the following instructions: AVX2 AVX512F FMA, in other operations, rebuild TensorFlow",
]
OWN_LINES = [
    b"electra-keras pretrain: error: /data/x.txt: no such file or directory",
    b"Traceback (most recent call last):",
    b"UserWarning: I0000 is not a log line when it does not start the line",
    b"E1 loss 0.5",
    b"WARNING:absl:a real warning from Python stays",
]


def test_framework_log_lines_are_recognised_and_nothing_else():
    assert [is_framework_log(line) for line in REAL_LINES] == [True] * len(REAL_LINES)
    assert [is_framework_log(line) for line in OWN_LINES] == [False] * len(OWN_LINES)


def run_cli(*args):
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "GRPC_VERBOSITY")}
    return subprocess.run([sys.executable, "-m", "electra_keras_cli", *args], env=env, capture_output=True,
                          timeout=300)


def test_a_command_prints_its_own_lines_first_and_a_bad_input_error_stays():
    result = run_cli("info", "--preset", "tiny")
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.decode().splitlines()[0] == "preset tiny"
    assert not any(is_framework_log(line) for line in result.stderr.splitlines()), result.stderr.decode()
    result = run_cli("detect", "--model", "/nonexistent/run", "a text")
    assert result.returncode == 2
    assert result.stderr.decode().startswith("electra-keras detect: error: ")


def test_help_imports_no_framework():
    code = ("import sys\nimport electra_keras_cli\ntry:\n    electra_keras_cli.main(['pretrain', '--help'])\n"
            "except SystemExit:\n    pass\n"
            "print(sorted(m for m in ('tensorflow', 'keras', 'jax', 'torch') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120)
    assert result.stdout.decode().splitlines()[-1] == "[]", result.stderr.decode()
