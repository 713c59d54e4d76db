"""Read a Pulumi project (Pulumi.yaml) and a stack's config the way the CLI does, with no CLI.

Config sources, in order: Pulumi.yaml `config:` defaults, `<stackConfigDir>/Pulumi.<stack>.yaml`, then
`--config` overrides. Values reach the program as the SDK holds them: `"<namespace>:<key>"` → string,
objects and arrays as JSON text. `secure:` values cannot be decrypted offline; the program sees a
placeholder and the key is marked secret.
"""

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

SECRET_PLACEHOLDER = "offline-secret-placeholder"
"""What the program reads for a `secure:` value, which only the real CLI can decrypt."""

_PROJECT_FILES = ("Pulumi.yaml", "Pulumi.yml")
_DECLARED_TYPES = ("string", "integer", "boolean", "array")
_PATH_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


class ProjectError(Exception):
    """A project, stack or config problem; the message is one line saying what and where."""


@dataclass(frozen=True, slots=True)
class ConfigDeclaration:
    """A project-level config key declared in Pulumi.yaml."""

    key: str
    type: str | None
    default: Any
    has_default: bool
    secret: bool
    description: str


@dataclass(frozen=True, slots=True)
class Project:
    """A Pulumi project on disk."""

    root: Path
    file: Path
    name: str
    entry: Path
    """Program entry: a directory with `__main__.py` or a `.py` file."""
    stack_config_dir: Path
    declarations: Mapping[str, ConfigDeclaration]

    def stacks(self) -> list[str]:
        """Names of the stacks that have a config file."""
        names = set()
        for pattern in ("Pulumi.*.yaml", "Pulumi.*.yml"):
            for path in self.stack_config_dir.glob(pattern):
                names.add(path.name.split(".", 1)[1].rsplit(".", 1)[0])
        return sorted(names)


@dataclass(frozen=True, slots=True)
class StackConfig:
    """A stack's resolved config."""

    values: Mapping[str, str]
    """As the SDK holds it: full key → string."""
    secret_keys: frozenset[str]
    shown: Mapping[str, Any]
    """For plans and screens: parsed values, secrets replaced by `[secret]`."""


def _load_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ProjectError(f"cannot read {path}: {err.strerror}") from None
    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = err.problem or err.context or "invalid YAML"
        raise ProjectError(f"malformed YAML at {where}: {problem}") from None
    except yaml.YAMLError as err:
        raise ProjectError(f"malformed YAML in {path}: {err}") from None


def load_project(program_dir: Path) -> Project:
    """Read the project whose Pulumi.yaml is in `program_dir`.

    Raises:
        ProjectError: no Pulumi.yaml, malformed YAML, not a Python project, missing main.
    """
    root = program_dir.resolve()
    if not root.is_dir():
        raise ProjectError(f"program directory {root} does not exist")
    file = next((root / n for n in _PROJECT_FILES if (root / n).is_file()), None)
    if file is None:
        raise ProjectError(f"no Pulumi.yaml in {root} (looked for {' and '.join(_PROJECT_FILES)})")
    document = _load_yaml(file)
    if not isinstance(document, dict):
        raise ProjectError(f"{file} must be a mapping with at least `name` and `runtime`")
    name = document.get("name")
    if not isinstance(name, str) or not name:
        raise ProjectError(f"{file} has no `name`; a project needs a name")
    runtime = document.get("runtime")
    runtime_name = runtime.get("name") if isinstance(runtime, dict) else runtime
    if runtime_name != "python":
        raise ProjectError(
            f"{file} has runtime {runtime_name!r}; hub runs only Python programs (runtime: python)"
        )
    main = document.get("main") or "."
    entry = (root / str(main)).resolve()
    if entry.is_dir() and not (entry / "__main__.py").is_file():
        raise ProjectError(f"{file} main {main!r} is a directory without __main__.py ({entry})")
    if not entry.exists():
        raise ProjectError(f"{file} main {main!r} does not exist ({entry})")
    config_dir = root / str(document.get("stackConfigDir") or ".")
    return Project(
        root=root,
        file=file,
        name=name,
        entry=entry,
        stack_config_dir=config_dir.resolve(),
        declarations=_declarations(file, name, document.get("config") or {}),
    )


def _full_key(project: str, key: str) -> str:
    return key if ":" in key else f"{project}:{key}"


def _declarations(file: Path, project: str, config: Any) -> dict[str, ConfigDeclaration]:
    if not isinstance(config, dict):
        raise ProjectError(f"{file} `config` must be a mapping of keys to declarations")
    declarations = {}
    for key, spec in config.items():
        full = _full_key(project, str(key))
        if isinstance(spec, dict) and "type" in spec:
            if spec["type"] not in _DECLARED_TYPES:
                raise ProjectError(
                    f"{file} config {key}: type {spec['type']!r} is not one of {', '.join(_DECLARED_TYPES)}"
                )
            declarations[full] = ConfigDeclaration(
                key=full,
                type=spec["type"],
                default=spec.get("default"),
                has_default="default" in spec,
                secret=bool(spec.get("secret", False)),
                description=str(spec.get("description", "")),
            )
        else:
            value = spec["value"] if isinstance(spec, dict) and "value" in spec else spec
            declarations[full] = ConfigDeclaration(full, None, value, True, False, "")
    return declarations


def load_stack_config(project: Project, stack: str, overrides: Sequence[str] = ()) -> StackConfig:
    """Resolve `stack`'s config: declared defaults, the stack file, then KEY=VALUE overrides.

    Raises:
        ProjectError: unknown stack, malformed stack file, bad override, a value of the wrong declared
            type, or a declared key without default that nothing sets.
    """
    path = next(
        (
            project.stack_config_dir / f"Pulumi.{stack}.{ext}"
            for ext in ("yaml", "yml")
            if (project.stack_config_dir / f"Pulumi.{stack}.{ext}").is_file()
        ),
        None,
    )
    if path is None:
        existing = ", ".join(project.stacks()) or "none"
        raise ProjectError(
            f"unknown stack {stack!r}: no Pulumi.{stack}.yaml in {project.stack_config_dir}; stacks: {existing}"
        )
    document = _load_yaml(path) or {}
    if not isinstance(document, dict) or not isinstance(document.get("config") or {}, dict):
        raise ProjectError(f"{path} must be a mapping with a `config` mapping")
    values: dict[str, Any] = {k: d.default for k, d in project.declarations.items() if d.has_default}
    secret_keys = {k for k, d in project.declarations.items() if d.secret}
    for key, value in (document.get("config") or {}).items():
        full = _full_key(project.name, str(key))
        values[full], secret = _unsecure(value)
        if secret:
            secret_keys.add(full)
    for override in overrides:
        _apply_override(project, values, override)
    for key, declaration in project.declarations.items():
        if key not in values and not declaration.has_default:
            raise ProjectError(
                f"stack {stack!r} is missing required config {key} ({declaration.description or 'no description'}); "
                f"set it in {path.name} or with --config {key.split(':', 1)[1]}=VALUE"
            )
        if key in values and declaration.type is not None:
            _check_declared_type(declaration, values[key], path)
    return StackConfig(
        values={k: _as_sdk_string(v) for k, v in values.items()},
        secret_keys=frozenset(secret_keys),
        shown={k: ("[secret]" if k in secret_keys else v) for k, v in sorted(values.items())},
    )


def _unsecure(value: Any) -> tuple[Any, bool]:
    """Replace `secure:` values (anywhere in an object) by the placeholder; report whether any was found."""
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            return SECRET_PLACEHOLDER, True
        found = False
        result = {}
        for k, v in value.items():
            result[k], secret = _unsecure(v)
            found = found or secret
        return result, found
    if isinstance(value, list):
        pairs = [_unsecure(v) for v in value]
        return [p[0] for p in pairs], any(p[1] for p in pairs)
    return value, False


def _apply_override(project: Project, values: dict[str, Any], override: str) -> None:
    key, sep, text = override.partition("=")
    if not sep or not key:
        raise ProjectError(f"--config {override!r} must be KEY=VALUE (KEY may be a path such as aws.region)")
    namespace, _, path = _full_key(project.name, key).rpartition(":")
    parts = [(m.group(1), m.group(2)) for m in _PATH_PART.finditer(path)]
    if not parts or parts[0][0] is None:
        raise ProjectError(
            f"--config {override!r}: {key!r} is not a key or a path such as aws.nodePools[0].minNodes"
        )
    top = f"{namespace}:{parts[0][0]}"
    if len(parts) == 1:
        declared = project.declarations.get(top)
        values[top] = _parse_override_value(text) if declared is None or declared.type == "array" else text
        return
    container = values.get(top)
    if isinstance(container, str):
        try:
            container = json.loads(container)
        except json.JSONDecodeError:
            raise ProjectError(f"--config {override!r}: {top} holds a plain string, not an object") from None
    values[top] = container = container if isinstance(container, dict | list) else {}
    for index, (name, number) in enumerate(parts[1:], start=1):
        last = index == len(parts) - 1
        slot: int | str = int(number) if number is not None else name
        if isinstance(container, list) != isinstance(slot, int):
            raise ProjectError(f"--config {override!r}: {path} does not match the shape of {top}")
        if last:
            _assign(container, slot, text)
        else:
            nxt = _read(container, slot)
            if not isinstance(nxt, dict | list):
                nxt = [] if parts[index + 1][1] is not None else {}
                _assign(container, slot, nxt)
            container = nxt


def _read(container: dict[str, Any] | list[Any], slot: int | str) -> Any:
    if isinstance(container, list):
        assert isinstance(slot, int)
        return container[slot] if slot < len(container) else None
    assert isinstance(slot, str)
    return container.get(slot)


def _assign(container: dict[str, Any] | list[Any], slot: int | str, value: Any) -> None:
    if isinstance(container, list):
        assert isinstance(slot, int)
        if slot > len(container):
            raise ProjectError(f"index [{slot}] is past the end of a list of {len(container)}")
        if slot == len(container):
            container.append(value)
        else:
            container[slot] = value
    else:
        assert isinstance(slot, str)
        container[slot] = value


def _parse_override_value(text: str) -> Any:
    stripped = text.strip()
    if stripped.startswith(("{", "[")):
        try:
            return json.loads(stripped)
        except json.JSONDecodeError as err:
            raise ProjectError(f"--config value {text!r} looks like JSON but is not ({err.msg})") from None
    return text


def _check_declared_type(declaration: ConfigDeclaration, value: Any, path: Path) -> None:
    ok = {
        "string": not isinstance(value, dict | list),
        "integer": (isinstance(value, int) and not isinstance(value, bool))
        or (isinstance(value, str) and re.fullmatch(r"-?\d+", value) is not None),
        "boolean": isinstance(value, bool) or value in ("true", "false"),
        "array": isinstance(value, list),
    }[str(declaration.type)]
    if not ok:
        raise ProjectError(
            f"config {declaration.key} in {path.name} must be of type {declaration.type}, "
            f"got {json.dumps(value, default=str)[:60]}"
        )


def _as_sdk_string(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    if value is None:
        return ""
    return str(value)
