"""Read ``template.yaml`` the way the local stack and the tests need it.

The template is the one description of the product: the local stack creates
its tables, key and secret from it and gives each function the environment
and routes it declares there, so nothing is written twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"


class _Tag:
    """A CloudFormation intrinsic function: ``!Ref X`` is ``_Tag("Ref", "X")``."""

    def __init__(self, name: str, value: Any) -> None:
        self.name = name
        self.value = value

    def __repr__(self) -> str:
        return f"!{self.name} {self.value!r}"


class _Loader(yaml.SafeLoader):
    pass


def _construct(loader: yaml.Loader, suffix: str, node: yaml.Node) -> _Tag:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    elif isinstance(node, yaml.MappingNode):
        value = loader.construct_mapping(node, deep=True)
    else:
        raise yaml.constructor.ConstructorError(
            None, None, "unknown node", node.start_mark
        )
    name = suffix if suffix in ("Ref", "Condition") else f"Fn::{suffix}"
    return _Tag(name, value)


_Loader.add_multi_constructor("!", _construct)


def load(path: Path = TEMPLATE) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        document: dict[str, Any] = yaml.load(handle, Loader=_Loader)  # noqa: S506
    return document


@dataclass
class Context:
    """What ``!Ref``/``!GetAtt``/``!Sub`` resolve to in the local stack."""

    parameters: Mapping[str, str]
    refs: Mapping[str, str]
    attributes: Mapping[str, str]
    pseudo: Mapping[str, str]

    def resolve(self, value: Any) -> Any:
        if isinstance(value, _Tag):
            return self._intrinsic(value)
        if isinstance(value, dict):
            if len(value) == 1:
                ((key, inner),) = value.items()
                if key == "Ref" or key.startswith("Fn::"):
                    return self._intrinsic(_Tag(key, inner))
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        return value

    def _intrinsic(self, tag: _Tag) -> Any:
        if tag.name == "Ref":
            return self._ref(str(tag.value))
        if tag.name == "Fn::GetAtt":
            target = tag.value if isinstance(tag.value, str) else ".".join(tag.value)
            return self.attributes[target]
        if tag.name == "Fn::Sub":
            return self._sub(tag.value)
        if tag.name == "Fn::Join":
            separator, items = tag.value
            return str(separator).join(str(self.resolve(i)) for i in items)
        if tag.name == "Fn::If":
            raise KeyError("conditions are not evaluated by the local stack")
        raise KeyError(f"unsupported intrinsic {tag.name}")

    def _ref(self, name: str) -> str:
        for table in (self.parameters, self.refs, self.pseudo):
            if name in table:
                return str(table[name])
        raise KeyError(f"!Ref {name} is not known to the local stack")

    def _sub(self, value: Any) -> str:
        text, extra = (value, {}) if isinstance(value, str) else value
        resolved = {k: str(self.resolve(v)) for k, v in extra.items()}
        out, rest = [], str(text)
        while "${" in rest:
            before, _, after = rest.partition("${")
            name, _, rest = after.partition("}")
            out.append(before)
            if name in resolved:
                out.append(resolved[name])
            elif "." in name:
                out.append(self.attributes[name])
            else:
                out.append(self._ref(name))
        out.append(rest)
        return "".join(out)


def parameter_defaults(document: Mapping[str, Any]) -> dict[str, str]:
    return {
        name: str(spec["Default"])
        for name, spec in document.get("Parameters", {}).items()
        if "Default" in spec
    }


def resources_of_type(
    document: Mapping[str, Any], kind: str
) -> dict[str, dict[str, Any]]:
    return {
        name: spec
        for name, spec in document.get("Resources", {}).items()
        if spec.get("Type") == kind
    }


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    function: str
    code_uri: Path
    handler: str


def http_routes(document: Mapping[str, Any]) -> list[Route]:
    """Every ``HttpApi`` event of every function, as the local front serves it."""
    routes = []
    for name, spec in resources_of_type(document, "AWS::Serverless::Function").items():
        props = spec["Properties"]
        for event in props.get("Events", {}).values():
            if event.get("Type") != "HttpApi":
                continue
            routes.append(
                Route(
                    method=str(event["Properties"]["Method"]).upper(),
                    path=str(event["Properties"]["Path"]),
                    function=name,
                    code_uri=ROOT / str(props["CodeUri"]),
                    handler=str(props["Handler"]),
                )
            )
    return routes


def function_environment(
    document: Mapping[str, Any], function: str, context: Context
) -> dict[str, str]:
    """Globals plus the function's own variables, resolved for the local stack."""
    merged: dict[str, Any] = {}
    globals_ = document.get("Globals", {}).get("Function", {})
    merged.update(globals_.get("Environment", {}).get("Variables", {}))
    props = document["Resources"][function]["Properties"]
    merged.update(props.get("Environment", {}).get("Variables", {}))
    return {key: str(context.resolve(value)) for key, value in merged.items()}
