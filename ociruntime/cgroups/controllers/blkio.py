"""blockIO: weight, leafWeight, weightDevice and the four throttle lists."""

from ...errors import SpecError

P = "/linux/resources/blockIO/"
THROTTLE = (
    ("throttleReadBpsDevice", "blkio.throttle.read_bps_device", "rbps"),
    ("throttleWriteBpsDevice", "blkio.throttle.write_bps_device", "wbps"),
    ("throttleReadIOPSDevice", "blkio.throttle.read_iops_device", "riops"),
    ("throttleWriteIOPSDevice", "blkio.throttle.write_iops_device", "wiops"),
)


def weight_to_v2(w: int) -> int:
    """blkio weight [10, 1000] -> io.weight [1, 10000]."""
    return 1 + (w - 10) * 9999 // 990


def _weight_file(has, v2: bool) -> str:
    if v2:
        return (
            "io.bfq.weight"
            if not has("", "io.weight") and has("", "io.bfq.weight")
            else "io.weight"
        )
    return (
        "blkio.weight"
        if has("blkio", "blkio.weight") or not has("blkio", "blkio.bfq.weight")
        else "blkio.bfq.weight"
    )


def v1(res: dict, has) -> list[tuple[str, str, str]]:
    b = res.get("blockIO") or {}
    out = []
    wf = _weight_file(has, False)
    if b.get("weight"):
        out.append(("blkio", wf, str(b["weight"])))
    if b.get("leafWeight"):
        out.append(("blkio", "blkio.leaf_weight", str(b["leafWeight"])))
    for i, d in enumerate(b.get("weightDevice") or []):
        if d.get("weight"):
            out.append(
                (
                    "blkio",
                    wf + "_device",
                    f"{d['major']}:{d['minor']} {d['weight']}",
                )
            )
        if d.get("leafWeight"):
            out.append(
                (
                    "blkio",
                    "blkio.leaf_weight_device",
                    f"{d['major']}:{d['minor']} {d['leafWeight']}",
                )
            )
        if not d.get("weight") and not d.get("leafWeight"):
            raise SpecError(f"{P}weightDevice/{i}", "expected a weight or a leafWeight")
    for key, file, _ in THROTTLE:
        for d in b.get(key) or []:
            # (no rate: 0, which lifts the limit, as runc writes it)
            out.append(("blkio", file, f"{d['major']}:{d['minor']} {d.get('rate', 0)}"))
    return out


def v2(res: dict, has) -> list[tuple[str, str]]:
    b = res.get("blockIO") or {}
    out = []
    wf = _weight_file(has, True)
    conv = weight_to_v2 if wf == "io.weight" else (lambda w: w)
    if b.get("weight"):
        out.append((wf, f"default {conv(b['weight'])}"))
    if b.get("leafWeight"):
        raise SpecError(P + "leafWeight", "not available on cgroup v2")
    for d in b.get("weightDevice") or []:
        if d.get("weight"):
            out.append((wf, f"{d['major']}:{d['minor']} {conv(d['weight'])}"))
    for key, _, v2key in THROTTLE:
        for d in b.get(key) or []:
            out.append(("io.max", f"{d['major']}:{d['minor']} {v2key}={d.get('rate') or 'max'}"))
    return out
