"""A stack's definition file: how to build it, start it, and reach it.

The stacks the league ships are described in ``league/stacks/*.toml`` in exactly the
format a user writes to bring their own (``python -m league --stack FILE``)::

    name = "mystack"                      # short name: --only, file names
    title = "My stack 0.1"                # the row's label
    origin = "github.com/me/mystack"      # where it comes from
    kind = "wire"                         # wire (default) | in-process | kernel
    device = "tap"                        # tun | tap (wire only)
    device_name = "tap0"                  # default: tun0 / tap0
    build = ["make -C {here}/src"]        # shell commands, run in order
    builds = ["{here}/src/mystack"]       # files the build makes (missing: build)
    start = "{here}/src/mystack {dev}"    # starts the stack on the device (per case)
    version = "git -C {here}/src describe --always"   # prints the version
    addresses = ["10.0.0.4"]              # the stack's own addresses
    map = ["172.16.0.2=10.0.0.4"]         # replay --map RECORDED=ACTUAL
    ready = 2.0                           # seconds it may take to answer its first ping
    notes = "..."                         # shown under the table

In commands, ``{here}`` is the definition file's folder, ``{build}`` the league's build
folder (``league/build``, outside git), ``{shims}`` the league's shim sources,
``{python}`` the Python running the league and ``{dev}`` the device name.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["DefinitionError", "StackDefinition", "load_definition", "load_shipped",
           "SHIPPED_DIR", "SHIMS_DIR", "KINDS", "DEVICES"]

LEAGUE_DIR = Path(__file__).resolve().parent
SHIPPED_DIR = LEAGUE_DIR / "stacks"
SHIMS_DIR = LEAGUE_DIR / "shims"
KINDS = ("wire", "in-process", "kernel")
DEVICES = ("tun", "tap")

_STRING_FIELDS = ("name", "title", "origin", "kind", "device", "device_name", "start",
                  "version", "notes")
_LIST_FIELDS = ("build", "builds", "addresses", "map")
_KNOWN = frozenset(_STRING_FIELDS + _LIST_FIELDS + ("ready", "order"))


class DefinitionError(Exception):
    """A definition file that cannot be used; the message is one line naming the file."""


@dataclass(frozen=True)
class StackDefinition:
    name: str
    title: str
    kind: str = "wire"
    origin: str = ""
    device: str = ""
    device_name: str = ""
    build: tuple[str, ...] = ()
    builds: tuple[str, ...] = ()
    start: str = ""
    version: str = ""
    addresses: tuple[str, ...] = ()
    map: tuple[str, ...] = ()
    ready: float | None = None
    notes: str = ""
    order: int = 100  # the row's place in the table (the reference first)
    here: Path = field(default=SHIPPED_DIR)

    def expand(self, text: str, build_dir: Path, python: str) -> str:
        """Fill the placeholders of one command (see the module docstring)."""
        return (text.replace("{here}", str(self.here)).replace("{build}", str(build_dir))
                .replace("{shims}", str(SHIMS_DIR)).replace("{python}", python)
                .replace("{dev}", self.device_name))


def _fail(path: Path, why: str) -> DefinitionError:
    return DefinitionError(f"{path}: {why}")


def load_definition(path: Path) -> StackDefinition:
    """Parse and check one definition file; DefinitionError (one line) if it is unusable."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise _fail(path, f"cannot read: {error.strerror}") from None
    except UnicodeDecodeError:
        raise _fail(path, "not UTF-8 text") from None
    except tomllib.TOMLDecodeError as error:
        raise _fail(path, f"not TOML: {error}") from None
    unknown = sorted(set(data) - _KNOWN)
    if unknown:
        raise _fail(path, f"unknown field {unknown[0]!r} (known: {', '.join(sorted(_KNOWN))})")
    values: dict[str, object] = {}
    for key in _STRING_FIELDS:
        if key in data:
            if not isinstance(data[key], str):
                raise _fail(path, f"{key} must be a string")
            values[key] = data[key]
    for key in _LIST_FIELDS:
        if key in data:
            items = data[key]
            if isinstance(items, str):
                items = [items]
            if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
                raise _fail(path, f"{key} must be a list of strings")
            values[key] = tuple(items)
    if "ready" in data:
        ready = data["ready"]
        if isinstance(ready, bool) or not isinstance(ready, int | float) or not 0 <= ready <= 60:
            raise _fail(path, "ready must be a number of seconds from 0 to 60")
        values["ready"] = float(ready)
    if "order" in data:
        if not isinstance(data["order"], int) or isinstance(data["order"], bool):
            raise _fail(path, "order must be an integer")
        values["order"] = data["order"]
    name = values.get("name")
    if not isinstance(name, str) or not name or not all(c.isalnum() or c in "-_" for c in name):
        raise _fail(path, "name is required: letters, digits, '-' and '_' only")
    kind = values.setdefault("kind", "wire")
    if kind not in KINDS:
        raise _fail(path, f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if kind == "wire":
        device = values.get("device")
        if device not in DEVICES:
            raise _fail(path, "device must be 'tun' or 'tap' for a wire stack")
        if not values.get("start"):
            raise _fail(path, "start is required for a wire stack (the command that runs it)")
        device_name = str(values.setdefault("device_name", f"{device}0"))
        if not 0 < len(device_name) < 16 or "/" in device_name or " " in device_name:
            raise _fail(path, f"device_name {device_name!r} is not a usable interface name")
    for item in values.get("map", ()):  # type: ignore[attr-defined]
        recorded, sep, actual = item.partition("=")
        if not sep or not recorded or not actual:
            raise _fail(path, f"map entry {item!r} is not RECORDED=ACTUAL")
    values.setdefault("title", name)
    return StackDefinition(here=path.resolve().parent, **values)  # type: ignore[arg-type]


def load_shipped() -> list[StackDefinition]:
    """The stacks the league ships, in table order."""
    stacks = [load_definition(path) for path in sorted(SHIPPED_DIR.glob("*.toml"))]
    return sorted(stacks, key=lambda s: (s.order, s.name))
