"""Rewrites emupos's Python 3.12 syntax (PEP 695) into 3.11 syntax, in place."""
import pathlib, re, sys
root = pathlib.Path(sys.argv[1])
for path in root.rglob("*.py"):
    src = path.read_text(encoding="utf-8")
    new = re.sub(r"^(\s*)type (\w+) = ", r"\1\2 = ", src, flags=re.M)
    generics = set(re.findall(r"^\s*def \w+\[(\w+)\]\(", new, flags=re.M))
    new = re.sub(r"^(\s*def \w+)\[\w+\]\(", r"\1(", new, flags=re.M)
    if generics:
        decl = "".join(f'{t} = __import__("typing").TypeVar("{t}")\n' for t in sorted(generics))
        # after the module docstring and `from __future__` imports: before the first import
        new = re.sub(r"^(import |from )", decl + r"\1", new, count=1, flags=re.M)
    if new != src:
        path.write_text(new, encoding="utf-8")
        print("rewrote", path)
