"""bobench's command line: Hydra's flags, with their values, anywhere among the overrides.

Hydra's own parser takes the overrides as one run of positional arguments, so a flag with a
value after an override (``bobench objective=x -cd conf``) is refused there. :func:`parse`
reads the line the way a user means it and :meth:`CommandLine.hydra_argv` hands Hydra the
same line in the order it accepts: every flag first, as ``--name=value``, then the overrides.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bench.errors import UserError


@dataclass(frozen=True)
class Flag:
    """One of Hydra's flags (hydra/_internal/utils.py get_args_parser, Hydra 1.3)."""

    name: str  # the long name, without dashes: config-dir
    short: str | None = None  # cd
    value: str = "none"  # none | required | optional
    choices: tuple[str, ...] = ()
    passthrough: bool = False  # Hydra answers it itself (help, config printing): no pre-check


FLAGS = (
    Flag("help", "h", passthrough=True),
    Flag("hydra-help", passthrough=True),
    Flag("version", passthrough=True),
    Flag("cfg", "c", "required", ("job", "hydra", "all"), passthrough=True),
    Flag("resolve"),
    Flag("package", "p", "required"),
    Flag("run", "r"),
    Flag("multirun", "m"),
    Flag("shell-completion", "sc", passthrough=True),
    Flag("config-path", "cp", "required"),
    Flag("config-name", "cn", "required"),
    Flag("config-dir", "cd", "required"),
    Flag("experimental-rerun", value="required", passthrough=True),
    Flag(
        "info",
        "i",
        "optional",
        ("all", "config", "defaults", "defaults-tree", "plugins", "searchpath"),
        passthrough=True,
    ),
)
_BY_SPELLING = {f"--{f.name}": f for f in FLAGS} | {f"-{f.short}": f for f in FLAGS if f.short}


@dataclass
class CommandLine:
    """A parsed command line: each flag given (long name -> value, True for a bare flag) and the overrides."""

    flags: dict[str, str | bool] = field(default_factory=dict)
    overrides: list[str] = field(default_factory=list)

    @property
    def multirun(self) -> bool:
        return bool(self.flags.get("multirun"))

    @property
    def passthrough(self) -> bool:
        """Hydra answers (help, --cfg, --info...): bobench runs no pre-check."""
        return any(f.passthrough for f in FLAGS if f.name in self.flags)

    def value(self, name: str) -> str | None:
        got = self.flags.get(name)
        return got if isinstance(got, str) else None

    def hydra_argv(self) -> list[str]:
        """The line for Hydra's parser: flags first (``--name=value``), then the overrides."""
        out = [f"--{name}" if value is True else f"--{name}={value}" for name, value in self.flags.items()]
        return [*out, *self.overrides]


def parse(args: list[str]) -> CommandLine:
    """Reads Hydra's flags (``-cd DIR``, ``--config-dir=DIR``...) anywhere on the line.

    Raises:
        UserError: an unknown flag, a flag without its value, or a value it does not take.
    """
    line = CommandLine()
    i = 0
    while i < len(args):
        token = args[i]
        i += 1
        if not token.startswith("-") or token == "-":
            line.overrides.append(token)
            continue
        spelling, eq, attached = token.partition("=")
        flag = _BY_SPELLING.get(spelling)
        if flag is None:
            known = ", ".join(f"--{f.name}" + (f"/-{f.short}" if f.short else "") for f in FLAGS)
            raise UserError(f"{spelling}: unknown flag (bobench takes overrides key=value and {known})")
        if flag.value == "none":
            if eq:
                raise UserError(f"{spelling}: takes no value (got {token!r})")
            line.flags[flag.name] = True
            continue
        value: str | None = attached if eq else None
        if value is None and i < len(args):
            following = args[i]
            takes_it = following in flag.choices if flag.value == "optional" else not following.startswith("-")
            if takes_it:
                value, i = following, i + 1
        if value is None:
            if flag.value == "optional":
                value = flag.choices[0]
            else:
                raise UserError(f"{spelling}: expects a value ({spelling} VALUE)")
        if flag.choices and value not in flag.choices:
            raise UserError(f"{spelling}: expected one of {', '.join(flag.choices)}, got {value!r}")
        line.flags[flag.name] = value
    return line
