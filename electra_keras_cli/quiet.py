"""Keep the frameworks' C++ start-up logging off the command line's output.

TensorFlow, XLA and JAX log from C++ straight to file descriptor 2: "Could not find cuda
drivers", a cuInit "error" on machines without a GPU, oneDNN notices, "All log messages before
absl::InitializeLog() is called are written to STDERR". TF_CPP_MIN_LOG_LEVEL silences only some
of them, and only when set before TensorFlow loads. `filter_framework_logging()` sets it and puts
a filter on descriptor 2 that drops lines in the C++ log format (``I0000 00:00:1796 ... file.cc:31]
...``) and the absl banner, and passes everything else through: Python warnings, tracebacks
and the frameworks' Python-level warnings stay. `electra-keras --verbose` leaves both alone.
"""

import atexit
import os
import re
import sys
import threading

# glog / absl C++ lines: severity, date (MMDD), time, thread id, file:line]
CPP_LOG_LINE = re.compile(rb"^[IWEF]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ [^\s:]+:\d+\] ")
ABSL_BANNER = b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
# TensorFlow's own start-up notices that come as several C++ lines (the CPU-instructions one)
CONTINUATIONS = (b"To enable the following instructions:",)


def is_framework_log(line):
    """True for a line of C++ framework logging (bytes, without its end of line)."""
    line = line.lstrip(b"\r")
    return bool(CPP_LOG_LINE.match(line)) or line.startswith(ABSL_BANNER) or line.startswith(CONTINUATIONS)


def _may_start_log(partial):
    """Whether a partial line could be the beginning of a framework log line."""
    partial = partial.lstrip(b"\r")
    return bool(re.match(rb"[IWEF]\d", partial)) or ABSL_BANNER.startswith(partial[:len(ABSL_BANNER)])


_installed = False


def filter_framework_logging():
    """Before any framework is imported: quiet TensorFlow's C++ logging and filter descriptor 2
    (once per process; for a program's `main`, not for a library call)."""
    global _installed
    if _installed:
        return
    _installed = True
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # C++ INFO and WARNING lines
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    try:
        real = os.dup(2)
        read_end, write_end = _channel(real)
    except OSError:  # no descriptor 2 to filter
        return
    sys.stderr.flush()
    os.dup2(write_end, 2)
    os.close(write_end)
    thread = threading.Thread(target=_forward, args=(read_end, real), name="stderr-filter", daemon=True)
    thread.start()

    def restore():
        sys.stderr.flush()
        os.dup2(real, 2)  # closes the pipe's last write end: the thread reads to the end
        thread.join(timeout=5)

    atexit.register(restore)


def _channel(real):
    """(read end, write end) to put in front of `real`: a pipe, or a pseudo-terminal of the same
    size when `real` is a terminal, so that progress bars drawn on stderr (the vocabulary
    learner's) still see one."""
    if not os.isatty(real):
        return os.pipe()
    import fcntl
    import pty
    import termios

    read_end, write_end = pty.openpty()
    attributes = termios.tcgetattr(write_end)
    attributes[1] &= ~termios.ONLCR  # pass "\n" through as it is
    termios.tcsetattr(write_end, termios.TCSANOW, attributes)
    try:
        fcntl.ioctl(write_end, termios.TIOCSWINSZ, fcntl.ioctl(real, termios.TIOCGWINSZ, b"\0" * 8))
    except OSError:
        pass
    return read_end, write_end


def _forward(read_end, real):
    """Copy lines from `read_end` to `real`, dropping framework log lines; a partial line (a
    progress bar's carriage-return update) is passed on as soon as it is clearly not one."""
    pending = b""
    with os.fdopen(read_end, "rb", buffering=0) as source:
        while True:
            try:
                chunk = source.read(65536)
            except OSError:  # a pseudo-terminal's reader gets EIO, not end of file, once it is closed
                chunk = b""
            if not chunk:
                break
            pending += chunk
            *lines, pending = re.split(rb"(?<=[\n\r])", pending)
            out = b"".join(line for line in lines if not is_framework_log(line.rstrip(b"\r\n")))
            if pending and not _may_start_log(pending):
                out, pending = out + pending, b""
            if out:
                os.write(real, out)
    if pending and not is_framework_log(pending):
        os.write(real, pending)
