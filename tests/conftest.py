import os
import secrets
import signal

import pytest

# Tests never reach a hub: fail at once instead of retrying for ~23 s.
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# Ray keeps token authentication on in the tests too: a local instance rnnbench starts gets
# a token made for the run (rnnbench.executors._local_ray_safety); tests that start Ray
# themselves use this one.
os.environ.setdefault("RAY_AUTH_MODE", "token")
if not os.environ.get("RAY_AUTH_TOKEN_PATH"):
    os.environ.setdefault("RAY_AUTH_TOKEN", secrets.token_hex(32))


@pytest.fixture(autouse=True)
def _restore_environment():
    """Each test starts from the same environment: code under test (a Ray executor's safety
    settings, a worker's thread pinning) may set variables in this process, and a later
    test's subprocess would inherit them."""
    saved = dict(os.environ)
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    yield
    os.environ.clear()
    os.environ.update(saved)
    for sig, handler in handlers.items():  # and the signal handlers (Ray installs its own)
        if handler is not None:
            signal.signal(sig, handler)
