"""Unit tests for ociruntime.linux.capabilities.parse."""

from ociruntime import log
from ociruntime.linux import capabilities


def test_unknown_names_are_left_out_with_one_warning_each(capsys):
    """runtime-spec 1.2: a runtime SHOULD NOT fail on an unknown capability."""
    log.setup(None)
    sets = capabilities.parse(
        {
            "bounding": ["CAP_KILL", "CAP_MAKE_COFFEE", "NOT_EVEN_PREFIXED"],
            "effective": ["CAP_MAKE_COFFEE", "CAP_KILL"],
        }
    )
    assert sets["bounding"] == sets["effective"] == {capabilities.CAPS["CAP_KILL"]}
    assert sets["permitted"] == sets["inheritable"] == sets["ambient"] == set()
    assert capsys.readouterr().err.splitlines() == [
        'ociruntime: warning: unknown capability "CAP_MAKE_COFFEE" ignored '
        "(config.json: /process/capabilities/bounding/1)",
        'ociruntime: warning: unknown capability "NOT_EVEN_PREFIXED" ignored '
        "(config.json: /process/capabilities/bounding/2)",
    ]


def test_known_names_say_nothing(capsys):
    log.setup(None)
    assert capabilities.parse({"bounding": ["CAP_SYS_ADMIN"]})["bounding"] == {21}
    assert capsys.readouterr().err == ""
