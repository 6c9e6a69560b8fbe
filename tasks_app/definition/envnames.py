"""Which environment variables a task's task_env may set: a valid name that no rule below refuses.

An operator may set task_env but not write scripts, so every variable that makes the interpreter, the C library
or a program a script calls load other code, run another program, read its settings from somewhere else or send
its traffic elsewhere is refused. The loader (every way a task is saved), each run (rows saved before a rule
existed) and `manage.py check` read this one list; the README's table is generated from it. What is refused
here an administrator may still set for every run, with SCHEDULER_TASK_ENV."""
import re
from dataclasses import dataclass

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
INVALID_NAME = "it is not a valid environment variable name (letters, digits and '_', not starting with a digit)"

# Names the engine sets for every run; an administrator's SCHEDULER_TASK_ENV cannot set them either.
ENGINE_NAMES = frozenset({"TASK_ID", "TASK_EXECUTION_ID", "TASK_LOG", "TASK_SCHEDULED_TIME"})
# Allowed although a rule below would match: the shipped conf/tasks.json sets the first two, and NODE_ENV
# only says "production" or "development".
ALLOWED = frozenset({"TASK_NAME", "TASK_DESCRIPTION", "NODE_ENV"})

# A locale name is looked up as a path when it holds a '/': LANG=/tmp/x makes the C library and gettext read
# locale data and message catalogs (format strings) from there. Plain names stay allowed.
LOCALE_NAMES = frozenset({"LANG", "LANGUAGE"})
LOCALE_PREFIX = "LC_"
LOCALE_VALUE = re.compile(r"[A-Za-z0-9_.@:+-]*")
LOCALE_REASON = "a locale name with '/' is a path the C library and gettext load files from; give a plain name " \
                "such as zh_CN.UTF-8"


@dataclass(frozen=True)
class Rule:
    """Names refused for one reason. Names are compared in upper case: some programs read them without regard
    to case (Python's proxy settings, npm's), and "path" should not slip through where "PATH" does not."""

    reason: str
    names: frozenset
    prefixes: tuple
    suffixes: tuple

    def matches(self, upper: str) -> bool:
        return upper in self.names or upper.startswith(self.prefixes) or upper.endswith(self.suffixes)


def _rule(reason, names="", prefixes="", suffixes=""):
    return Rule(reason, frozenset(names.split()), tuple(prefixes.split()), tuple(suffixes.split()))


# The first rule that matches gives the reason shown. The list is the floor: the rest comes from asking,
# for bash, sh, perl, python3, git, less, vim, curl, pip, ssh, openssl, node, ruby, java, lua..., "which variable
# makes this run something, load something or trust something it otherwise would not?".
RULES = (
    _rule("set by the engine for every run", names=" ".join(sorted(ENGINE_NAMES))),
    _rule("it decides which program a command name runs", names="PATH"),
    _rule("programs read their start-up and settings files from there (~/.bashrc, ~/.gitconfig, "
          "~/.ssh/config, $XDG_CONFIG_HOME/git/config...)", names="HOME", prefixes="XDG_"),
    _rule("tools start it as a shell", names="SHELL"),
    _rule("programs create their temporary files there", names="TMPDIR TEMP TMP"),
    _rule("the dynamic loader and the C library load libraries, modules and data named by these",
          names="GLIBC_TUNABLES GCONV_PATH LOCPATH MUSL_LOCPATH NLSPATH LOCALE_ARCHIVE TZDIR LIBC_FATAL_STDERR_ "
                "TEXTDOMAIN TEXTDOMAINDIR",
          prefixes="LD_ DYLD_ MALLOC_ GLIBC_ GCONV_"),
    _rule("they change how host names are resolved", names="HOSTALIASES RES_OPTIONS LOCALDOMAIN RESOLV_HOST_CONF"),
    _rule("libraries parse data files from there (terminal descriptions, file types, Unicode data)",
          names="TERMINFO TERMINFO_DIRS TERMCAP MAGIC ICU_DATA"),
    _rule("sanitizer options run a symbolizer program and write files",
          prefixes="ASAN_ UBSAN_ LSAN_ MSAN_ TSAN_ HWASAN_"),
    _rule("shells read start-up files, run prompt commands, or change how they split words and find commands",
          names="BASH_ENV ENV SHELLOPTS BASHOPTS PS0 PS1 PS2 PS3 PS4 PROMPT_COMMAND IFS CDPATH GLOBIGNORE "
                "EXECIGNORE BASH_XTRACEFD BASH_LOADABLES_PATH BASH_COMPAT INPUTRC ZDOTDIR FPATH FCEDIT",
          prefixes="BASH_FUNC_"),
    _rule("they name a program that tools run: a browser, an editor, a pager, a password prompt, a remote shell",
          names="BROWSER EDITOR VISUAL PAGER MANPAGER SUDO_ASKPASS SUDO_EDITOR PSQL_PAGER PSQL_EDITOR "
                "PSQL_EDITOR_LINENUMBER_ARG CVSEDITOR CVS_RSH CVS_SERVER SVN_EDITOR SVN_SSH SVN_MERGE HGEDITOR "
                "HGMERGE HG RSYNC_RSH RSYNC_CONNECT_PROG",
          prefixes="SYSTEMD_"),
    _rule("options of less, more and man that run commands or input filters",
          names="LESS LESSOPEN LESSCLOSE LESSKEY LESSKEYIN LESSKEY_CONTENT LESSKEY_SYSTEM LESSKEYIN_SYSTEM "
                "LESSEDIT LESSSECURE LESSSECURE_ALLOW LESSHISTFILE LESSMETACHARS LESSMETAESCAPE MORE MANOPT "
                "MANPATH MANROFFOPT MANROFFSEQ MAN_DISABLE_SECCOMP"),
    _rule("command-line options read from the environment, which can run commands or write files anywhere",
          names="TAR_OPTIONS PARALLEL UNZIP UNZIPOPT ZIP ZIPOPT MAKEFLAGS MFLAGS GNUMAKEFLAGS MAKEFILES"),
    _rule("git runs programs and reads settings named by these (GIT_SSH_COMMAND, GIT_EXTERNAL_DIFF, "
          "GIT_CONFIG_*...)", prefixes="GIT_"),
    _rule("ssh's password prompt, agent socket and security-key library", prefixes="SSH_"),
    _rule("a tool reads settings from there that can run commands (askpass, pager, credential or exec "
          "plug-ins, hooks, drivers)",
          names="WGETRC SYSTEM_WGETRC CURL_HOME NETRC GNUPGHOME PSQLRC PGSYSCONFDIR MYSQL_HOME "
                "MYSQL_TEST_LOGIN_FILE LIBMYSQL_PLUGINS LIBMYSQL_PLUGIN_DIR SCREENRC SYSSCREENRC MAILRC NAILRC "
                "HGRCPATH KUBECONFIG DOCKER_CONFIG AWS_CONFIG_FILE AWS_SHARED_CREDENTIALS_FILE "
                "GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES ODBCINI ODBCSYSINI ODBCINSTINI KRB5_CONFIG "
                "KRB5_KDC_PROFILE SASL_PATH SASL_CONF_PATH LDAPCONF LDAPRC"),
    _rule("vim and emacs run the commands these hold or name",
          names="VIM VIMINIT VIMRUNTIME MYVIMRC MYGVIMRC GVIMINIT EXINIT EMACSLOADPATH EMACSPATH EMACSDATA"),
    _rule("a D-Bus address can start a program (unixexec:)", names="DBUS_SESSION_BUS_ADDRESS DBUS_SYSTEM_BUS_ADDRESS"),
    _rule("OpenSSL loads engines and providers (shared libraries) named in the configuration these point to",
          prefixes="OPENSSL_"),
    _rule("proxies and trusted certificates decide who can read or change a script's network traffic",
          names="CURL_CA_BUNDLE REQUESTS_CA_BUNDLE AWS_CA_BUNDLE WEBSOCKET_CLIENT_CA_BUNDLE "
                "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH SSLKEYLOGFILE PGSSLMODE PGSSLROOTCERT PGSSLCRL PGSSLCRLDIR "
                "PGREQUIRESSL",
          prefixes="SSL_CERT_ LDAPTLS_", suffixes="_PROXY"),
    _rule("Python (also the system python3 a script calls) imports modules or runs code named by these",
          names="__PYVENV_LAUNCHER__ VIRTUAL_ENV CONDARC DJANGO_SETTINGS_MODULE FLASK_APP MPLBACKEND MPLCONFIGDIR "
                "IPYTHONDIR JUPYTER_CONFIG_DIR JUPYTER_PATH COVERAGE_PROCESS_START COVERAGE_RCFILE NLTK_DATA",
          prefixes="PYTHON _PYTHON PIP_ PIPENV_ POETRY_ UV_ PDM_ CONDA_ PYTEST_"),
    _rule("Perl loads modules and takes options from these (PERL5OPT, PERL5LIB, PERLLIB, PERL5DB...)",
          prefixes="PERL"),
    _rule("Ruby loads libraries, gems and Gemfiles named by these", names="GEMRC JRUBY_OPTS",
          prefixes="RUBY GEM_ BUNDLE_ BUNDLER_"),
    _rule("Node.js and its package managers preload code, change module paths, registries or trust",
          prefixes="NODE_ NPM_CONFIG_ YARN_ COREPACK_ DENO_ BUN_"),
    _rule("Java and its build tools load agents, class paths and options that run code",
          names="CLASSPATH M2_HOME ANT_OPTS ANT_ARGS ANT_HOME SBT_OPTS", prefixes="JAVA _JAVA_ JDK_ GRADLE_ MAVEN_"),
    _rule("Lua runs LUA_INIT and loads modules from LUA_PATH / LUA_CPATH", prefixes="LUA_"),
    _rule("PHP reads php.ini (auto_prepend_file) from there", names="PHPRC PHP_INI_SCAN_DIR"),
    _rule("R runs profile files and loads libraries named by these",
          names="R_PROFILE R_PROFILE_USER R_ENVIRON R_ENVIRON_USER R_LIBS R_LIBS_USER R_LIBS_SITE R_HOME"),
    _rule(".NET and Mono load start-up hooks and profilers named by these",
          names="COR_ENABLE_PROFILING COR_PROFILER COR_PROFILER_PATH", prefixes="DOTNET_ COMPLUS_ CORECLR_ MONO_"),
    _rule("other interpreters load code from there (Tcl, Erlang, Guile, Julia, OCaml, awk, GObject)",
          names="TCLLIBPATH TCL_LIBRARY TK_LIBRARY ELIXIR_ERL_OPTIONS AWKPATH AWKLIBPATH OCAMLPATH OCAMLFIND_CONF "
                "GI_TYPELIB_PATH",
          prefixes="ERL_ GUILE_ JULIA_ CAML_"),
    _rule("they name the compiler, linker, flags or toolchain that building code runs (pip installing from "
          "source, make, go, cargo)",
          names="CC CXX CPP LD AR AS NM RANLIB STRIP OBJCOPY CFLAGS CXXFLAGS CPPFLAGS LDFLAGS LDSHARED LDCXXSHARED "
                "CONFIG_SITE PKG_CONFIG_PATH PKG_CONFIG_LIBDIR ACLOCAL_PATH GOFLAGS GOROOT GOPATH GOBIN GOENV "
                "GOTOOLCHAIN GOPROXY GOSUMDB GONOSUMDB GONOSUMCHECK GONOPROXY GOPRIVATE GOINSECURE GOCACHE "
                "GOMODCACHE RUSTFLAGS RUSTDOCFLAGS",
          prefixes="CGO_ CARGO_ RUSTUP_ RUSTC CCACHE_ DISTCC_ CMAKE_"),
    _rule("libraries load plug-ins (shared libraries) from there: GTK, GIO, GStreamer, Qt, graphics and audio",
          names="GIO_EXTRA_MODULES GIO_MODULE_DIR GTK_PATH GTK_MODULES GTK_EXE_PREFIX GTK_DATA_PREFIX "
                "GDK_PIXBUF_MODULE_FILE GDK_PIXBUF_MODULEDIR QT_PLUGIN_PATH QT_QPA_PLATFORM_PLUGIN_PATH "
                "LIBGL_DRIVERS_PATH LIBVA_DRIVERS_PATH LIBVA_DRIVER_NAME VDPAU_DRIVER_PATH OCL_ICD_FILENAMES "
                "OCL_ICD_VENDORS ALSA_CONFIG_PATH LADSPA_PATH LV2_PATH DSSI_PATH SANE_CONFIG_DIR "
                "__EGL_VENDOR_LIBRARY_FILENAMES __EGL_VENDOR_LIBRARY_DIRS __GLX_VENDOR_LIBRARY_NAME",
          prefixes="GST_ VK_"),
)


class RefusedEnvNames(ValueError):
    """A task's task_env holds names that are refused (a row saved before the rule): its run must not start."""

    def __init__(self, refused):
        self.refused = refused
        listed = "; ".join(f"{name} ({reason})" for name, reason in refused)
        super().__init__(f"task_env holds refused names: {listed}. Remove them from the task; an administrator "
                         "can set such variables for every run with SCHEDULER_TASK_ENV")


def refusal(name, value="") -> str | None:
    """Why task_env may not set `name` (to `value`), or None if it may."""
    if not isinstance(name, str) or not NAME.fullmatch(name):
        return INVALID_NAME
    upper = name.upper()
    if upper in ALLOWED:
        return None
    for rule in RULES:
        if rule.matches(upper):
            return rule.reason
    if (upper in LOCALE_NAMES or upper.startswith(LOCALE_PREFIX)) and not LOCALE_VALUE.fullmatch(str(value)):
        return LOCALE_REASON
    return None


def refused_env_names(env: dict) -> list[tuple[str, str]]:
    """[(name, reason)] for each name of `env` that task_env may not set, in the order of `env`."""
    found = [(name, refusal(name, value)) for name, value in (env or {}).items()]
    return [(name, reason) for name, reason in found if reason]


def check_task_env(env: dict) -> None:
    """RefusedEnvNames if `env` holds a refused name."""
    refused = refused_env_names(env)
    if refused:
        raise RefusedEnvNames(refused)


# ---- the README's table -----------------------------------------------------------------------------------------

def _shown(rule: Rule) -> list[str]:
    return ([f"`{n}`" for n in sorted(rule.names)] + [f"`{p}*`" for p in rule.prefixes]
            + [f"`*{s}`" for s in rule.suffixes])


def sample_names() -> list[str]:
    """Every exact name of the list and one name for each prefix and suffix: what the tests post."""
    names = [n for rule in RULES for n in sorted(rule.names)]
    names += [p + "X" for rule in RULES for p in rule.prefixes]
    names += [sample for rule in RULES for s in rule.suffixes for sample in ("HTTPS" + s, "http" + s.lower())]
    return names


def markdown_table() -> str:
    """The deny list as the README shows it (a test keeps the two equal)."""
    lines = ["| refused names | why |", "| --- | --- |"]
    lines += [f"| {', '.join(_shown(rule))} | {rule.reason} |" for rule in RULES]
    lines.append(f"| `LANG`, `LANGUAGE`, `{LOCALE_PREFIX}*` with a value outside `{LOCALE_VALUE.pattern}` | "
                 f"{LOCALE_REASON} |")
    return "\n".join(lines) + "\n"
