"""Assertions over kmsprobe output (tests/clients/kmsprobe.c): `faults-check.py FILE EXPR...`.

Every line of FILE is parsed as words; the first word without `=` is the line's kind (`flip`,
`vblank`, `summary`, ...), the others are key=value (integers converted). Each EXPR is a Python
expression evaluated with:
  L          all lines (dicts; kind under "_")
  k(kind)    the lines of that kind          one(kind)  the last line of that kind (or {})
  S          the last `summary` line         R          the `results=` list (strings)
  flips      k("flip")                       vbl        k("vblank")
  kv         every key=value of every line merged (later lines win)
The first false EXPR is printed with the file's last lines, exit status 1.
"""
import shlex, sys


def parse(path):
    lines = []
    for raw in open(path, errors="replace"):
        try:
            words = shlex.split(raw)
        except ValueError:
            words = raw.split()
        d = {}
        for w in words:
            if "=" in w:
                key, val = w.split("=", 1)
                try:
                    d[key] = int(val)
                except ValueError:
                    d[key] = val
            elif "_" not in d:
                d["_"] = w
        d.setdefault("_", "")
        lines.append(d)
    return lines


def main():
    path, exprs = sys.argv[1], sys.argv[2:]
    L = parse(path)
    kv = {}
    for d in L:
        kv.update(d)
    k = lambda kind: [d for d in L if d["_"] == kind]
    one = lambda kind: (k(kind) or [{}])[-1]
    R = str(kv.get("results", "")).split(",") if "results" in kv else []
    env = dict(L=L, k=k, one=one, S=one("summary"), R=R, flips=k("flip"), vbl=k("vblank"), kv=kv)
    for e in exprs:
        try:
            ok = eval(e, env)
        except Exception as ex:  # a missing key is a failed assertion, not a crash
            ok = False
            e = "%s (%s: %s)" % (e, type(ex).__name__, ex)
        if not ok:
            print("assertion failed: %s" % e)
            sys.exit(1)


main()
