"""hf-xet's settings for the loader: its download buffer sized to the container's memory, no telemetry,
no chunk cache.

hf-xet 1.8 sizes its reconstruction download buffer from the machine's memory ("Derived download buffer
defaults from system memory"): on a 24 GiB host 1.58 GB, and 3.15 GB with ``HF_XET_HIGH_PERFORMANCE=1``,
growing to a limit four times that (``hf_xet.XetConfig().get("reconstruction.download_buffer_limit")``).
A GPU node has 64-192 GiB, the loader's container a 4 GiB limit (``modelLoader.resources``), and the
buffer holds fetched xorb data before it is written: measured with bench/model_loader.py (1 GiB from
the fake hub's Xet CAS), the loader's peak RSS follows the buffer (1 GiB buffer: ~1.0 GB RSS; 256 MiB:
~0.35 GB). So the loader sets the buffer explicitly (``HF_XET_RECONSTRUCTION_DOWNLOAD_BUFFER_SIZE``,
``..._LIMIT``, ``..._PERFILE_SIZE``; hf-xet reads them when its session is created, and they win over the
high-performance defaults) to a quarter of the container's memory limit (cgroup v2 ``memory.max``, v1
``memory.limit_in_bytes``; the machine's memory without one), at most 1 GiB: ``XET_BUFFER_BYTES`` overrides.
"""

from __future__ import annotations

import os
from pathlib import Path

GIB = 1 << 30
MAX_BUFFER = GIB
MIN_BUFFER = 64 << 20
_CGROUP_LIMITS = (Path("/sys/fs/cgroup/memory.max"), Path("/sys/fs/cgroup/memory/memory.limit_in_bytes"))


def memory_limit(cgroup_files: tuple[Path, ...] = _CGROUP_LIMITS) -> int:
    """The memory this process may use: its cgroup's limit, else the machine's memory."""
    physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for path in cgroup_files:
        try:
            text = path.read_text().strip()
        except OSError:
            continue
        if text.isdigit() and 0 < int(text) < physical:  # "max" or v1's huge "no limit" number
            return int(text)
    return physical


def buffer_bytes(configured: int | None, limit: int) -> int:
    if configured is not None:
        return configured
    return max(MIN_BUFFER, min(MAX_BUFFER, limit // 4))


def xet_environment(*, buffer: int, high_performance: bool) -> dict[str, str]:
    """What the loader sets for hf-xet (the caller keeps any value already in the environment)."""
    env = {
        "HF_XET_RECONSTRUCTION_DOWNLOAD_BUFFER_SIZE": str(buffer),
        "HF_XET_RECONSTRUCTION_DOWNLOAD_BUFFER_LIMIT": str(buffer),
        "HF_XET_RECONSTRUCTION_DOWNLOAD_BUFFER_PERFILE_SIZE": str(buffer // 2),
        # Each revision is fetched once per node: a chunk cache would only be a second copy on the disk.
        "HF_XET_CHUNK_CACHE_SIZE_BYTES": "0",
        # The loader opts out of telemetry (HF_HUB_DISABLE_TELEMETRY); hf-xet reports to the CAS on its own.
        "HF_XET_TELEMETRY_ENABLED": "false",
    }
    if high_performance:
        # More parallel xorb reads (up to 124 instead of 64); its larger buffers are capped above.
        env["HF_XET_HIGH_PERFORMANCE"] = "1"
    return env
