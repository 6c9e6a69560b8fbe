"""The output of a run whose task has secrets: the script writes into a pipe instead of the output file, and the
shepherd masks what comes before appending it to its own stdout (the output file), so no secret is ever stored,
not even one cut over two writes. The masker is the product's one (tasks_app/secrets/masking.py), loaded from
the file the spec names; a run without secrets loads nothing and writes straight into the file."""
import os
import sys

MODULE_NAME = "task_secrets_masking"


def load_masker(mask_spec):
    """The masker of the spec's secrets; its module is loaded as a file (the shepherd imports no package of
    the product) with the interpreter's own loader, which also uses the cached bytecode."""
    path = mask_spec["module"]
    loader = sys.modules["_frozen_importlib_external"].SourceFileLoader(MODULE_NAME, path)
    module = type(sys)(MODULE_NAME)
    module.__file__ = path
    sys.modules[MODULE_NAME] = module  # dataclasses and the like look their module up there
    loader.exec_module(module)
    return module.Masker(forms=mask_spec["forms"])


class MaskedOutput:
    def __init__(self, mask_spec):
        self.masker = load_masker(mask_spec)
        self.read_fd, self.write_fd = os.pipe2(os.O_CLOEXEC)

    def in_script(self):
        """In the script's process: stdout and stderr are the pipe."""
        os.dup2(self.write_fd, 1)
        os.dup2(self.write_fd, 2)

    def in_shepherd(self):
        """After the fork: only the run's processes hold the pipe, so it ends when the last of them is gone."""
        os.close(self.write_fd)
        self.write_fd = None
        os.set_blocking(self.read_fd, False)

    def pump(self) -> bool:
        """Mask and write what the pipe holds now; False once it is closed (every writer gone)."""
        while self.read_fd is not None:
            try:
                data = os.read(self.read_fd, 65536)
            except BlockingIOError:
                return True
            if not data:
                self._close()
                return False
            _write_all(1, self.masker.feed(data))
        return False

    def finish(self, wait: float):
        """After the run: what is left in the pipe, then the bytes held back, masked. A writer that survived
        the kill rounds is not waited for beyond `wait` seconds."""
        import select
        import time

        deadline = time.monotonic() + wait
        while self.read_fd is not None and self.pump():
            left = deadline - time.monotonic()
            if left <= 0:
                self._close()
                break
            poller = select.poll()
            poller.register(self.read_fd, select.POLLIN)
            poller.poll(left * 1000)
        # cut=True: a run ended (or killed) in the middle of writing a secret leaves its first part, masked too.
        _write_all(1, self.masker.flush(cut=True))

    def _close(self):
        if self.read_fd is not None:
            os.close(self.read_fd)
            self.read_fd = None


def _write_all(fd, data):
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view):]
        except OSError:  # the output file cannot take more (a file size limit, a full disk): drop the rest
            return
