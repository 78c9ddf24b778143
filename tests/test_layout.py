"""The layout by capability holds: no import circles, and every entry under
``gateway/`` is named by the layer rules in ``pyproject.toml`` (which
``lint-imports`` checks in CI), so a new module cannot slip past them."""

from __future__ import annotations

import re
import tomllib

import grimp

from .conftest import ROOT

# The cli group imports its own submodules to register their commands; the
# issue allows that one, and it is the only package that does so.
REGISTERING_PACKAGES = {"gateway.cli"}


def _top_entries() -> set[str]:
    package = ROOT / "gateway"
    names = {p.stem for p in package.glob("*.py") if p.stem != "__init__"}
    names |= {p.name for p in package.iterdir() if (p / "__init__.py").exists()}
    return {f"gateway.{name}" for name in names}


def _contracts() -> dict[str, dict]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return {c["id"]: c for c in config["tool"]["importlinter"]["contracts"]}


def test_no_module_imports_itself_back_through_others():
    graph = grimp.build_graph("gateway")
    edges = {
        module: {
            imported
            for imported in graph.find_modules_directly_imported_by(module)
            if imported.startswith("gateway")
            and not (module in REGISTERING_PACKAGES and imported.startswith(module + "."))
        }
        for module in graph.modules
        if module.startswith("gateway")
    }
    circles = _strongly_connected(edges)
    assert not circles, "import circles: " + "; ".join(" -> ".join(sorted(c)) for c in circles)


def test_every_top_level_entry_is_under_the_layer_rules():
    contracts, entries = _contracts(), _top_entries()
    top = {"gateway.app", "gateway.runtime", "gateway.webhooks", "gateway.dashboard", "gateway.cli"}
    engine_may_use = {"gateway.engine", "gateway.errors"}
    providers_may_use = {"gateway.providers", "gateway.config", "gateway.errors", "gateway.phone"}
    assert entries - engine_may_use <= set(contracts["engine-pure"]["forbidden_modules"])
    # The providers are under the rules module by module (the next test).
    assert entries - top - {"gateway.providers"} <= set(contracts["top-layers"]["source_modules"])
    assert entries - top - providers_may_use <= set(contracts["providers-thin"]["forbidden_modules"])


def _matches(module: str, expressions) -> bool:
    """Whether an import-linter expression (``*`` for one name) names ``module``."""
    return any(re.fullmatch(re.escape(e).replace(r"\*", "[^.]+"), module) for e in expressions)


def test_every_provider_module_is_thin_or_on_top():
    """A provider's folder: its sending, parsing and settings are thin; its webhooks
    and commands are the top layer; anything else in it must be named in a rule."""
    contracts = _contracts()
    thin = contracts["providers-thin"]["source_modules"]
    below_top = contracts["top-layers"]["source_modules"]
    on_top = contracts["top-layers"]["forbidden_modules"]
    modules = {
        p.relative_to(ROOT).with_suffix("").as_posix().replace("/", ".").removesuffix(".__init__")
        for p in (ROOT / "gateway" / "providers").rglob("*.py")
    }
    unruled = {m for m in modules if not (_matches(m, thin) or _matches(m, on_top) or _matches(m, below_top))}
    assert not unruled, f"provider modules no layer rule names: {sorted(unruled)}"


def test_no_provider_imports_another():
    """Each provider is its own folder: it shares base and media with the others,
    never another provider's parts, so one can be added or removed alone."""
    graph = grimp.build_graph("gateway")
    folders = {
        m
        for m in graph.modules
        if re.fullmatch(r"gateway\.providers\.[a-z_]+", m) and (ROOT / m.replace(".", "/")).is_dir()
    }
    crossing = []
    for folder in folders:
        for module in graph.find_descendants(folder) | {folder}:
            for imported in graph.find_modules_directly_imported_by(module):
                other = next((f for f in folders if imported == f or imported.startswith(f + ".")), None)
                if other not in (None, folder):
                    crossing.append(f"{module} -> {imported}")
    assert len(folders) >= 6 and not crossing, crossing


def test_the_top_level_holds_only_what_every_part_shares():
    shared = {"app", "runtime", "services", "config", "errors", "broker", "phone", "encoding", "logs", "outage"}
    packages = {
        "engine",
        "content",
        "channels",
        "messaging",
        "polls",
        "store",
        "providers",
        "dashboard",
        "webhooks",
        "cli",
    }
    assert _top_entries() == {f"gateway.{name}" for name in shared | packages}


def _strongly_connected(edges: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm, iterative; returns the components with more than one module."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(component)
    return found
