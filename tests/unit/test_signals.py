"""Unit tests for ociruntime.container.parse_signal.

What callers send: containerd and podman pass numbers ("9", "15"),
runtime-tools and people pass names with or without "SIG" in any case, and
moby's signal table adds RTMIN, RTMIN+n, RTMAX-n, RTMAX.  Numbers follow Go's
strconv.Atoi (ASCII digits only); valid signals are 1..NSIG-1.
"""

from __future__ import annotations

import signal

import pytest

from ociruntime.container import parse_signal
from ociruntime.errors import OCIError

RTMIN = int(signal.SIGRTMIN)
RTMAX = int(signal.SIGRTMAX)

# golang.org/x/sys/unix's signal list on Linux: what runc accepts by name
STANDARD = {
    "HUP": 1,
    "INT": 2,
    "QUIT": 3,
    "ILL": 4,
    "TRAP": 5,
    "ABRT": 6,
    "BUS": 7,
    "FPE": 8,
    "KILL": 9,
    "USR1": 10,
    "SEGV": 11,
    "USR2": 12,
    "PIPE": 13,
    "ALRM": 14,
    "TERM": 15,
    "STKFLT": 16,
    "CHLD": 17,
    "CONT": 18,
    "STOP": 19,
    "TSTP": 20,
    "TTIN": 21,
    "TTOU": 22,
    "URG": 23,
    "XCPU": 24,
    "XFSZ": 25,
    "VTALRM": 26,
    "PROF": 27,
    "WINCH": 28,
    "IO": 29,
    "PWR": 30,
    "SYS": 31,
}


def invalid(sig: object) -> str:
    with pytest.raises(OCIError) as ei:
        parse_signal(sig)
    text = str(ei.value)
    assert text.startswith("invalid signal")
    assert "\n" not in text
    return text


# ---- numbers ------------------------------------------------------------------------------


def test_int():
    assert parse_signal(9) == 9
    assert parse_signal(15) == 15
    assert parse_signal(1) == 1
    assert parse_signal(signal.NSIG - 1) == signal.NSIG - 1


def test_signals_enum():
    assert parse_signal(signal.SIGKILL) == 9
    assert parse_signal(signal.SIGRTMIN) == RTMIN


@pytest.mark.parametrize("n", [-1, -9, signal.NSIG, 1000])
def test_int_out_of_range(n):
    # same range as for "65": the kernel's EINVAL
    invalid(n)


@pytest.mark.parametrize("sig", [0, "0", "00", " 0 "])
def test_zero_is_the_existence_check(sig):
    """kill(2)'s signal 0 sends nothing and checks that the process exists:
    runc accepts it (``runc kill ID 0``), and so do we."""
    assert parse_signal(sig) == 0


@pytest.mark.parametrize(
    "s, n", [("9", 9), ("15", 15), ("1", 1), ("32", 32), ("64", 64), ("09", 9)]
)
def test_numeric_string(s, n):
    assert parse_signal(s) == n


def test_numeric_string_whitespace():
    assert parse_signal(" 9 ") == 9
    assert parse_signal("9\n") == 9


@pytest.mark.parametrize("s", [str(signal.NSIG), "100", "-9", "+9", "-0", "9.0", "0x9", "1e1"])
def test_numeric_string_invalid(s):
    text = invalid(s)
    assert s in text


@pytest.mark.parametrize(
    "s",
    [
        "\u0669",  # ARABIC-INDIC DIGIT NINE: int() takes it, Atoi does not
        "\uff19",  # FULLWIDTH DIGIT NINE
        "\u00b2",  # SUPERSCRIPT TWO: isdigit() but int() raises ValueError
        "\u2468",  # CIRCLED DIGIT NINE
    ],
)
def test_non_ascii_digits_invalid(s):
    invalid(s)


# ---- names ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, n", sorted(STANDARD.items(), key=lambda kv: kv[1]))
def test_standard_names(name, n):
    assert parse_signal(name) == n
    assert parse_signal("SIG" + name) == n
    assert parse_signal(name.lower()) == n
    assert parse_signal("sig" + name.lower()) == n


@pytest.mark.parametrize(
    "s", ["KILL", "SIGKILL", "kill", "sigkill", "Kill", "SigKill", "sIgKiLl", " KILL ", "SIGKILL\n"]
)
def test_kill_spellings(s):
    assert parse_signal(s) == signal.SIGKILL


def test_sigterm_lowercase():
    assert parse_signal("sigterm") == signal.SIGTERM
    assert parse_signal("term") == signal.SIGTERM


def test_names_match_python():
    for name, n in STANDARD.items():
        assert getattr(signal, "SIG" + name) == n


# ---- real-time signals ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "s, n",
    [
        ("RTMIN", RTMIN),
        ("SIGRTMIN", RTMIN),
        ("rtmin", RTMIN),
        ("RTMIN+1", RTMIN + 1),
        ("SIGRTMIN+1", RTMIN + 1),
        ("sigrtmin+3", RTMIN + 3),
        ("RTMIN+0", RTMIN),
        (f"RTMIN+{RTMAX - RTMIN}", RTMAX),
        ("RTMAX", RTMAX),
        ("SIGRTMAX", RTMAX),
        ("RTMAX-1", RTMAX - 1),
        ("SIGRTMAX-1", RTMAX - 1),
        ("sigrtmax-2", RTMAX - 2),
        ("RTMAX-0", RTMAX),
        (f"RTMAX-{RTMAX - RTMIN}", RTMIN),
    ],
)
def test_realtime(s, n):
    assert parse_signal(s) == n


@pytest.mark.parametrize(
    "s",
    [
        "RTMIN-1",
        "RTMAX+1",
        f"RTMIN+{RTMAX - RTMIN + 1}",
        f"RTMAX-{RTMAX - RTMIN + 1}",
        "RTMIN+",
        "RTMAX-",
        "RTMIN+x",
        "RTMIN++1",
        "RTMIN+-1",
        "RTMAX--1",
        "RTMINFOO",
        "RTMIN1",  # the sign is not optional
        "RTMAX1",
        "RTMIN 1",
        "RTMIN+ 1",
        "RTMIN+1.0",
        "RTMIN+0x1",
        "RTMIN+\u0661",  # ARABIC-INDIC DIGIT ONE
        "RTMIN+1_0",
        "RTMID",
        "SIGRT",
    ],
)
def test_realtime_invalid(s):
    invalid(s)


# ---- other invalid input -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "s",
    [
        "FOO",
        "65",
        " ",
        "SIG",
        "sig",
        "SIGSIGKILL",
        "SIG KILL",
        "SIG-KILL",
        "KILL9",
        "9KILL",
        "SIG_DFL",
        "SIG_IGN",
        "CTRL_C_EVENT",
        "NSIG",
        "SIGNSIG",
    ],
)
def test_invalid(s):
    invalid(s)


def test_empty_is_term_as_with_runc():
    """runc kill ID '' sends TERM (an empty argument is the default)."""
    assert parse_signal("") == signal.SIGTERM


def test_invalid_message_names_the_input():
    assert "FOO" in invalid("FOO")
    assert "sigfoo" in invalid("sigfoo")  # as given, not upper-cased
