"""JSON typed into a form (the task form's and the admin's JSON fields): nested past Python's recursion limit,
json.loads raises RecursionError, a 500; this decoder turns it into the JSON error the form shows by the field."""
import json


class BoundedJSONDecoder(json.JSONDecoder):
    def decode(self, s, *args, **kwargs):
        try:
            return super().decode(s, *args, **kwargs)
        except RecursionError:
            raise json.JSONDecodeError("nested too deeply", s, 0) from None
