"""Checks Kubernetes manifests the way a cluster running KubeRay v1.7.0 would, before they reach one:

    python cluster/validate_manifests.py cluster/kuberay/*.yaml      # OK / the errors, per document; exit 1 on any

1. Schema: each ray.io document against the whole `openAPIV3Schema` of its version in KubeRay's own CRDs
   (../shared/kuberay-v1.7.0/ray.io_*.yaml beside the repository; KUBERAY_RELEASE_DIR overrides), as the
   API server with strict field validation (kubectl's default) would: unknown fields are errors,
   `x-kubernetes-int-or-string`, `nullable`, int32/int64 ranges, list types `set` / `map` (unique items /
   keys), and the CRDs' CEL rules (`x-kubernetes-validations`, the subset of CEL they use: has(), !,
   &&, ||, ==, in, string lists; an unknown construct is an error here, not a pass). Transition rules
   (`oldSelf`) only apply to updates: pass `old=` to check one. Top-level `metadata` is Kubernetes'
   ObjectMeta (name a DNS-1123 subdomain, valid label keys and values).
   Other kinds: batch/v1 CronJob against cluster/schemas/cronjob-batch-v1.json (Kubernetes v1.30, strict);
   batch/v1 Job, v1 PersistentVolumeClaim and v1 ServiceAccount against schemas built from that file's
   definitions (JobSpec, PersistentVolumeClaimSpec, ObjectMeta, ...); v1 ConfigMap (string maps);
   monitoring.coreos.com/v1 PodMonitor against POD_MONITOR_SPEC below, a hand-written subset of the
   prometheus-operator API (only the fields these manifests use; anything else is refused until added).
   Any other kind is an error.
2. KubeRay's admission rules (cluster/kuberay_rules.py, a port of v1.7.0's validation.go), which the
   operator applies when it reconciles and which no schema holds.
"""
from __future__ import annotations

import functools
import importlib.util
import json
import os
import re
import sys
from pathlib import Path

import jsonschema
import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
KUBERAY_RELEASE = "v1.7.0"
KUBERAY_DIR = Path(os.environ.get("KUBERAY_RELEASE_DIR") or REPO.parent / "shared" / f"kuberay-{KUBERAY_RELEASE}")
CRD_FILES = {"RayCluster": "ray.io_rayclusters.yaml", "RayJob": "ray.io_rayjobs.yaml",
             "RayCronJob": "ray.io_raycronjobs.yaml"}
K8S_SCHEMA = HERE / "schemas" / "cronjob-batch-v1.json"
OBJECT_META = "#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
INT_RANGES = {"int32": (-2**31, 2**31 - 1), "int64": (-2**63, 2**63 - 1)}
Validator = jsonschema.Draft202012Validator
Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the CRDs are MBs: libyaml when there


def _load_rules():
    spec = importlib.util.spec_from_file_location("vidmusician_kuberay_rules", HERE / "kuberay_rules.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


rules = _load_rules()

# ---------------------------------------------------------------- CEL: the subset the KubeRay CRDs use


class CelUnsupported(ValueError):
    """A CEL construct this evaluator does not know: fail loudly rather than pass."""


class CelError(ValueError):
    """A runtime error of a rule (e.g. a missing field): the API server rejects the object."""


CEL_TOKEN = re.compile(r"\s*(?:(?P<str>'(?:[^'\\]|\\.)*')|(?P<op>&&|\|\||==|!=|!|\(|\)|\[|\]|,|\.)"
                       r"|(?P<ident>[A-Za-z_][A-Za-z0-9_]*))")
MISSING = object()


class Cel:
    """One `x-kubernetes-validations` rule, parsed once. Grammar: expr := and ('||' and)*;
    and := unary ('&&' unary)*; unary := '!' unary | cmp; cmp := atom (('=='|'!='|'in') atom)?;
    atom := '(' expr ')' | 'has' '(' path ')' | path | '[' atoms ']' | 'string' | true | false;
    path := (self | oldSelf) ('.' ident)*."""

    def __init__(self, rule: str, message: str | None = None):
        self.rule, self.message = rule, message or f"failed rule: {rule}"
        self.tokens, pos = [], 0
        while pos < len(rule.rstrip()):
            m = CEL_TOKEN.match(rule, pos)
            if not m or m.end() == pos:
                raise CelUnsupported(f"CEL rule {rule!r}: cannot read {rule[pos:]!r}")
            self.tokens.append((m.lastgroup, m.group(m.lastgroup)))
            pos = m.end()
        self.i = 0
        self.ast = self._expr()
        if self.i != len(self.tokens):
            raise CelUnsupported(f"CEL rule {rule!r}: unexpected {self.tokens[self.i][1]!r}")
        self.transition = ("ident", "oldSelf") in self.tokens

    def _peek(self):
        return self.tokens[self.i][1] if self.i < len(self.tokens) else None

    def _take(self, want=None):
        if self.i >= len(self.tokens) or (want is not None and self.tokens[self.i][1] != want):
            raise CelUnsupported(f"CEL rule {self.rule!r}: expected {want!r}")
        self.i += 1
        return self.tokens[self.i - 1]

    def _expr(self):
        node = self._and()
        while self._peek() == "||":
            self._take()
            node = ("or", node, self._and())
        return node

    def _and(self):
        node = self._unary()
        while self._peek() == "&&":
            self._take()
            node = ("and", node, self._unary())
        return node

    def _unary(self):
        if self._peek() == "!":
            self._take()
            return ("not", self._unary())
        node = self._atom()
        if self._peek() in ("==", "!=", "in"):
            op = self._take()[1]
            node = (op, node, self._atom())
        return node

    def _atom(self):
        kind, text = self._take()
        if text == "(":
            node = self._expr()
            self._take(")")
            return node
        if text == "[":
            items = []
            while self._peek() != "]":
                items.append(self._atom())
                if self._peek() == ",":
                    self._take()
            self._take("]")
            return ("list", items)
        if kind == "str":
            return ("lit", re.sub(r"\\(.)", r"\1", text[1:-1]))
        if text in ("true", "false"):
            return ("lit", text == "true")
        if text == "has":
            self._take("(")
            path = self._path(self._take())
            self._take(")")
            if len(path[2]) == 0:
                raise CelUnsupported(f"CEL rule {self.rule!r}: has() needs a field")
            return ("has", path)
        return self._path((kind, text))

    def _path(self, token):
        if token != ("ident", "self") and token != ("ident", "oldSelf"):
            raise CelUnsupported(f"CEL rule {self.rule!r}: unsupported {token[1]!r}")
        fields = []
        while self._peek() == ".":
            self._take()
            kind, name = self._take()
            if kind != "ident" or self._peek() == "(":  # a method call: not in the subset
                raise CelUnsupported(f"CEL rule {self.rule!r}: unsupported .{name}")
            fields.append(name)
        return ("path", token[1], fields)

    def evaluate(self, value, old=MISSING) -> bool:
        return bool(self._eval(self.ast, value, old))

    def _eval(self, node, value, old):
        op = node[0]
        if op == "or":
            return self._eval(node[1], value, old) or self._eval(node[2], value, old)
        if op == "and":
            return self._eval(node[1], value, old) and self._eval(node[2], value, old)
        if op == "not":
            return not self._eval(node[1], value, old)
        if op in ("==", "!="):
            same = self._eval(node[1], value, old) == self._eval(node[2], value, old)
            return same if op == "==" else not same
        if op == "in":
            return self._eval(node[1], value, old) in self._eval(node[2], value, old)
        if op == "lit":
            return node[1]
        if op == "list":
            return [self._eval(n, value, old) for n in node[1]]
        if op == "has":
            _, root, fields = node[1]
            parent = self._walk(value if root == "self" else old, fields[:-1])
            return isinstance(parent, dict) and fields[-1] in parent
        _, root, fields = node
        return self._walk(value if root == "self" else old, fields)

    def _walk(self, obj, fields):
        if obj is MISSING:
            raise CelError("oldSelf outside an update")
        for name in fields:
            if not isinstance(obj, dict) or name not in obj:
                raise CelError(f"no such key: {name}")
            obj = obj[name]
        return obj

    def errors(self, value, old=MISSING) -> list[str]:
        try:
            return [] if self.evaluate(value, old) else [self.message]
        except CelError as err:
            return [f"{self.message} (rule error: {err})"]

# ---------------------------------------------------------------- CRD openAPIV3Schema -> JSON Schema


class SchemaUnsupported(ValueError):
    pass


PLAIN_KEYS = {"type", "enum", "pattern", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength",
              "maxLength", "minItems", "maxItems", "minProperties", "maxProperties", "multipleOf", "uniqueItems",
              "default", "format"}
# Keys read below, or that only annotate (descriptions, map type: granular vs atomic updates).
HANDLED_KEYS = PLAIN_KEYS | {"properties", "required", "items", "additionalProperties", "anyOf", "allOf", "oneOf",
                             "not", "nullable", "description", "title", "example", "x-kubernetes-int-or-string",
                             "x-kubernetes-preserve-unknown-fields", "x-kubernetes-list-type",
                             "x-kubernetes-list-map-keys", "x-kubernetes-map-type", "x-kubernetes-validations"}


def crd_to_jsonschema(node: dict) -> dict:
    """One structural-schema node as JSON Schema (draft 2020-12) that refuses what the API server refuses."""
    unknown = set(node) - HANDLED_KEYS
    if unknown:
        raise SchemaUnsupported(f"schema keys not handled: {sorted(unknown)}")
    out = {k: v for k, v in node.items() if k in PLAIN_KEYS}
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]  # `pattern` then applies to the string form
    else:
        for key in ("anyOf", "allOf", "oneOf"):
            if key in node:
                out[key] = [crd_to_jsonschema(n) for n in node[key]]
    if "not" in node:
        out["not"] = crd_to_jsonschema(node["not"])
    if node.get("format") in INT_RANGES:  # the type's range, narrowed by the schema's own bounds
        low, high = INT_RANGES[node["format"]]
        out["minimum"], out["maximum"] = max(low, node.get("minimum", low)), min(high, node.get("maximum", high))
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    if "properties" in node:
        out["properties"] = {k: crd_to_jsonschema(v) for k, v in node["properties"].items()}
    if "required" in node:
        out["required"] = list(node["required"])
    if isinstance(node.get("additionalProperties"), dict):
        out["additionalProperties"] = crd_to_jsonschema(node["additionalProperties"])
    elif node.get("type") == "object" and not node.get("x-kubernetes-preserve-unknown-fields") \
            and node.get("additionalProperties") is not True:
        out["additionalProperties"] = False  # pruned by the API server: an error under strict validation
    if "items" in node:
        out["items"] = crd_to_jsonschema(node["items"])
        list_type = node.get("x-kubernetes-list-type")
        if list_type == "set":
            out["uniqueItems"] = True
        elif list_type == "map":
            props = node["items"].get("properties", {})
            keys = node["x-kubernetes-list-map-keys"]
            out["x-unique-keys"] = {"keys": keys, "defaults": {k: props.get(k, {}).get("default") for k in keys}}
    if "x-kubernetes-validations" in node:
        out["x-cel"] = [{"rule": v["rule"], "message": v.get("message")} for v in node["x-kubernetes-validations"]]
        for v in node["x-kubernetes-validations"]:
            Cel(v["rule"], v.get("message"))  # parse now: an unknown construct fails at load, not later
    return out


def _unique_keys(validator, spec, instance, schema):
    if not validator.is_type(instance, "array"):
        return
    seen = set()
    for item in instance:
        if isinstance(item, dict):
            key = tuple(item.get(k, spec["defaults"][k]) for k in spec["keys"])
            if key in seen:
                yield jsonschema.ValidationError(f"duplicate entry with {dict(zip(spec['keys'], key))}")
            seen.add(key)


@functools.lru_cache(maxsize=None)
def _cel(rule: str, message: str | None) -> Cel:
    return Cel(rule, message)


def _cel_rules(validator, specs, instance, schema):
    for spec in specs:
        cel = _cel(spec["rule"], spec["message"])
        if not cel.transition:  # oldSelf: updates only (transition_errors)
            for msg in cel.errors(instance):
                yield jsonschema.ValidationError(msg)


CRDValidator = jsonschema.validators.extend(Validator, {"x-unique-keys": _unique_keys, "x-cel": _cel_rules})


@functools.lru_cache(maxsize=None)
def k8s_definitions() -> dict:
    return json.loads(K8S_SCHEMA.read_text())


@functools.lru_cache(maxsize=None)
def load_crd(kind: str) -> dict:
    path = KUBERAY_DIR / CRD_FILES[kind]
    if not path.is_file():
        raise FileNotFoundError(f"{path}: KubeRay {KUBERAY_RELEASE}'s CRD not found (set KUBERAY_RELEASE_DIR)")
    with open(path) as f:
        return yaml.load(f, Loader=Loader)


def crd_version(kind: str, api_version: str) -> dict:
    crd = load_crd(kind)["spec"]
    group, _, version = api_version.partition("/")
    if group != crd["group"]:
        raise KeyError(f"apiVersion {api_version}: the {kind} CRD's group is {crd['group']}")
    for v in crd["versions"]:
        if v["name"] == version and v.get("served"):
            return v
    raise KeyError(f"apiVersion {api_version}: no served version {version!r} in the {kind} CRD")


@functools.lru_cache(maxsize=None)
def crd_validator(kind: str, api_version: str):
    schema = crd_to_jsonschema(crd_version(kind, api_version)["schema"]["openAPIV3Schema"])
    schema["properties"]["apiVersion"] = {"const": api_version}
    schema["properties"]["kind"] = {"const": kind}
    schema["properties"]["metadata"] = {"$ref": OBJECT_META}
    schema["required"] = sorted({"apiVersion", "kind", "metadata", *schema.get("required", [])})
    schema["$defs"] = k8s_definitions()["$defs"]
    return CRDValidator(schema)


def transition_errors(node: dict, new, old, path: str = "") -> list[str]:
    """CEL transition rules (those reading `oldSelf`) of an update from `old` to `new`: evaluated where both
    hold a value, through object properties and maps (lists are not correlated here)."""
    found = []
    for v in node.get("x-kubernetes-validations", []):
        cel = _cel(v["rule"], v.get("message"))
        if cel.transition:
            found += [f"{path or '<root>'}: {m}" for m in cel.errors(new, old)]
    if isinstance(new, dict) and isinstance(old, dict):
        children = dict(node.get("properties", {}))
        if isinstance(node.get("additionalProperties"), dict):
            children.update({k: node["additionalProperties"] for k in new if k not in children})
        for key, sub in children.items():
            if key in new and key in old:
                found += transition_errors(sub, new[key], old[key], f"{path}.{key}" if path else key)
    return found

# ---------------------------------------------------------------- other kinds


def _k8s_object(api_version: str, kind: str, properties: dict, required=("apiVersion", "kind", "metadata")) -> dict:
    return {"$defs": k8s_definitions()["$defs"], "type": "object", "additionalProperties": False,
            "required": list(required),
            "properties": {"apiVersion": {"const": api_version}, "kind": {"const": kind},
                           "metadata": {"$ref": OBJECT_META}, **properties}}


def _ref(name: str) -> dict:
    return {"$ref": f"#/$defs/{name}"}


DURATION = {"type": "string", "pattern": r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?"
                                        r"(([0-9]+)s)?(([0-9]+)ms)?)$"}
RELABEL_ACTIONS = ["replace", "Replace", "keep", "Keep", "drop", "Drop", "hashmod", "HashMod", "labelmap", "LabelMap",
                   "labeldrop", "LabelDrop", "labelkeep", "LabelKeep", "lowercase", "Lowercase", "uppercase",
                   "Uppercase", "keepequal", "KeepEqual", "dropequal", "DropEqual"]
RELABEL = {"type": "object", "additionalProperties": False, "properties": {
    "action": {"enum": RELABEL_ACTIONS}, "sourceLabels": {"type": "array", "items": {"type": "string"}},
    "targetLabel": {"type": "string"}, "regex": {"type": "string"}, "replacement": {"type": "string"},
    "separator": {"type": "string"}, "modulus": {"type": "integer", "minimum": 0}}}
# monitoring.coreos.com/v1 PodMonitor (prometheus-operator): the fields used here, strict.
POD_MONITOR_SPEC = {"type": "object", "additionalProperties": False, "required": ["selector"], "properties": {
    "jobLabel": {"type": "string"},
    "podTargetLabels": {"type": "array", "items": {"type": "string"}},
    "namespaceSelector": {"type": "object", "additionalProperties": False, "properties": {
        "any": {"type": "boolean"}, "matchNames": {"type": "array", "items": {"type": "string"}}}},
    "selector": _ref("io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector"),
    "podMetricsEndpoints": {"type": "array", "items": {"type": "object", "additionalProperties": False, "properties": {
        "port": {"type": "string", "minLength": 1}, "path": {"type": "string"},
        "scheme": {"enum": ["http", "https", "HTTP", "HTTPS"]}, "interval": DURATION, "scrapeTimeout": DURATION,
        "honorLabels": {"type": "boolean"}, "relabelings": {"type": "array", "items": RELABEL},
        "metricRelabelings": {"type": "array", "items": RELABEL}}}}}}


@functools.lru_cache(maxsize=None)
def builtin_validator(api_version: str, kind: str):
    if (api_version, kind) == ("batch/v1", "CronJob"):
        schema = dict(k8s_definitions(), required=["apiVersion", "kind", "metadata", "spec"])
    elif (api_version, kind) == ("batch/v1", "Job"):
        schema = _k8s_object(api_version, kind, {"spec": _ref("io.k8s.api.batch.v1.JobSpec")},
                             ("apiVersion", "kind", "metadata", "spec"))
    elif (api_version, kind) == ("v1", "PersistentVolumeClaim"):
        schema = _k8s_object(api_version, kind, {"spec": _ref("io.k8s.api.core.v1.PersistentVolumeClaimSpec")},
                             ("apiVersion", "kind", "metadata", "spec"))
    elif (api_version, kind) == ("v1", "ServiceAccount"):
        schema = _k8s_object(api_version, kind, {
            "automountServiceAccountToken": {"type": "boolean"},
            "imagePullSecrets": {"type": "array", "items": _ref("io.k8s.api.core.v1.LocalObjectReference")},
            "secrets": {"type": "array", "items": _ref("io.k8s.api.core.v1.ObjectReference")}})
    elif (api_version, kind) == ("v1", "ConfigMap"):  # KubeRay's samples carry their code in one
        strings = {"type": "object", "additionalProperties": {"type": "string"}}
        schema = _k8s_object(api_version, kind, {"data": strings, "binaryData": strings,
                                                 "immutable": {"type": "boolean"}})
    elif (api_version, kind) == ("monitoring.coreos.com/v1", "PodMonitor"):
        schema = _k8s_object(api_version, kind, {"spec": POD_MONITOR_SPEC}, ("apiVersion", "kind", "metadata", "spec"))
    else:
        raise KeyError(f"no schema for apiVersion {api_version} kind {kind}")
    return Validator(schema)

# ---------------------------------------------------------------- validation


def metadata_errors(meta: dict) -> list[str]:
    """What the API server's ObjectMeta validation adds to the schema: a name (DNS-1123 subdomain, or a
    generateName), label keys and values, annotation keys."""
    found = []
    name = meta.get("name")
    if not name and not meta.get("generateName"):
        found.append("metadata.name: name or generateName is required")
    if name:
        found += [f"metadata.name: {e}" for e in rules.is_dns1123_subdomain(name)]
    for key, value in (meta.get("labels") or {}).items():
        found += [f"metadata.labels: {key!r}: {e}" for e in rules.is_qualified_name(key)]
        found += [f"metadata.labels: {key}={value!r}: {e}" for e in rules.is_valid_label_value(str(value))]
    for key in meta.get("annotations") or {}:
        found += [f"metadata.annotations: {key!r}: {e}" for e in rules.is_qualified_name(key.lower())]
    return found


def schema_errors(doc: dict, old: dict | None = None) -> list[str]:
    """The schema's verdict (plus ObjectMeta and, for an update from `old`, CEL transition rules)."""
    if not isinstance(doc, dict) or "kind" not in doc or "apiVersion" not in doc:
        return ["<root>: not a Kubernetes object (apiVersion and kind are required)"]
    kind, api_version = doc["kind"], doc["apiVersion"]
    try:
        validator = crd_validator(kind, api_version) if kind in CRD_FILES else builtin_validator(api_version, kind)
    except KeyError as err:
        return [f"<root>: {err.args[0]}"]
    found = [f"{'.'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in validator.iter_errors(doc)]
    found += metadata_errors(doc.get("metadata") or {})
    if old is not None and kind in CRD_FILES:
        found += transition_errors(crd_version(kind, api_version)["schema"]["openAPIV3Schema"], doc, old)
    return found


def rule_errors(doc: dict, gates: dict | None = None) -> list[str]:
    """KubeRay's admission rules (ray.io kinds only): [] or the operator's one message."""
    if not isinstance(doc, dict) or doc.get("kind") not in rules.KINDS:
        return []
    err = rules.validate(doc, gates)
    return [] if err is None else [f"KubeRay {err.go_function} [{err.rule}]: {err}"]


def validate_document(doc: dict, gates: dict | None = None, old: dict | None = None) -> list[str]:
    return schema_errors(doc, old) + rule_errors(doc, gates)


def load_documents(path: Path) -> list[dict]:
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    failed = False
    for name in argv:
        for i, doc in enumerate(load_documents(Path(name))):
            label = f"{name}#{i} {doc.get('kind')}/{(doc.get('metadata') or {}).get('name')}"
            found = validate_document(doc)
            print(f"{'OK  ' if not found else 'FAIL'} {label}")
            for line in found:
                print(f"     {line}")
            failed = failed or bool(found)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
