#!/usr/bin/env python3
"""Fails when two closure expressions of one module were given one symbol, so that one of them runs the other's body.

Swift 6.3 does this to a closure inside a macro's arguments (`#expect(xs.map { $0 * 10 } == …)`) and a later closure
of the same type in the same enclosing closure (`let b = xs.map { $0 * 100 }`): both get discriminator 0, one body is
emitted, and `b` is computed by the first closure. Nothing warns; a test then asserts something other than it says
(swiftlang/swift's closure-discriminator bugs in macro expansions). In SILGen's output every closure expression makes
one `function_ref` to its closure, so a closure symbol referenced twice is such a pair.

Reads the compile commands of the release build's manifest (`.build/release.yaml`: run `make build-tests` first),
re-runs each of Tailor's modules (sources and tests) with `-emit-silgen`, and lists every closure referenced more than
once, demangled. `--self-test` first checks that a file with the known pattern is caught (a checker that cannot fail
is no check). Exit status: 0 clean, 1 duplicates found, 2 the check itself could not run.
"""
import collections
import json
import os
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MANIFEST = os.path.join(REPO, ".build", "release.yaml")
PROBE = os.path.join(REPO, "scripts", "closure-symbols-probe.swift")
CLOSURE_REF = re.compile(r"function_ref @(\$s\S*?fU\d*_)\s*:")
# Options of a module's compile that name outputs: dropped (with their value) for a SILGen-only run.
DROP_WITH_VALUE = {"-emit-module-path", "-output-file-map", "-emit-module-doc-path", "-emit-module-source-info-path",
                   "-emit-dependencies-path", "-emit-objc-header-path", "-index-store-path", "-o", "-num-threads"}
DROP = {"-c", "-emit-module", "-emit-dependencies", "-emit-objc-header", "-parseable-output", "-incremental",
        "-index-system-modules"}


def module_commands():
    """{module name: swiftc arguments} for every Swift module built from this repository's Sources/ and Tests/."""
    if not os.path.exists(MANIFEST):
        sys.exit(f"{MANIFEST} is missing: run `make build-tests` first")
    commands = {}
    for line in open(MANIFEST):
        line = line.strip()
        if not line.startswith("args: [\"") or "-module-name" not in line:
            continue
        args = json.loads(line[len("args: "):])
        if not args[0].endswith("swiftc"):
            continue
        name = args[args.index("-module-name") + 1]
        sources_file = next((a[1:] for a in args if a.startswith("@") and a.endswith("/sources")), None)
        if sources_file is None or not os.path.exists(sources_file):
            continue
        sources = open(sources_file).read().split()
        if any(s.startswith(os.path.join(REPO, "Sources")) or s.startswith(os.path.join(REPO, "Tests")) for s in sources):
            commands[name] = args
    if not commands:
        sys.exit(f"no module of this repository found in {MANIFEST}")
    return commands


def silgen_args(args, output, sources=None):
    out, i = [], 0
    while i < len(args):
        a = args[i]
        if a in DROP_WITH_VALUE:
            i += 2
            continue
        if a in DROP or (sources is not None and a.startswith("@") and a.endswith("/sources")):
            i += 1
            continue
        out.append(a)
        i += 1
    return out + (sources or []) + ["-emit-silgen", "-o", output]


def duplicates(name, args, sources=None):
    """The closures of one module referenced more than once in its SILGen output, demangled."""
    with tempfile.TemporaryDirectory(prefix="tailor-silgen-") as scratch:
        output = os.path.join(scratch, name + ".sil")
        run = subprocess.run(silgen_args(args, output, sources), capture_output=True, text=True, cwd=REPO)
        if run.returncode != 0:
            errors = [l for l in run.stderr.splitlines() if "error" in l][:10]
            raise RuntimeError(f"{name}: swiftc -emit-silgen failed:\n" + "\n".join(errors or run.stderr.splitlines()[-10:]))
        counts = collections.Counter()
        with open(output) as sil:
            for line in sil:
                if "function_ref" in line:
                    for m in CLOSURE_REF.finditer(line):
                        counts[m.group(1)] += 1
    symbols = sorted(s for s, n in counts.items() if n > 1)
    if not symbols:
        return len(counts), []
    demangled = subprocess.run(["swift", "demangle", "-compact", *symbols], capture_output=True, text=True).stdout.splitlines()
    return len(counts), demangled or symbols


def main():
    commands = module_commands()
    if "--self-test" in sys.argv:
        # The probe needs Testing's macros: compile it with a test module's options, in place of its sources.
        tests = sorted(n for n in commands if n.endswith("Tests"))
        if not tests:
            sys.exit("no test module to compile the probe with")
        try:
            _, found = duplicates("probe", commands[tests[0]], sources=[PROBE])
        except RuntimeError as error:
            print(error, file=sys.stderr)
            sys.exit(2)
        if not any("probeOfTheKnownPattern" in d for d in found):
            print(f"self-test failed: the known pattern in {PROBE} was not caught ({found})", file=sys.stderr)
            sys.exit(2)
        print(f"self-test: the known pattern in {os.path.basename(PROBE)} is caught")
    failures = []
    with ThreadPoolExecutor(max_workers=max(1, min(2, os.cpu_count() or 1))) as pool:
        results = pool.map(lambda item: (item[0], duplicates(*item)), sorted(commands.items()))
        try:
            for name, (closures, found) in results:
                print(f"{name}: {closures} closures, {len(found)} sharing a symbol")
                failures += [f"{name}: {d}" for d in found]
        except RuntimeError as error:
            print(error, file=sys.stderr)
            sys.exit(2)
    if failures:
        print("\nClosure expressions compiled to one symbol (one of each pair runs the other's body): move the closure "
              "out of the #expect/#require arguments into a `let` before it.", file=sys.stderr)
        print("\n".join(failures), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
