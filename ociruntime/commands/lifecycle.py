"""create, run, start, state, kill, delete, pause and resume: the commands
on every container's path (commands/__init__.py)."""

from __future__ import annotations

from . import container, create_kw

TYPE_CHECKING = False
if TYPE_CHECKING:
    from . import Invocation


def cmd_create(a: Invocation) -> int:
    from ..container import Container

    Container.create(a.id, a.opts["bundle"], a.g["root"], **create_kw(a))
    return 0


def cmd_run(a: Invocation) -> int:
    from ..container import Container

    return Container.run(
        a.id,
        a.opts["bundle"],
        a.g["root"],
        detach=a.opts["detach"],
        keep=a.opts["keep"],
        **create_kw(a),
    )


def cmd_pause(a: Invocation) -> int:
    container(a).pause()
    return 0


def cmd_resume(a: Invocation) -> int:
    container(a).resume()
    return 0


def cmd_start(a: Invocation) -> int:
    container(a).start()
    return 0


def cmd_state(a: Invocation) -> int:
    from ..state import Store

    print(Store(a.g["root"]).state_text(a.id))
    return 0


def cmd_kill(a: Invocation) -> int:
    container(a).kill(a.pos[1] if len(a.pos) > 1 else "TERM", all=a.opts["all"])
    return 0


def cmd_delete(a: Invocation) -> int:
    container(a).delete(force=a.opts["force"])
    return 0
