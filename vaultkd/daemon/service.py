"""Service files that run `vaultkd watch VAULT` at log-in: a systemd user unit or a launchd agent.

Pure builders (`systemd_unit`, `launchd_plist`) plus small install/uninstall/status helpers.
Nothing here starts or stops a service: install writes the file and returns the command the user
runs to enable it, so tests can install into a temporary folder without side effects.
"""

from __future__ import annotations

import hashlib
import os
import platform
import plistlib
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

LAUNCHD_PREFIX = "io.github.vaultkd"


class ServiceError(Exception):
    """A service operation that cannot be done here; the message says what to do instead."""


def slug(vault_root: Path) -> str:
    """A stable, unit-name-safe id for a vault: its folder name plus a hash of its full path."""
    absolute = str(Path(vault_root).absolute())
    name = re.sub(r"[^a-z0-9]+", "-", Path(absolute).name.lower()).strip("-")[:32] or "vault"
    digest = hashlib.sha256(absolute.encode("utf-8", "surrogateescape")).hexdigest()[:8]
    return f"{name}-{digest}"


def vaultkd_command() -> list[str]:
    """The absolute command that runs this vaultkd: the `vaultkd` script being run, the one
    installed next to this interpreter, or `python -m vaultkd` with this interpreter."""
    argv0 = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if argv0 is not None and argv0.name == "vaultkd" and argv0.is_file():
        return [str(argv0.absolute())]
    # Not resolved: a venv's python is a symlink, and resolving it would leave the venv.
    beside = Path(sys.executable).absolute().parent / "vaultkd"
    if beside.is_file() and os.access(beside, os.X_OK):
        return [str(beside)]
    return [str(Path(sys.executable).absolute()), "-m", "vaultkd"]


# -- systemd ----------------------------------------------------------------------------------


def systemd_quote(arg: str, *, executable: bool = False) -> str:
    """One ExecStart= word, double-quoted, reaching the program verbatim.

    systemd reads C escapes inside quotes and expands `%` specifiers everywhere (`%%` is a
    literal `%`). It expands `$VAR` in arguments but not in the executable's path, so `$` is
    doubled only in arguments. It refuses quotes, backslashes and control characters in the
    executable's path outright (checked with `systemd-analyze verify`, systemd 252).
    """
    if executable and re.search(r"[\"'\\\x00-\x1f\x7f]", arg):
        raise ServiceError(
            f"{arg}: systemd cannot run a program whose path holds quotes, backslashes or "
            "control characters; install vaultkd under a plainer path and retry"
        )
    out = []
    for char in arg:
        if char in ('"', "\\"):
            out.append("\\" + char)
        elif char == "%":
            out.append("%%")
        elif char == "$" and not executable:
            out.append("$$")
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\x{ord(char):02x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _plain_setting(text: str) -> str:
    # Description= and friends: one line, specifiers escaped.
    return re.sub(r"[\x00-\x1f\x7f]", " ", text).replace("%", "%%")


def unit_name(vault_root: Path) -> str:
    return f"vaultkd-{slug(vault_root)}.service"


def systemd_unit(vault_root: Path, command: list[str]) -> str:
    """The text of a systemd user unit that runs `command watch VAULT`."""
    vault = str(Path(vault_root).absolute())
    program, *args = [*command, "watch", vault]
    exec_start = " ".join(
        [systemd_quote(program, executable=True), *(systemd_quote(a) for a in args)]
    )
    return (
        "[Unit]\n"
        f"Description={_plain_setting(f'vaultkd: keep the distillations of {vault} current')}\n"
        "\n"
        "[Service]\n"
        "Type=exec\n"
        f"ExecStart={exec_start}\n"
        # Exit 1 (e.g. the vault is missing or another watcher holds it): try again later.
        "Restart=on-failure\n"
        "RestartSec=30\n"
        # SIGTERM lets the daemon finish the batch it is writing, then exit cleanly.
        "KillSignal=SIGTERM\n"
        "TimeoutStopSec=60\n"
        "Nice=10\n"
        "Environment=PYTHONUNBUFFERED=1\n"
        "\n"
        "[Install]\n"
        "WantedBy=default.target\n"
    )


def systemd_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "systemd" / "user"


# -- launchd ----------------------------------------------------------------------------------


def launchd_label(vault_root: Path) -> str:
    return f"{LAUNCHD_PREFIX}.{slug(vault_root)}"


def launchd_plist(vault_root: Path, command: list[str]) -> bytes:
    """A launchd agent (XML plist) that runs `command watch VAULT` at log-in and keeps it up."""
    vault = str(Path(vault_root).absolute())
    label = launchd_label(vault_root)
    logs = Path.home() / "Library" / "Logs" / f"{label}.log"
    agent = {
        "Label": label,
        # launchd passes each element as one argument, no shell: no quoting needed.
        "ProgramArguments": [*command, "watch", vault],
        "RunAtLoad": True,
        "KeepAlive": {"SuccessfulExit": False},
        "ThrottleInterval": 30,
        "ProcessType": "Background",
        "Nice": 10,
        "EnvironmentVariables": {"PYTHONUNBUFFERED": "1"},
        "StandardErrorPath": str(logs),
        "StandardOutPath": str(logs),
    }
    return plistlib.dumps(agent, fmt=plistlib.FMT_XML, sort_keys=False)


def launchd_dir() -> Path:
    return Path.home() / "Library" / "LaunchAgents"


# -- install / uninstall / status -------------------------------------------------------------


@dataclass(frozen=True)
class ServiceFile:
    """A service definition for one vault on one system, and how to turn it on and off."""

    kind: str  # "systemd" or "launchd"
    path: Path
    content: bytes
    enable: str  # the command that starts it now and at every log-in
    disable: str  # the command that stops it (before uninstalling)


def kind_for(system: str | None = None) -> str | None:
    system = system or platform.system()
    return {"Linux": "systemd", "Darwin": "launchd"}.get(system)


def service_file(
    vault_root: Path,
    *,
    system: str | None = None,
    target_dir: Path | None = None,
    command: list[str] | None = None,
) -> ServiceFile:
    """The service file for this vault; `ServiceError` on systems without a supported manager."""
    vault_root = Path(vault_root).absolute()
    command = command or vaultkd_command()
    kind = kind_for(system)
    if kind == "systemd":
        name = unit_name(vault_root)
        path = (target_dir or systemd_dir()) / name
        return ServiceFile(
            kind,
            path,
            systemd_unit(vault_root, command).encode("utf-8"),
            enable=f"systemctl --user daemon-reload && systemctl --user enable --now {name}",
            disable=f"systemctl --user disable --now {name}",
        )
    if kind == "launchd":
        path = (target_dir or launchd_dir()) / f"{launchd_label(vault_root)}.plist"
        quoted = _sh_quote(str(path))
        return ServiceFile(
            kind,
            path,
            launchd_plist(vault_root, command),
            enable=f"launchctl bootstrap gui/$(id -u) {quoted}",
            disable=f"launchctl bootout gui/$(id -u) {quoted}",
        )
    words = " ".join(_sh_quote(w) for w in [*command, "watch", str(vault_root)])
    raise ServiceError(
        f"no service manager vaultkd knows on {system or platform.system()}; nothing was "
        f"written. Start `{words}` at log-in yourself (e.g. with Task Scheduler on Windows)"
    )


def _sh_quote(word: str) -> str:
    return shlex.quote(word)


def install(vault_root: Path, **kwargs: object) -> ServiceFile:
    """Write the service file (atomically); does not start it. Returns it with its commands."""
    if not Path(vault_root).is_dir():
        raise ServiceError(f"{vault_root}: not a folder; pass the vault's folder")
    service = service_file(Path(vault_root), **kwargs)  # type: ignore[arg-type]
    service.path.parent.mkdir(parents=True, exist_ok=True)
    tmp = service.path.with_name(service.path.name + ".tmp")
    tmp.write_bytes(service.content)
    os.replace(tmp, service.path)
    return service


def uninstall(vault_root: Path, **kwargs: object) -> ServiceFile | None:
    """Remove the service file; None when none was installed. Stopping it is the user's call."""
    service = service_file(Path(vault_root), **kwargs)  # type: ignore[arg-type]
    try:
        service.path.unlink()
    except FileNotFoundError:
        return None
    return service


def status(vault_root: Path, **kwargs: object) -> tuple[ServiceFile, bool, str]:
    """(service, installed?, what the service manager says, or "" when it cannot be asked)."""
    service = service_file(Path(vault_root), **kwargs)  # type: ignore[arg-type]
    installed = service.path.is_file()
    state = ""
    if service.kind == "systemd" and shutil.which("systemctl"):
        state = _ask(["systemctl", "--user", "is-active", service.path.name])
    elif service.kind == "launchd" and shutil.which("launchctl"):
        state = "loaded" if _ask(["launchctl", "list", launchd_label(vault_root)]) else ""
    return service, installed, state


def _ask(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip()
