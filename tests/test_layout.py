"""The layout by capability holds: no import circles, and every entry under
``gateway/`` is named by the layer rules in ``pyproject.toml`` (which
``lint-imports`` checks in CI), so a new module cannot slip past them."""

from __future__ import annotations

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
    edges = {module: {imported for imported in graph.find_modules_directly_imported_by(module)
                      if imported.startswith("gateway")
                      and not (module in REGISTERING_PACKAGES and imported.startswith(module + "."))}
             for module in graph.modules if module.startswith("gateway")}
    circles = _strongly_connected(edges)
    assert not circles, "import circles: " + "; ".join(" -> ".join(sorted(c)) for c in circles)


def test_every_top_level_entry_is_under_the_layer_rules():
    contracts, entries = _contracts(), _top_entries()
    top = {"gateway.app", "gateway.web", "gateway.dashboard", "gateway.cli"}
    engine_may_use = {"gateway.engine", "gateway.errors"}
    providers_may_use = {"gateway.providers", "gateway.config", "gateway.errors", "gateway.phone"}
    assert entries - engine_may_use <= set(contracts["engine-pure"]["forbidden_modules"])
    assert entries - top <= set(contracts["top-layers"]["source_modules"])
    assert entries - top - providers_may_use <= set(contracts["providers-thin"]["forbidden_modules"])


def test_the_top_level_holds_only_what_every_part_shares():
    shared = {"app", "services", "config", "errors", "broker", "phone", "encoding"}
    packages = {"engine", "content", "channels", "messaging", "polls", "store", "providers", "dashboard",
                "web", "cli"}
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
