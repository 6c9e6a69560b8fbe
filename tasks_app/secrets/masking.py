"""Masking secret values: each secret, its base64 forms (standard and URL-safe, with and without padding) and its
URL-encoded forms become "***" in what a run writes, in the error message and notices, and wherever a task log is
read. A stream is masked as it goes: the last len(longest form) - 1 bytes are held back until more comes or the
stream ends, so a secret cut across two writes is still found whole. Pure: no files, no settings."""
import re

MASK = "***"


def forms_of(secret: str) -> set[str]:
    """The ways `secret` is commonly written out: as it is, base64-encoded, URL-encoded."""
    import base64  # here, not at the top: a run's shepherd loads this module and is given the forms ready-made
    from urllib.parse import quote, quote_plus

    raw = secret.encode("utf-8")
    forms = {secret}
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        encoded = encode(raw).decode("ascii")
        forms.update((encoded, encoded.rstrip("=")))
    for encoded in (quote(secret, safe=""), quote_plus(secret, safe=""), quote(secret)):
        forms.update((encoded, re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), encoded)))
    forms.discard("")
    return forms


def all_forms(secrets) -> list[str]:
    """Every form of every secret, for a masker made elsewhere (Masker(forms=...))."""
    return sorted(set().union(*(forms_of(s) for s in secrets if isinstance(s, str) and s)))


class Masker:
    """Masks the given secret values (plain text) in bytes, in text, and in a stream fed piece by piece."""

    def __init__(self, secrets=(), *, forms=()):
        """`secrets`: the plain values; `forms`: every form to mask, already made (see all_forms)."""
        forms = set(forms)
        for secret in secrets:
            if isinstance(secret, str) and secret:
                forms |= forms_of(secret)
        # Longest first: where two forms start at one place, the longer one is masked whole.
        ordered = sorted(forms, key=lambda f: (-len(f.encode("utf-8")), f))
        self._forms = ordered
        self._byte_forms = [f.encode("utf-8") for f in ordered]
        self._text = re.compile("|".join(map(re.escape, ordered))) if ordered else None
        self._bytes = re.compile(b"|".join(re.escape(f.encode("utf-8")) for f in ordered)) if ordered else None
        self.hold = max((len(f.encode("utf-8")) for f in ordered), default=1) - 1
        self._pending = b""

    def __bool__(self):
        return self._text is not None

    def text(self, text: str, cut: bool = False) -> str:
        """`text` with every secret form replaced by ***. `cut`: the text stops where more may follow (a line
        still being written, a line cut short), so an end that begins a secret form is masked too."""
        if self._text is None or not text:
            return text
        masked = self._text.sub(MASK, text)
        return _mask_started_form(masked, self._forms, MASK) if cut else masked

    def bytes(self, data: bytes, cut: bool = False) -> bytes:
        """`data` with every secret form replaced by ***; `cut` as for text()."""
        if self._bytes is None or not data:
            return data
        masked = self._bytes.sub(MASK.encode(), data)
        return _mask_started_form(masked, self._byte_forms, MASK.encode()) if cut else masked

    def feed(self, data: bytes) -> bytes:
        """The masked bytes of the stream that can be given out now; the rest waits for the next feed or flush."""
        buffer = self._pending + data
        if self._bytes is None:
            self._pending = b""
            return buffer
        # A match starting before `decided` has all the bytes of the longest form after it, so it is final.
        decided = len(buffer) - self.hold
        out, position = [], 0
        for match in self._bytes.finditer(buffer):
            if match.start() >= decided:
                break
            out += [buffer[position:match.start()], MASK.encode()]
            position = match.end()
        end = max(position, decided)
        out.append(buffer[position:end])
        self._pending = buffer[end:]
        return b"".join(out)

    def flush(self, cut: bool = False) -> bytes:
        """The end of the stream: what was held back, masked. `cut`: the stream may go on later (a file still
        being written), so an end that begins a secret form is masked too."""
        rest, self._pending = self._pending, b""
        return self.bytes(rest, cut=cut)

    def stream(self, chunks, cut: bool = True):
        """The masked pieces of an iterable of byte chunks (a file being downloaded); by default the end is
        treated as cut, since the file may still be growing."""
        for chunk in chunks:
            out = self.feed(chunk)
            if out:
                yield out
        rest = self.flush(cut=cut)
        if rest:
            yield rest


def _longest_border(form, tail) -> int:
    """The length of the longest end of `tail` that is a beginning (shorter than the whole) of `form`: the
    prefix function of form + separator + tail, linear in their lengths."""
    sequence = list(form) + [None] + list(tail)
    border = [0] * len(sequence)
    for i in range(1, len(sequence)):
        k = border[i - 1]
        while k and sequence[i] != sequence[k]:
            k = border[k - 1]
        if sequence[i] == sequence[k]:
            k += 1
        border[i] = k
    return min(border[-1], len(form) - 1) if tail else 0


def _mask_started_form(data, forms, mask):
    """`data` whose end begins one of `forms` (a secret cut by the end of what was read): that end masked."""
    longest = 0
    for form in forms:
        if len(form) > 1:
            longest = max(longest, _longest_border(form, data[-(len(form) - 1):]))
    return data[:len(data) - longest] + mask if longest else data


def chunks_of(handle, size: int = 64 * 1024):
    """The blocks of an open binary file, closed at the end: what Masker.stream() masks for a download."""
    with handle:
        while True:
            data = handle.read(size)
            if not data:
                return
            yield data


def masked_body(handle, masker):
    """What a download sends: the open file itself when there is nothing to mask (the server streams it as it
    is), else its blocks masked on the way."""
    return masker.stream(chunks_of(handle)) if masker else handle
