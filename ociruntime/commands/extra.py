"""The less frequent commands: exec, ps, update, events, list, check,
features, spec, checkpoint and restore (commands/__init__.py)."""

from __future__ import annotations

import sys

from .. import oslite as os
from ..errors import OCIError, os_error_text
from . import check_pid_file, check_preserve_fds, container

TYPE_CHECKING = False
if TYPE_CHECKING:
    from . import Invocation


def cmd_exec(a: Invocation) -> int:
    """Every failure of exec itself exits 255, as runc's do (the process's own
    status is returned as is), with one line: its usage errors too
    (cli.Args.parse_command), and an OSError from anywhere.  A signal that
    stopped it before the process ran keeps its 128+N."""
    try:
        return _exec(a)
    except OCIError as e:
        if e.exit_code <= 128:
            e.exit_code = 255
        raise
    except OSError as e:
        raise OCIError(os_error_text(e), exit_code=255) from None


def _exec(a: Invocation) -> int:
    from ..container import Container

    o = a.opts
    if not a.pos:
        raise OCIError("exec: container-id is required (ociruntime exec --help)", exit_code=255)
    check_pid_file(o["pid_file"])
    check_preserve_fds(o["preserve_fds"])
    c = Container(a.id, a.g["root"])
    if o["process"]:
        from ..config.load import check_env, read_json
        from ..config.validate import validate_process

        name = os.path.basename(o["process"])
        proc = read_json(o["process"], name)
        validate_process(proc, name)
        check_env(proc.get("env"), "/env", name)
        if not proc.get("args"):
            raise OCIError(f"{o['process']}: process.args must not be empty", exit_code=255)
        proc = from_the_container(c, proc)
    else:
        if len(a.pos) < 2:
            raise OCIError("exec: give a command to run, or --process FILE", exit_code=255)
        proc = exec_process(c, a.pos[1:], o)
    cwd = proc.get("cwd") or "/"
    if not cwd.startswith("/"):
        where = f"{o['process']}: /cwd" if o["process"] else "--cwd"
        raise OCIError(f"{where}: {cwd}: the cwd must be an absolute path", exit_code=255)
    from .. import log

    log.name_sources(lambda where: exec_where(where, o))  # an unknown --cap's warning
    try:
        return c.exec(
            proc,
            detach=o["detach"],
            pid_file=o["pid_file"],
            console_socket=o["console_socket"],
            preserve_fds=o["preserve_fds"],
            ignore_paused=o["ignore_paused"],
            sub_cgroup=o["cgroup"],
        )
    except OCIError as e:
        e.where = exec_where(e.where, o)
        raise


# the process fields exec's flags set, and the flag that set each
_FLAG_OF = {
    "cwd": "--cwd",
    "user": "--user",
    "env": "--env",
    "capabilities": "--cap",
    "apparmorProfile": "--apparmor",
    "selinuxLabel": "--process-label",
}


_FLAG_OPTS = {"--process-label": "process_label"}  # a flag's key in the options, where not its name


def _pointer_below(where: str | None, prefix: str) -> str | None:
    """The JSON pointer below ``prefix`` ("/" for itself) when an error's
    where is ``prefix`` or below it, else None."""
    if not where or not (where == prefix or where.startswith(prefix + "/")):
        return None
    return where[len(prefix) :] or "/"


def exec_where(where: str | None, o: dict) -> str | None:
    """The process exec runs is checked with config.json's pointers
    (``config.json: /process/cwd``), which name the wrong thing when the
    value came from ``--process FILE`` (``FILE: /cwd``) or a flag (``--cwd``).
    runc says config.json there too; a wrong where sends the user to the
    wrong file."""
    pointer = _pointer_below(where, "config.json: /process")
    if pointer is None:
        return where
    if o["process"]:
        return f"{o['process']}: {pointer}"
    field = pointer.split("/")[1]
    flag = _FLAG_OF.get(field)
    if field == "args" or (flag and o[_FLAG_OPTS.get(flag, flag[2:])]):
        return flag or "the command"
    return where


def _json_copy(v: object) -> object:
    """A deep copy of JSON data (``copy`` would import weakref and the ABCs)."""
    if isinstance(v, dict):
        return {k: _json_copy(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_json_copy(x) for x in v]
    return v


MAX_ID = 4294967294  # (uid_t)-1 means "unchanged" to the kernel


def _id(s: str) -> int:
    if not (s.isascii() and s.isdigit()) or int(s) > MAX_ID:
        raise ValueError(s)
    return int(s)


def from_the_container(c, proc: dict) -> dict:
    """A --process file's process with runc's defaults from the container's
    own: its capabilities when the file has none (not the runtime's full
    set), its AppArmor profile, SELinux label and rlimits when the file's
    are empty.  noNewPrivileges is the file's (absent: false), as runc's."""
    base = (c.store.load(c.id).get("config") or {}).get("process") or {}
    proc = dict(proc)
    if "capabilities" not in proc and "capabilities" in base:
        proc["capabilities"] = _json_copy(base["capabilities"])
    for key in ("apparmorProfile", "selinuxLabel", "rlimits"):
        if not proc.get(key) and base.get(key):
            proc[key] = _json_copy(base[key])
    return proc


def exec_process(c, args: list[str], o: dict) -> dict:
    """runc's way: the container's process, with the flags' overrides."""
    base = _json_copy(((c.store.load(c.id).get("config") or {}).get("process")) or {})
    proc = {k: v for k, v in base.items() if k not in ("consoleSize",)}
    proc["args"] = args
    proc["terminal"] = o["tty"]
    env = list(base.get("env") or [])
    for kv in o["env"]:
        key, sep, _ = kv.partition("=")
        if not sep or not key:
            why = "missing '='" if not sep else "name cannot be empty"
            raise OCIError(f"exec: --env {kv}: invalid environment variable: {why}", exit_code=255)
        env = [e for e in env if e.split("=", 1)[0] != key] + [kv]
    proc["env"] = env
    if o["cwd"]:
        proc["cwd"] = o["cwd"]
    user = dict(base.get("user") or {"uid": 0, "gid": 0})
    if o["user"]:
        uid, _, gid = o["user"].partition(":")
        try:
            user["uid"] = _id(uid)
            if gid:
                user["gid"] = _id(gid)
        except ValueError:
            raise OCIError(
                f"exec: --user {o['user']}: expected UID[:GID], numbers from 0 to {MAX_ID}",
                exit_code=255,
            ) from None
    for g in o["additional_gids"]:
        if not 0 <= g <= MAX_ID:
            raise OCIError(
                f"exec: --additional-gids {g}: expected a number from 0 to {MAX_ID}", exit_code=255
            )
    if o["additional_gids"]:
        user["additionalGids"] = list(user.get("additionalGids") or []) + o["additional_gids"]
    proc["user"] = user
    if o["cap"]:
        caps = proc.setdefault("capabilities", {})
        for s in ("bounding", "effective", "permitted"):
            caps[s] = list(dict.fromkeys((caps.get(s) or []) + o["cap"]))
    if o["no_new_privs"]:
        proc["noNewPrivileges"] = True
    if o["apparmor"]:
        proc["apparmorProfile"] = o["apparmor"]
    if o["process_label"]:
        proc["selinuxLabel"] = o["process_label"]
    return proc


def cmd_ps(a: Invocation) -> int:
    from .. import jsonio

    fmt = a.opts["format"]
    if fmt not in ("table", "json"):
        raise OCIError(f"invalid format {fmt!r}: expected table or json")
    pids = container(a).pids()
    if fmt == "json":
        print(jsonio.dumps(pids))
        return 0
    import subprocess

    out = subprocess.run(["ps", *(a.pos[1:] or ["-ef"])], capture_output=True, text=True)
    if out.returncode != 0:
        raise OCIError(f"ps: {out.stderr.strip()}")
    lines = out.stdout.splitlines()
    if not lines:
        return 0
    try:
        col = lines[0].split().index("PID")
    except ValueError:
        raise OCIError("ps: no PID column in its output") from None
    print(lines[0])
    want = {str(p) for p in pids}
    for line in lines[1:]:
        fields = line.split()
        if len(fields) > col and fields[col] in want:
            print(line)
    return 0


def _bytes(v: str | None) -> int | None:
    """runc's size flags: 1024, 512k, 64m, 1g; -1 is unlimited."""
    if v is None:
        return None
    s = v.strip().lower().removesuffix("b")
    mult = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}.get(s[-1:], 1)
    try:
        return int(s[:-1] if mult > 1 else s) * mult
    except ValueError:
        raise OCIError(
            f"invalid size {v!r}: expected bytes, with an optional k, m, g suffix"
        ) from None


def cmd_update(a: Invocation) -> int:

    o = a.opts
    if o["resources"]:
        from ..config.load import MAX_JSON, parse_json, read_file_capped

        if o["resources"] == "-":
            text = sys.stdin.buffer.read(MAX_JSON + 1)
            if len(text) > MAX_JSON:
                raise OCIError(f"resources: larger than {MAX_JSON >> 20} MiB")
        else:
            text = read_file_capped(o["resources"])
        res = parse_json(text, "resources")
        if not isinstance(res, dict):
            raise OCIError("resources: expected a JSON object (linux.resources)")
        from ..config.validate import validate_resources

        validate_resources(res)
    else:
        res = {}
        mem = {
            k: _bytes(o[f])
            for k, f in (
                ("limit", "memory"),
                ("reservation", "memory_reservation"),
                ("swap", "memory_swap"),
                ("kernel", "kernel_memory"),
                ("kernelTCP", "kernel_memory_tcp"),
            )
            if o[f]
        }
        cpu = {
            k: o[f]
            for k, f in (
                ("shares", "cpu_shares"),
                ("quota", "cpu_quota"),
                ("period", "cpu_period"),
                ("burst", "cpu_burst"),
                ("realtimePeriod", "cpu_rt_period"),
                ("realtimeRuntime", "cpu_rt_runtime"),
                ("idle", "cpu_idle"),
                ("cpus", "cpuset_cpus"),
                ("mems", "cpuset_mems"),
            )
            if o[f] is not None
        }
        if mem:
            res["memory"] = mem
        if cpu:
            res["cpu"] = cpu
        if o["pids_limit"] is not None:
            res["pids"] = {"limit": o["pids_limit"]}
        if o["blkio_weight"] is not None:
            res["blockIO"] = {"weight": o["blkio_weight"]}
        if o["l3_cache_schema"] is not None or o["mem_bw_schema"] is not None:
            flag = "--l3-cache-schema" if o["l3_cache_schema"] is not None else "--mem-bw-schema"
            raise OCIError(
                "Intel RDT is not supported by this runtime (features: intelRdt.enabled false)",
                flag,
            )
        if not res:
            raise OCIError("update: nothing to change (give --resources or a resource flag)")
    try:
        container(a).update(res)
    except OCIError as e:
        e.where = update_where(e.where, o)
        raise
    return 0


# linux.resources fields update's flags set, and the flag that set each
_UPDATE_FLAG_OF = {
    "memory/limit": "--memory",
    "memory/reservation": "--memory-reservation",
    "memory/swap": "--memory-swap",
    "memory/kernel": "--kernel-memory",
    "memory/kernelTCP": "--kernel-memory-tcp",
    "cpu/shares": "--cpu-share",
    "cpu/quota": "--cpu-quota",
    "cpu/period": "--cpu-period",
    "cpu/burst": "--cpu-burst",
    "cpu/realtimePeriod": "--cpu-rt-period",
    "cpu/realtimeRuntime": "--cpu-rt-runtime",
    "cpu/idle": "--cpu-idle",
    "cpu/cpus": "--cpuset-cpus",
    "cpu/mems": "--cpuset-mems",
    "pids/limit": "--pids-limit",
    "blockIO/weight": "--blkio-weight",
}


def update_where(where: str | None, o: dict) -> str | None:
    """update's values are checked with config.json's pointers
    (``config.json: /linux/resources/memory/swap``), though they came from a
    flag (``--memory-swap``) or the ``--resources`` file (``FILE: /memory/swap``):
    as exec_where, name what gave them."""
    pointer = _pointer_below(where, "config.json: /linux/resources")
    if pointer is None:
        return where
    if o["resources"]:
        return f"{'stdin' if o['resources'] == '-' else o['resources']}: {pointer}"
    return _UPDATE_FLAG_OF.get("/".join(pointer.split("/")[1:3]), where)


def _interval(v: str) -> float:
    s = v.strip()
    mult = 1.0
    for suf, m in (("ms", 0.001), ("s", 1.0), ("m", 60.0)):
        if s.endswith(suf):
            s, mult = s[: -len(suf)], m
            break
    try:
        f = float(s) * mult
    except ValueError:
        f = -1
    if f <= 0:
        raise OCIError(f"invalid --interval {v!r}: expected a duration such as 5s or 500ms")
    return f


def cmd_events(a: Invocation) -> int:
    import time

    from .. import jsonio

    c = container(a)
    # one compact JSON object a line, as runc's encoding/json writes them
    if a.opts["stats"]:
        print(
            jsonio.dumps({"type": "stats", "id": c.id, "data": c.stats()}, compact=True), flush=True
        )
        return 0
    every = _interval(a.opts["interval"])
    import gc

    gc.enable()  # entry.py turns it off for short commands; this one may run for hours
    ooms = c.oom_kills()
    while True:
        try:
            data = c.stats()
        except OCIError:
            return 0  # the container is gone: the stream ends
        n = c.oom_kills()
        if n > ooms:
            print(jsonio.dumps({"type": "oom", "id": c.id}, compact=True), flush=True)
            ooms = n
        print(jsonio.dumps({"type": "stats", "id": c.id, "data": data}, compact=True), flush=True)
        time.sleep(every)


def cmd_list(a: Invocation) -> int:
    from .. import jsonio
    from ..state import Store

    if a.opts["format"] not in ("table", "json"):
        raise OCIError(f"invalid format {a.opts['format']!r}: expected table or json")
    store = Store(a.g["root"])
    states = []
    for cid in store.ids():
        try:
            states.append(store.public(cid, store.load(cid)))
        except OCIError:
            continue
    if a.opts["quiet"]:
        for s in states:
            print(s["id"])
    elif a.opts["format"] == "json":
        print(jsonio.dumps([runc_list_entry(s) for s in states], compact=True))
    else:
        rows = [("ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER")]
        rows += [
            (s["id"], str(s["pid"]), s["status"], s["bundle"], s["created"], s["owner"])
            for s in states
        ]
        widths = [max(len(r[i]) for r in rows) for i in range(6)]
        for r in rows:
            print("   ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())
    return 0


def runc_list_entry(state: dict) -> dict:
    """A state as runc's ``list -f json`` prints it: runc's key order, and
    annotations only when there are some (Go's omitempty)."""
    out = {k: state[k] for k in ("ociVersion", "id", "pid", "status", "bundle", "rootfs")}
    out["created"] = state["created"]
    if state.get("annotations"):
        out["annotations"] = state["annotations"]
    out["owner"] = state["owner"]
    return out


def cmd_check(a: Invocation) -> int:
    from .. import jsonio
    from ..check import checks, table

    if a.opts["format"] not in ("table", "json"):
        raise OCIError(f"invalid format {a.opts['format']!r}: expected table or json")
    results = checks()
    bad = [r for r in results if r.required and not r.ok]
    if a.opts["format"] == "json":
        print(jsonio.dumps({"ok": not bad, "checks": [r.as_dict() for r in results]}, indent=2))
    else:
        print(table(results))
        for r in bad:
            sys.stderr.write(f"ociruntime: required: {r.name}: {r.detail} (fix: {r.fix})\n")
    return 1 if bad else 0


def cmd_features(a: Invocation) -> int:
    from .. import jsonio
    from ..features import features

    print(jsonio.dumps(features(), indent=4))
    return 0


def cmd_spec(a: Invocation) -> int:
    from .. import jsonio
    from ..config.default import default_config

    path = os.path.join(a.opts["bundle"], "config.json")
    if os.path.exists(path):
        raise OCIError(f"{path} exists: remove it first")
    with open(path, "x") as f:
        f.write(jsonio.dumps(default_config(rootless=a.opts["rootless"]), indent=2) + "\n")
    return 0


def _criu_kw(a: Invocation) -> dict:
    o = a.opts
    return {
        "criu_path": a.g["criu"],
        "image_path": o["image_path"],
        "work_path": o["work_path"],
        "tcp_established": o["tcp_established"],
        "ext_unix_sk": o["ext_unix_sk"],
        "shell_job": o["shell_job"],
        "file_locks": o["file_locks"],
        "manage_cgroups_mode": o["manage_cgroups_mode"],
        "empty_ns": o["empty_ns"],
        "auto_dedup": o["auto_dedup"],
        "lazy_pages": o["lazy_pages"],
    }


def cmd_checkpoint(a: Invocation) -> int:
    o = a.opts
    container(a).checkpoint(
        parent_path=o["parent_path"],
        leave_running=o["leave_running"],
        pre_dump=o["pre_dump"],
        page_server=o["page_server"],
        status_fd=o["status_fd"],
        **_criu_kw(a),
    )
    return 0


def cmd_restore(a: Invocation) -> int:
    from ..container import Container

    o = a.opts
    check_pid_file(o["pid_file"])
    kw = _criu_kw(a)
    kw["image_path"] = kw["image_path"] or "checkpoint"
    return Container.restore(
        a.id,
        o["bundle"],
        a.g["root"],
        detach=o["detach"],
        pid_file=o["pid_file"],
        console_socket=o["console_socket"],
        no_subreaper=o["no_subreaper"],
        lsm_profile=o["lsm_profile"],
        lsm_mount_context=o["lsm_mount_context"],
        **kw,
    )
