"""System calls and JSON for the shepherd without ctypes, json or signal (together ~10 ms to import at
every launch): prctl through _ctypes, JSON through the _json accelerator, small file reads and writes."""
import os

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36


def prctl(option, value):
    """prctl(2) through _ctypes; raises OSError on failure."""
    if _prctl(option, value, 0, 0, 0) != 0:
        raise OSError(f"prctl({option}, {value}) failed")


def libc_exit(code):
    """exit(3): the process ends as an interpreter's own end ends it after Py_Finalize (C atexit handlers, C
    stdio buffers of extension modules flushed), without the interpreter's teardown."""
    _exit(code)
    os._exit(code)  # not reached


def compile_script(source, filename):
    """compile(source, filename, "exec", dont_inherit=True) as `python script.py` compiles its script, through
    Py_CompileStringExFlags: the compile() built-in first asks whether its source is an AST object, which makes
    the interpreter create every AST node type (1 ms of CPU, in every run's process); the interpreter's own run
    of a script file never does. A source with a NUL byte goes to compile(), which says what is wrong with it."""
    if b"\0" in source:
        return compile(source, filename, "exec", dont_inherit=True)
    return _compile(source, os.fsencode(filename), 257, None, -1)  # Py_file_input, no flags (dont_inherit)


def _libc(name, python_api=False):
    """A function of the C library (or, with `python_api`, of the interpreter's C API: it returns an object, and
    the exception it sets is raised) through _ctypes, made once per interpreter (making ctypes types costs a
    fraction of a millisecond): the forks of a fork server, and a shepherd's script, inherit them. Its arguments
    are Python ints, passed as C ints, as C code calls prctl(PR_SET_PDEATHSIG, SIGKILL) (prctl takes them as
    variadic arguments) and exit(code): declared argument types made each process's first call convert them
    through ctypes objects, 40 us more of copied pages in every fork."""
    import _ctypes

    class Int(_ctypes._SimpleCData):
        _type_ = "i"

    class Object(_ctypes._SimpleCData):
        _type_ = "O"

    class Lib:
        _handle = _ctypes.dlopen(None)

    class Func(_ctypes.CFuncPtr):
        _flags_ = _ctypes.FUNCFLAG_CDECL | (_ctypes.FUNCFLAG_PYTHONAPI if python_api else 0)
        _restype_ = Object if python_api else Int

    return Func((name, Lib()))


def loads(text):
    value, end = _scanner(text, 0)
    return value


def _make_scanner():
    import _json

    class Context:
        strict = True
        object_hook = object_pairs_hook = None
        parse_float, parse_int, parse_constant = float, int, float
        memo = {}

    return _json.make_scanner(Context())


def dumps(value):
    """JSON for what a result holds: dicts, lists, str, int, float, bool, None."""
    import _json

    if value is None or value is True or value is False:
        return {None: "null", True: "true", False: "false"}[value]
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return _json.encode_basestring_ascii(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{dumps(str(k))}: {dumps(v)}" for k, v in value.items()) + "}"
    return "[" + ", ".join(dumps(v) for v in value) + "]"


_prctl = _libc("prctl")
_exit = _libc("exit")
_compile = _libc("Py_CompileStringExFlags", python_api=True)
_scanner = _make_scanner()


def read_line(fd, buffer):
    """(line or None at end of file, rest of buffer): reads fd until a newline."""
    while b"\n" not in buffer:
        chunk = os.read(fd, 65536)
        if not chunk:
            return None, buffer
        buffer += chunk
    line, _, rest = buffer.partition(b"\n")
    return line.decode("utf-8"), rest


def write_file(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def set_name(name):
    """The process's name in ps -o comm, top and pgrep (15 bytes at most)."""
    try:
        write_file("/proc/self/comm", name[:15])
    except OSError:
        pass


def read_text(path):
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return ""
    try:
        return os.read(fd, 65536).decode(errors="replace")
    except OSError:
        return ""
    finally:
        os.close(fd)
