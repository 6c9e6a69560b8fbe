"""A crispy layout part: a collapsible section that opens by itself when a field inside has an error."""
from crispy_forms.layout import Div


class Collapsible(Div):
    template = "tasks/layout/collapsible.html"

    def __init__(self, legend, *fields, **kwargs):
        self.legend = legend
        super().__init__(*fields, **kwargs)
