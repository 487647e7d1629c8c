#!/usr/bin/env python3
"""Fails when the top-level modules of a crate import each other in a circle.

Each file under crates/*/src belongs to its top-level module (`src/cmd/at.rs` to `cmd`); a
mention of `crate::other` (a `use`, a path or a doc link) is an edge from its module to `other`.
A circle means neither module can be read, tested or moved without the other, which is what
the workspace's layering rules out. Prints each circle and exits 1; prints one line and exits 0
when there is none.
"""

import pathlib
import re
import sys


def module_graph(src: pathlib.Path) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in sorted(src.rglob("*.rs")):
        parts = path.relative_to(src).parts
        if parts[0] in ("lib.rs", "main.rs", "bin"):
            continue
        module = parts[0].removesuffix(".rs")
        edges = graph.setdefault(module, set())
        for used in re.findall(r"crate::([a-z_0-9]+)", path.read_text()):
            if used != module:
                edges.add(used)
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in graph:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def main() -> int:
    root = pathlib.Path(__file__).resolve().parent.parent
    failed = False
    for src in sorted(root.glob("crates/*/src")):
        graph = module_graph(src)
        for component in circles(graph):
            failed = True
            links = "; ".join(
                f"{a} -> {', '.join(sorted(graph[a] & set(component)))}" for a in component
            )
            print(f"{src.parent.name}: modules {', '.join(component)} import each other ({links})")
    if not failed:
        print("no circle of imports between the modules of any crate")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
