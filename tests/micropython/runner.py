"""A tiny pytest-like runner that works on MicroPython (and CPython).

    import runner; code = runner.main(["tests/unit/panel/test_state.py", "path.py::test_name", ...])

Imports each test file as a top-level module (its folder goes on ``sys.path``), runs
its ``test_*`` functions in source order, and prints a pytest-style report. Plain
``assert`` works; MicroPython has no assertion rewriting, so a failure shows the
traceback plus the source line that raised. No fixtures, no parametrize, no classes.
Returns the exit code: 0 all passed, 1 failures or errors, 2 bad usage, 5 nothing ran.
"""

import io
import sys
import time

try:
    _print_exception = sys.print_exception  # MicroPython
except AttributeError:  # CPython, so the runner itself can be tried there
    import traceback

    def _print_exception(exc, file):
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=file)


try:
    _ticks_ms = time.ticks_ms  # MicroPython has no time.monotonic
except AttributeError:

    def _ticks_ms():
        return int(time.monotonic() * 1000)


def _split(arg):
    """'dir/test_x.py::test_y' -> ('dir', 'test_x', 'dir/test_x.py', 'test_y' or None)."""
    path, _, only = arg.partition("::")
    folder, _, filename = path.rpartition("/")
    if not filename.endswith(".py"):
        raise ValueError("not a .py file: " + arg)
    return folder or ".", filename[:-3], path, only or None


def _read_lines(path):
    try:
        with open(path) as f:
            return f.read().split("\n")
    except OSError:
        return []


def _test_names(module, path):
    """test_* functions of ``module``, in the order they are defined in ``path``."""
    found = [n for n in dir(module) if n.startswith("test_") and callable(getattr(module, n))]
    order = []
    for line in _read_lines(path):
        if line.startswith("def test_"):
            name = line[4:].split("(")[0].strip()
            if name in found and name not in order:
                order.append(name)
    # dir() order is hash order on MicroPython: anything not found as "def" goes last, sorted.
    return order + sorted(n for n in found if n not in order)


def _describe(exc):
    """Traceback text, plus the source line of the innermost frame (the failing assert)."""
    buf = io.StringIO()
    _print_exception(exc, buf)
    kept = []
    where = None
    in_runner = False
    for line in buf.getvalue().split("\n"):
        stripped = line.strip()
        if stripped.startswith('File "') and ", line " in stripped:
            in_runner = stripped[6:].split('"')[0] == __file__
            if in_runner:  # the runner's own frame is noise
                continue
            where = stripped
        elif in_runner and line.startswith("    "):  # CPython prints the frame's source too
            continue
        else:
            in_runner = False
        kept.append(line.rstrip())
    text = "\n".join(kept).rstrip("\n") + "\n"
    if where is not None:
        path = where[6:].split('"')[0]
        number = where.split(", line ")[1].split(",")[0]
        lines = _read_lines(path)
        try:
            source = lines[int(number) - 1].strip()
        except (ValueError, IndexError):
            source = ""
        if source:
            text += ">   " + source + "\n"
    return text


def _rule(title, char):
    side = max(3, (78 - len(title) - 2) // 2)
    return char * side + " " + title + " " + char * side


def main(args):
    args = [str(a) for a in args]
    if not args:
        print("runner: usage: main([TEST_FILE[::TEST_NAME], ...])")
        return 2
    start = _ticks_ms()
    passed = 0
    failures = []  # (label, report text)
    errors = []  # collection errors: (path, report text)
    loaded = {}  # module name -> path, to catch two test files with the same name
    for arg in args:
        try:
            folder, name, path, only = _split(arg)
        except ValueError as exc:
            print("runner: " + str(exc))
            return 2
        if loaded.get(name, path) != path:
            errors.append((path, f"test module name {name!r} already used by {loaded[name]}\n"))
            continue
        loaded[name] = path
        if folder not in sys.path:
            sys.path.insert(0, folder)
        try:
            module = __import__(name)
        except Exception as exc:
            errors.append((path, _describe(exc)))
            print(path + " E")
            continue
        names = _test_names(module, path)
        if only is not None:
            names = [n for n in names if n == only]
            if not names:
                errors.append((path, f"no test named {only!r}\n"))
        marks = ""
        for test in names:
            try:
                getattr(module, test)()
            except BaseException as exc:  # a SystemExit in a test is a failure too
                if isinstance(exc, KeyboardInterrupt):
                    raise
                failures.append((path + "::" + test, _describe(exc)))
                marks += "F"
            else:
                passed += 1
                marks += "."
        print(path + " " + marks)

    seconds = (_ticks_ms() - start) / 1000
    if errors:
        print(_rule("ERRORS", "="))
        for path, text in errors:
            print(_rule("ERROR collecting " + path, "_"))
            print(text, end="")
    if failures:
        print(_rule("FAILURES", "="))
        for label, text in failures:
            print(_rule(label, "_"))
            print(text, end="")
        print(_rule("short test summary info", "="))
        for label, text in failures:
            last = [ln for ln in text.split("\n") if ln and not ln.startswith(" ") and ln[0] != ">"]
            print("FAILED " + label + (" - " + last[-1] if last else ""))
    for path, _ in errors:
        print("ERROR " + path)
    parts = []
    if failures:
        parts.append(f"{len(failures)} failed")
    parts.append(f"{passed} passed")
    if errors:
        parts.append(f"{len(errors)} error" + ("" if len(errors) == 1 else "s"))
    impl = sys.implementation
    version = ".".join(str(v) for v in impl.version[:3])
    print(_rule(f"{', '.join(parts)} in {seconds:.2f}s ({impl.name} {version})", "="))
    if failures or errors:
        return 1
    return 0 if passed else 5
