"""podman as the image tests run it: Debian's packages, this directory's containers.conf.

Every call goes through ``podman()``, which points CONTAINERS_CONF at
tests/image/containers.conf (runc, cgroupfs, no default ulimits: what podman needs on
this kind of VM). ``unusable()`` says why podman cannot run here, or None.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONTAINERS_CONF = HERE / "containers.conf"
# Debian packages (binary they provide): podman and its builder, runtime, rootless
# networking and id maps, the pods' pause process, and the stand-in base's builder.
PACKAGES = {
    "podman": "podman",
    "buildah": "buildah",
    "runc": "runc",
    "slirp4netns": "slirp4netns",
    "uidmap": "newuidmap",
    "catatonit": "catatonit",
    "mmdebstrap": "mmdebstrap",
}
APT_LOCK_TIMEOUT = "900"


class PodmanError(RuntimeError):
    """podman exited non-zero; the message holds its command and stderr."""


def in_ci() -> bool:
    """CI=true: a podman that cannot run is a failure there, never a skip."""
    return os.environ.get("CI", "").lower() == "true"


def missing_packages() -> list[str]:
    """The Debian packages whose binary is not on PATH."""
    return [pkg for pkg, binary in PACKAGES.items() if not shutil.which(binary)]


def install_packages() -> None:
    """apt-get install what is missing (as root; waits for another apt to finish)."""
    missing = missing_packages()
    if not missing:
        return
    if not shutil.which("apt-get"):
        raise PodmanError(f"{', '.join(missing)} missing and no apt-get to install them")
    apt = ["apt-get", "-o", f"DPkg::Lock::Timeout={APT_LOCK_TIMEOUT}", "-q"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for args in (["update"], ["install", "-y", "--no-install-recommends", *missing]):
        proc = subprocess.run([*apt, *args], env=env, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise PodmanError(f"apt-get {' '.join(args)} failed:\n{proc.stderr[-2000:]}")


def podman_env() -> dict[str, str]:
    """The environment podman runs with: this one, CONTAINERS_CONF pointing here."""
    return {**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF)}


def podman(*args: str, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``podman ARGS`` with this directory's containers.conf; PodmanError on failure."""
    cmd = ["podman", *args]
    proc = subprocess.run(cmd, env=podman_env(), capture_output=True, text=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise PodmanError(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stderr[-4000:]}")
    return proc


def unusable() -> str | None:
    """Why podman cannot run containers here (after installing it if it can), or None."""
    try:
        install_packages()
    except PodmanError as exc:
        return str(exc)
    proc = podman("info", "--format", "{{.Host.OCIRuntime.Name}}", check=False, timeout=60)
    if proc.returncode != 0:
        return f"podman info failed: {proc.stderr.strip()[-1000:]}"
    return None


def main() -> int:
    """``python -m tests.image.podman``: install the packages; exit 1 if podman cannot run."""
    reason = unusable()
    if reason:
        print(f"podman cannot run here: {reason}")
        return 1
    print(f"podman ready ({podman('--version').stdout.strip()})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
