"""rdma: hca_handle and hca_object limits per device."""


def _lines(res: dict) -> list[str]:
    out = []
    for dev, lim in (res.get("rdma") or {}).items():
        parts = [
            f"{k}={lim[j]}"
            for k, j in (("hca_handle", "hcaHandles"), ("hca_object", "hcaObjects"))
            if j in lim
        ]
        if parts:
            out.append(f"{dev} {' '.join(parts)}")
    return out


def v1(res: dict, has) -> list[tuple[str, str, str]]:
    return [("rdma", "rdma.max", line) for line in _lines(res)]


def v2(res: dict, has) -> list[tuple[str, str]]:
    return [("rdma.max", line) for line in _lines(res)]
