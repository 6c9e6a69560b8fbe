"""Fixtures of the operators' view tests (tags, bulk actions, pauses, the dashboard): the page tests' users and
tasks, and the API's keys and clients."""
from tests.api.conftest import client_as, fast_passwords, keys  # noqa: F401
from tests.web.conftest import (  # noqa: F401
    admin_user,
    as_admin,
    as_operator,
    as_viewer,
    make_task,
    operator,
    viewer,
)
