"""The API's JSON parser: DRF's, refusing also a string that holds a lone UTF-16 surrogate ("\ud800" is valid JSON
but no character; UTF-8, hence every database, refuses it, so it would end as a 500 wherever it is stored) and a
body nested deeper than Python's recursion limit (a RecursionError, a 500, before)."""
import json

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class StrictJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:  # "[[[[...": a small body can go past Python's recursion limit
            raise ParseError("JSON parse error - the body is nested too deeply.") from None
        try:
            # The body is at most REQUEST_MAX_BODY_BYTES: encoding it again costs little.
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except RecursionError:
            raise ParseError("JSON parse error - the body is nested too deeply.") from None
        except UnicodeEncodeError as exc:
            text = exc.object
            around = text[max(0, exc.start - 30):exc.end + 10]
            raise ParseError(f"JSON parse error - {text[exc.start:exc.end]!r} is a lone surrogate, not a character "
                             f"(in …{around!r}…).") from None
        return data
