"""Masking secret values: each secret, its base64 forms (standard and URL-safe, with and without padding) and its
URL-encoded forms become "***" in what a run writes, in the error message and notices, and wherever a task log is
read. A stream is masked as it goes: the last len(longest form) - 1 bytes are held back until more comes or the
stream ends, so a secret cut across two writes is still found whole. Pure: no files, no settings."""
import base64
import re
from urllib.parse import quote, quote_plus

MASK = "***"


def forms_of(secret: str) -> set[str]:
    """The ways `secret` is commonly written out: as it is, base64-encoded, URL-encoded."""
    raw = secret.encode("utf-8")
    forms = {secret}
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        encoded = encode(raw).decode("ascii")
        forms.update((encoded, encoded.rstrip("=")))
    for encoded in (quote(secret, safe=""), quote_plus(secret, safe=""), quote(secret)):
        forms.update((encoded, re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), encoded)))
    forms.discard("")
    return forms


class Masker:
    """Masks the given secret values (plain text) in bytes, in text, and in a stream fed piece by piece."""

    def __init__(self, secrets):
        forms = set()
        for secret in secrets:
            if isinstance(secret, str) and secret:
                forms |= forms_of(secret)
        # Longest first: where two forms start at one place, the longer one is masked whole.
        ordered = sorted(forms, key=lambda f: (-len(f.encode("utf-8")), f))
        self._text = re.compile("|".join(map(re.escape, ordered))) if ordered else None
        self._bytes = re.compile(b"|".join(re.escape(f.encode("utf-8")) for f in ordered)) if ordered else None
        self.hold = max((len(f.encode("utf-8")) for f in ordered), default=1) - 1
        self._pending = b""

    def __bool__(self):
        return self._text is not None

    def text(self, text: str) -> str:
        """`text` with every secret form replaced by ***."""
        return self._text.sub(MASK, text) if self._text is not None and text else text

    def bytes(self, data: bytes) -> bytes:
        """`data` (complete: not part of a stream) with every secret form replaced by ***."""
        return self._bytes.sub(MASK.encode(), data) if self._bytes is not None and data else data

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

    def flush(self) -> bytes:
        """The end of the stream: what was held back, masked."""
        rest, self._pending = self._pending, b""
        return self.bytes(rest)
